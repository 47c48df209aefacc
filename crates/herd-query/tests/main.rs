//! Report math on small hand-built datasets, with the expected numbers worked out by hand.

mod accounts;
mod cohorts;
mod engagement;
mod funnel;
mod funnel_reference;
mod histogram;
mod retention;
mod retention_reference;
mod segmentation;
mod support;

//! Router-level tests: requests go through the real axum router and store, in process, and the response bodies
//! are compared with snapshots.

mod accounts;
mod cohorts;
mod journeys;
mod openapi;
mod reports;
mod rest;
mod routes;

//! Herd's aggregate functions over one unit's time-ordered events (a user's, or a group value's members'), one
//! file per function as in DataFusion: `herd_funnel` ([`funnel`]) and `herd_retention` ([`retention`]). They share
//! the buffering accumulators in [`stream`]; memory is the compact `(ts, seq, mask, label)` rows of the units
//! in flight, never whole events.

pub(crate) mod funnel;
pub(crate) mod funnel_steps;
pub(crate) mod retention;
pub(crate) mod stream;

pub(crate) use funnel_steps::IN_RANGE;

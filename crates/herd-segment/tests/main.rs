//! Integration tests of herd-segment through its public API: payload fixtures with snapshots of the resulting
//! commands, the bad-input table, and properties that hold for any input.

mod bad_input;
mod fixtures;
mod properties;
mod render;

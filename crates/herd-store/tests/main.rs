//! Integration tests of the store: semantics of identity, groups and stamping; durability across reopen; flushing.

mod semantics;

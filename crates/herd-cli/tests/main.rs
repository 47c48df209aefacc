//! End-to-end tests of the `herd` binary: real processes, real sockets, real vendor SDKs.

// Test modules share helpers through `pub` items; there is no library API here to keep tidy.
#![allow(unreachable_pub)]

mod support;

mod amplitude_sdk;
mod analytics_js;
mod bad_input;
mod cli;
mod crash;
mod demo;
mod rest_client;
mod seed_requests;
mod segment_http;
mod segment_sdks;

//! Reliability at volume and under stress: bad input of every kind, injected faults, token
//! outages, a restarting server, the polling schedule's economy and the client's memory.
//!
//! One test binary for the area (each module below was a binary of its own): every binary links
//! the whole crate, so fewer binaries build and link much faster. `memory` installs this
//! binary's global allocator, a counting one, and runs its test alone in its own process.

#[path = "../support/mod.rs"]
mod support;

mod auth;
mod bad_input;
mod bad_input_limits;
mod bad_input_props;
mod faults;
mod memory;
mod polling;
mod restart;

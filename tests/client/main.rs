//! `JobClient` and what it builds and reads: job requests, batch input files and predictions
//! files, calls against the emulator under faults, and the spans each call leaves.
//!
//! One test binary for the area (each module below was a binary of its own): every binary links
//! the whole crate, so fewer binaries build and link much faster. `batch_file_memory` installs
//! this binary's global allocator, a counting one; its test and `rpc_spans`' run alone, each
//! in a process of its own (`support::isolation`).

#[path = "../support/mod.rs"]
mod support;

mod batch_file;
mod batch_file_memory;
mod builder;
mod faults;
mod golden;
mod lifecycle;
mod rpc_spans;

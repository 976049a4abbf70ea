//! The embedded emulator through the generated stubs (and through `JobClient` for its local
//! gs:// folder): the job lifecycle, validation, listing, cancel and delete, faults, the token
//! endpoint, and the standalone `vertex-batch-emulator` binary.
//!
//! One test binary for the area (each module below was a binary of its own): every binary links
//! the whole crate, so fewer binaries build and link much faster.

#[path = "../support/mod.rs"]
mod support;

mod auth;
mod binary;
mod cancel_delete;
mod faults;
mod gcs_folder;
mod lifecycle;
mod list;
mod rest;
mod truth;
mod validation;

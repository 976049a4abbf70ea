//! The wire under `JobClient`: the generated code over real TCP, and `AuthChannel`'s tokens,
//! headers, TLS and environment.
//!
//! One test binary for the area (each module below was a binary of its own): every binary links
//! the whole crate, so fewer binaries build and link much faster. `env` changes the process
//! environment, so its test runs alone in its own process.

#[path = "../support/mod.rs"]
mod support;

mod auth;
mod env;
mod generated_roundtrip;
mod headers;
mod tls;

//! Helpers shared by the test binaries, one concern a file. Every binary (`tests/<area>/main.rs`)
//! includes this one module with `#[path = "../support/mod.rs"] mod support;` and uses the part it
//! needs; keeping one copy here, rather than one per binary, keeps the helpers from drifting.

pub mod bigquery;
pub mod client;
pub mod isolation;
pub mod process;
pub mod proxy;
pub mod reference;
pub mod rest;
pub mod stub;
pub mod transport;

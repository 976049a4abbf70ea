//! The programs a user runs, run as such: the `vertex-batch` command line against an emulator,
//! and every example with `--emulator`.
//!
//! One test binary for the area (each module below was a binary of its own): every binary links
//! the whole crate, so fewer binaries build and link much faster.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod cli_apart;
mod cli_args;
mod cli_checks;
mod cli_create;
mod cli_emulator;
mod cli_files;
mod cli_golden;
mod cli_input;
mod cli_jobs;
mod cli_lasting;
mod cli_output;
mod cli_results;
mod cli_run;
mod cli_run_tables;
mod cli_secrets;
mod cli_truth;
mod cli_truth_flags;
mod cli_words;
mod examples;

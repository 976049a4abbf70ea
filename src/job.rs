//! Batch prediction jobs: the [`BatchJobBuilder`] that makes a validated
//! `v1::BatchPredictionJob`, and helpers to read a job's state, progress and results.

mod builder;
mod display_name;
mod state;
mod uri;

pub use builder::{BatchJob, BatchJobBuilder, REQUEST_ID_LABEL};
pub use state::{BatchPredictionJobExt, JobStateExt, OutputLocation, Progress};

//! Batch prediction jobs: [`BatchPredictionJob::builder`](crate::v1::BatchPredictionJob::builder)
//! makes a validated `v1::BatchPredictionJob`; inherent methods on it and on `v1::JobState` read
//! a job's state, progress and results, with no trait to import.

mod builder;
mod display_name;
mod inspect;
mod output_location;
mod progress;
mod state;
pub(crate) mod uri;

#[cfg(any(feature = "emulator", feature = "storage"))]
pub(crate) use builder::label_problem;
pub use builder::{BatchJobBuilder, REQUEST_ID_LABEL};
pub use output_location::OutputLocation;
pub use progress::Progress;

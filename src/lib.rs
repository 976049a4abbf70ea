//! A gRPC client for Vertex AI batch prediction (`google.cloud.aiplatform.v1.JobService`).
#![deny(missing_docs)]

pub mod auth;
mod call;
mod client;
mod create;
pub mod endpoint;
#[cfg(feature = "emulator")]
pub mod emulator;
mod error;
#[cfg(feature = "json")]
pub mod json;
pub mod job;
mod list;
pub mod names;
pub mod params;
pub mod proto;
mod retry;
pub mod routing;
pub mod transport;
mod wait;

pub use error::{Error, Result};
pub use job::{
    BatchJob, BatchJobBuilder, BatchPredictionJobExt, JobStateExt, OutputLocation, Progress,
    REQUEST_ID_LABEL,
};
pub use names::{BatchPredictionJobName, LocationName, ModelName};
pub use params::GenerationConfig;
pub use proto::FILE_DESCRIPTOR_SET;
pub use proto::google::cloud::aiplatform::v1;
pub use retry::RetryPolicy;
pub use wait::WaitOptions;
pub use client::{JobClient, JobClientBuilder};
pub use list::{JobFilter, JobPage};

//! A gRPC client for Vertex AI batch prediction (`google.cloud.aiplatform.v1.JobService`).
#![deny(missing_docs)]

pub mod batch_file;
mod error;
pub mod job;
pub mod names;
pub mod params;
pub mod proto;
mod retry;

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

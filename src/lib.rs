//! A gRPC client for Vertex AI batch prediction (`google.cloud.aiplatform.v1.JobService`).
#![deny(missing_docs)]

mod error;
mod retry;
#[cfg(feature = "json")]
pub mod json;
pub mod proto;

pub use error::{Error, Result};
pub use retry::RetryPolicy;
pub use proto::FILE_DESCRIPTOR_SET;
pub use proto::google::cloud::aiplatform::v1;

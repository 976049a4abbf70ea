//! A gRPC client for Vertex AI batch prediction (`google.cloud.aiplatform.v1.JobService`).
#![deny(missing_docs)]

pub mod auth;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod endpoint;
mod error;
pub mod proto;
pub mod routing;
pub mod transport;

pub use error::{Error, Result};
pub use proto::FILE_DESCRIPTOR_SET;
pub use proto::google::cloud::aiplatform::v1;

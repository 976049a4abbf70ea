//! A gRPC client for Vertex AI batch prediction (`google.cloud.aiplatform.v1.JobService`).
//!
//! Submit a Gemini batch job, wait for it to end and find its output, in a few lines. This is
//! the documented Go sample (Cloud Storage input, temperature 0.2, maxOutputTokens 200):
//!
//! ```no_run
//! use vertex_batch::{GenerationConfig, JobClient, v1::BatchPredictionJob};
//!
//! # async fn run() -> vertex_batch::Result<()> {
//! // Application Default Credentials, the regional endpoint us-central1-aiplatform.googleapis.com:443.
//! let client = JobClient::builder()
//!     .with_project("my-project")
//!     .with_location("us-central1")
//!     .connect()
//!     .await?;
//!
//! let job = client
//!     .create(
//!         BatchPredictionJob::builder("gemini-2.0-flash-001")
//!             .with_input("gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl")
//!             .with_output("gs://my-bucket/batch-output")
//!             .with_generation_config(
//!                 GenerationConfig::new().with_temperature(0.2).with_max_output_tokens(200),
//!             ),
//!     )
//!     .await?;
//! println!("created {}", job.name);
//!
//! let job = client.wait(&job.name).await?;
//! println!("{:?}; output in {:?}", job.state(), job.output_location());
//! # Ok(())
//! # }
//! ```
//!
//! # What is here
//!
//! - [`JobClient`]: create (exactly once), get, list (a stream across pages), cancel, delete and
//!   wait for batch prediction jobs, with retries ([`RetryPolicy`]), polling that grows
//!   ([`WaitOptions`]) and one [`Error`] type whose messages say what to do (naming functions,
//!   or with [`Audience::CommandLine`] the `vertex-batch` flags); bad input says which setting
//!   or input is at fault as a typed [`error::Field`] ([`Error::field`]).
//! - [`v1::BatchPredictionJob::builder`]: the job builder ([`BatchJobBuilder`]); model names,
//!   `gs://` and `bq://` URIs, labels and [`GenerationConfig`] are checked before any call.
//!   Inherent methods on [`v1::BatchPredictionJob`] and [`v1::JobState`] read a job: state,
//!   progress ([`Progress`]), where the output is ([`OutputLocation`]), how it ended; no trait
//!   to import. `JobState` parses from `running`, `JOB_STATE_RUNNING`, `partially-succeeded`, ...
//! - [`transport::AuthChannel`]: the authenticated channel ([`endpoint`], [`auth`]) any
//!   generated client can use; [`routing`] adds the routing header to raw requests.
//! - [`v1`] and [`proto`]: the generated messages and `JobServiceClient`, for every other RPC.
//! - [`params`]: `serde_json` ↔ `google.protobuf.Value` conversions; [`names`]: resource names.
//! - [`env`](mod@env): the environment variables read (`GOOGLE_CLOUD_PROJECT`, `GOOGLE_CLOUD_LOCATION`,
//!   `GOOGLE_CLOUD_QUOTA_PROJECT`), and the one rule every builder applies to them.
//! - Feature `json`: `json`, proto3 JSON for jobs (the REST API's shape).
//! - Feature `storage`: `storage`, Cloud Storage (resumable uploads, streamed downloads,
//!   listing by prefix) with the crate's own tokens, honouring `STORAGE_EMULATOR_HOST`.
//! - Feature `storage`: `run`, batch runs: a stream of requests in, results joined in input
//!   order out, sharded, retried and resumable.
//! - Feature `emulator`: `emulator`, an in-memory JobService over real gRPC (and REST, on the
//!   same port) for offline development and tests.
//!
//! # Job states
//!
//! A job has ended in SUCCEEDED, FAILED, CANCELLED, EXPIRED and PARTIALLY_SUCCEEDED
//! ([`v1::JobState::has_ended`]). PAUSED has not ended: the job resumes, and a wait goes on.
#![deny(missing_docs)]
// docs.rs builds with every feature and `--cfg docsrs`: feature-gated items carry a badge.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
pub mod batch_file;
#[cfg(feature = "bigquery")]
#[cfg_attr(docsrs, doc(cfg(feature = "bigquery")))]
pub mod bigquery;
mod client;
#[cfg(feature = "emulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "emulator")))]
pub mod emulator;
pub mod endpoint;
pub mod env;
pub mod error;
#[cfg(feature = "storage")]
mod http_service;
pub mod job;
#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
pub mod json;
pub mod names;
pub mod params;
pub mod proto;
pub mod routing;
#[cfg(feature = "storage")]
#[cfg_attr(docsrs, doc(cfg(feature = "storage")))]
pub mod run;
#[cfg(any(feature = "storage", feature = "emulator"))]
mod scan;
#[cfg(feature = "storage")]
#[cfg_attr(docsrs, doc(cfg(feature = "storage")))]
pub mod storage;
pub mod transport;

pub use client::{JobClient, JobClientBuilder, JobFilter, JobPage, RetryPolicy, WaitOptions};
pub use error::{Audience, Error, Result, TransportFailure};
pub use job::{BatchJobBuilder, OutputLocation, Progress, REQUEST_ID_LABEL};
pub use names::{BatchPredictionJobName, LocationName, ModelName};
pub use params::GenerationConfig;
pub use proto::FILE_DESCRIPTOR_SET;
pub use proto::google::cloud::aiplatform::v1;

//! Batch runs (feature `storage`): a file of prompts in, every answer joined to its prompt out,
//! at any size.
//!
//! A Gemini batch job takes at most 200,000 requests from input files of at most 1 GB, waits in
//! the queue up to 72 hours before it EXPIRES, and writes its rows in no particular order, some
//! failed with a transient 429 or 503 (cloud.google.com/vertex-ai/generative-ai/docs/multimodal/batch-prediction-gemini).
//! [`BatchRun`] does what a user with 300,000 prompts otherwise does by hand: it stages the
//! requests as shards in Cloud Storage, creates one job per shard (at most so many not yet
//! ended), waits for them while reporting progress across them, reads every output file as a
//! stream, joins each row to its request by a row id it put in the request's `labels`, sends the
//! rows that failed with a transient status (or that an expired, cancelled or partly successful
//! job left undone) again in follow-up rounds, and gives every result in input order with the
//! token counts summed. A manifest in the staging prefix, written after every step, lets the
//! same run started again resume where it stopped: no second job for a shard and round, no lost
//! or doubled result.
//!
//! Memory does not grow with prompt or answer sizes: requests stream to the uploads, outputs
//! stream from the downloads, and the join keeps 16 bytes per row; the keys and the output
//! lines it keeps wait in local scratch files ([`BatchRun::with_work_dir`]).
//!
//! ```no_run
//! # async fn run() -> vertex_batch::Result<()> {
//! use futures_util::TryStreamExt;
//! use vertex_batch::run::{BatchRun, InputFormat, InputLines};
//! use vertex_batch::storage::Storage;
//! use vertex_batch::{GenerationConfig, JobClient};
//!
//! let client = JobClient::builder().with_project("my-project").connect().await?;
//! let storage = Storage::builder().with_tokens_of(client.channel()).build()?;
//! let requests = InputLines::open("prompts.jsonl", InputFormat::Jsonl)?.into_stream();
//! let mut results = BatchRun::new(client, storage, "gemini-2.0-flash-001", "gs://my-bucket/runs/1".parse()?)
//!     .with_generation_config(GenerationConfig::new().with_temperature(0.2))
//!     .with_progress(|p| eprintln!("round {}: {} answered, {} failed", p.round, p.answered, p.failed))
//!     .run(requests)
//!     .await?;
//! println!("{:?}", results.summary());
//! while let Some(row) = results.try_next().await? {
//!     match row.outcome {
//!         Ok(answer) => println!("{}: {}", row.key, answer.text.unwrap_or_default()),
//!         Err(error) => println!("{}: failed ({} {})", row.key, error.code, error.message),
//!     }
//! }
//! # Ok(()) }
//! ```

mod builder;
mod collect;
mod driver;
mod files;
mod fingerprint;
mod input;
mod isolate;
mod jobs;
mod label;
mod layout;
mod lease;
mod lines;
mod manifest;
mod progress;
mod request;
mod restage;
mod results;
mod rounds;
mod rows;
mod spool;
mod stage;
mod status;
#[cfg(feature = "bigquery")]
mod tables;
mod task;
mod unique;
mod view;

pub use builder::{
    BatchRun, DEFAULT_MAX_BYTES_PER_FILE, DEFAULT_MAX_REQUESTS_PER_JOB, DEFAULT_MAX_RUNNING_JOBS,
    DEFAULT_QUEUE_DEADLINE, DEFAULT_RETRY_ROUNDS, MAX_BYTES_PER_FILE, MAX_REQUESTS_PER_JOB,
    MAX_RETRY_ROUNDS, MIN_BYTES_PER_FILE,
};
pub use input::{InputFormat, InputLines};
pub use label::ROW_LABEL;
pub use layout::RUN_LABEL;
pub use lease::{DEFAULT_LEASE_TTL, LeaseHolder};
pub use progress::{JobProgress, RunPhase, RunProgress};
pub use request::RunRequest;
pub use results::{Answer, RowError, RowResult, RunResults, RunSummary};
#[cfg(feature = "bigquery")]
pub use tables::Tables;
pub use view::{JobView, RoundView, RunView};

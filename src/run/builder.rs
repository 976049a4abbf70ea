//! [`BatchRun`]: what a run needs and its limits.

use std::path::PathBuf;
use std::sync::Arc;

use futures_util::Stream;

use super::progress::{ProgressFn, RunProgress};
use super::{RunRequest, RunResults};
use crate::client::JobClient;
use crate::error::{Error, Result};
use crate::params::GenerationConfig;
use crate::storage::{ObjectUri, Storage};

/// Requests per Gemini batch job, the service's limit ("Batch prediction quotas and limits",
/// cloud.google.com/vertex-ai/generative-ai/docs/multimodal/batch-prediction-gemini).
pub const MAX_REQUESTS_PER_JOB: u64 = 200_000;

/// Bytes per input file, the service's limit of 1 GB per file (same page); a job may read
/// several files.
pub const MAX_BYTES_PER_FILE: u64 = 1_000_000_000;

/// The fewest bytes per staged input file: room for a request.
pub const MIN_BYTES_PER_FILE: u64 = 1024;

/// Requests per job unless told otherwise: the service's limit.
pub const DEFAULT_MAX_REQUESTS_PER_JOB: u64 = MAX_REQUESTS_PER_JOB;

/// Bytes per input file unless told otherwise: the service's limit.
pub const DEFAULT_MAX_BYTES_PER_FILE: u64 = MAX_BYTES_PER_FILE;

/// Jobs not yet ended at a time: the service runs at most 8 Gemini batch jobs of a project at
/// once and queues the rest ("Concurrent batch prediction request limits",
/// cloud.google.com/vertex-ai/generative-ai/docs/batch-prediction), where a queued job counts
/// towards its 72 hours before it EXPIRES.
pub const DEFAULT_MAX_RUNNING_JOBS: usize = 8;

/// Follow-up rounds for rows that failed with a transient status or were left undone.
pub const DEFAULT_RETRY_ROUNDS: u8 = 2;

/// The most follow-up rounds a run takes.
pub const MAX_RETRY_ROUNDS: u8 = 100;

/// A batch run: a stream of requests in, every result joined to its request out, in input
/// order, at any size.
///
/// The run stages the requests as shards in `gs://BUCKET/PREFIX` (at most
/// [`with_max_requests_per_job`](Self::with_max_requests_per_job) requests per job, files of at
/// most [`with_max_bytes_per_file`](Self::with_max_bytes_per_file)), creates one job per shard
/// with at most [`with_max_running_jobs`](Self::with_max_running_jobs) not yet ended, reads each
/// job's output as it ends, sends the rows that failed with a transient status (or that a job
/// left undone) again in up to [`with_retry_rounds`](Self::with_retry_rounds) follow-up rounds,
/// and gives the results in input order. Its manifest in the staging prefix lets the same run,
/// started again with the same input, resume where it stopped without a second job for any
/// shard. See the [module docs](super) for an example.
#[must_use = "a run does nothing until run() is called"]
pub struct BatchRun {
    pub(crate) client: JobClient,
    pub(crate) storage: Storage,
    pub(crate) model: String,
    pub(crate) staging: ObjectUri,
    pub(crate) generation_config: GenerationConfig,
    pub(crate) max_requests_per_job: u64,
    pub(crate) max_bytes_per_file: u64,
    pub(crate) max_running_jobs: usize,
    pub(crate) retry_rounds: u8,
    pub(crate) work_dir: Option<PathBuf>,
    pub(crate) progress: Option<ProgressFn>,
}

impl BatchRun {
    /// A run of `model` (as [`BatchPredictionJob::builder`](crate::v1::BatchPredictionJob::builder) takes it) through
    /// `client` (the location its jobs go to), staging in `staging` through `storage`.
    ///
    /// ```no_run
    /// # async fn run(client: vertex_batch::JobClient, storage: vertex_batch::storage::Storage) -> vertex_batch::Result<()> {
    /// use vertex_batch::run::BatchRun;
    ///
    /// let run = BatchRun::new(client, storage, "gemini-2.0-flash-001", "gs://my-bucket/runs/1".parse()?)
    ///     .with_max_running_jobs(4)
    ///     .with_retry_rounds(3);
    /// # let _ = run; Ok(()) }
    /// ```
    pub fn new(
        client: JobClient,
        storage: Storage,
        model: impl Into<String>,
        staging: ObjectUri,
    ) -> Self {
        BatchRun {
            client,
            storage,
            model: model.into(),
            staging,
            generation_config: GenerationConfig::new(),
            max_requests_per_job: DEFAULT_MAX_REQUESTS_PER_JOB,
            max_bytes_per_file: DEFAULT_MAX_BYTES_PER_FILE,
            max_running_jobs: DEFAULT_MAX_RUNNING_JOBS,
            retry_rounds: DEFAULT_RETRY_ROUNDS,
            work_dir: None,
            progress: None,
        }
    }

    /// Generation settings for every job (the job's `model_parameters`).
    pub fn with_generation_config(mut self, config: GenerationConfig) -> Self {
        self.generation_config = config;
        self
    }

    /// Requests per job (default 200,000, the service's limit).
    pub fn with_max_requests_per_job(mut self, requests: u64) -> Self {
        self.max_requests_per_job = requests;
        self
    }

    /// Bytes per staged input file (default 1 GB, the service's limit).
    pub fn with_max_bytes_per_file(mut self, bytes: u64) -> Self {
        self.max_bytes_per_file = bytes;
        self
    }

    /// Jobs not yet ended at a time (default 8).
    pub fn with_max_running_jobs(mut self, jobs: usize) -> Self {
        self.max_running_jobs = jobs;
        self
    }

    /// Follow-up rounds for rows to try again (default 2; 0 for none).
    pub fn with_retry_rounds(mut self, rounds: u8) -> Self {
        self.retry_rounds = rounds;
        self
    }

    /// Where the run keeps its local scratch files (the keys, the output lines it keeps;
    /// default the system's temporary folder). They go when the results are dropped.
    pub fn with_work_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.work_dir = Some(dir.into());
        self
    }

    /// Called with a [`RunProgress`] after every step and every round of polls.
    pub fn with_progress(mut self, report: impl Fn(&RunProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(report));
        self
    }

    /// Runs: stages `requests`, runs the jobs, follows up the rows to try again, and gives the
    /// results once every job has ended. Bad input (a request that is not a JSON object, a
    /// duplicate key, a bad setting) is an error before any job is created.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for bad input or settings, or a staging prefix holding another
    /// run; the errors of [`JobClient`] and [`Storage`] calls, after their own retries (the run
    /// can be started again and resumes).
    pub async fn run<S>(self, requests: S) -> Result<RunResults>
    where
        S: Stream<Item = Result<RunRequest>> + Send,
    {
        self.check()?;
        super::driver::drive(self, requests).await
    }

    fn check(&self) -> Result<()> {
        if self.max_requests_per_job == 0 {
            return Err(Error::invalid(
                "max_requests_per_job",
                "0: a job needs at least 1 request (the service takes up to 200,000)",
            ));
        }
        if self.max_requests_per_job > MAX_REQUESTS_PER_JOB {
            return Err(Error::invalid(
                "max_requests_per_job",
                format!(
                    "{}: the service takes at most 200,000 requests in a job",
                    self.max_requests_per_job
                ),
            ));
        }
        if self.max_bytes_per_file < MIN_BYTES_PER_FILE {
            return Err(Error::invalid(
                "max_bytes_per_file",
                format!(
                    "{}: an input file needs room for at least one request (1 KiB or more; the \
                     service takes up to 1 GB)",
                    self.max_bytes_per_file
                ),
            ));
        }
        if self.max_bytes_per_file > MAX_BYTES_PER_FILE {
            return Err(Error::invalid(
                "max_bytes_per_file",
                format!(
                    "{}: the service reads input files of at most 1 GB ({MAX_BYTES_PER_FILE} \
                     bytes)",
                    self.max_bytes_per_file
                ),
            ));
        }
        if self.max_running_jobs == 0 {
            return Err(Error::invalid(
                "max_running_jobs",
                "0: at least 1 job must be allowed to run",
            ));
        }
        if self.retry_rounds > MAX_RETRY_ROUNDS {
            return Err(Error::invalid(
                "retry_rounds",
                format!("{}: at most {MAX_RETRY_ROUNDS}", self.retry_rounds),
            ));
        }
        if self.staging.name().ends_with(".jsonl") || self.staging.name().ends_with(".json") {
            return Err(Error::invalid(
                "staging",
                format!(
                    "{}: the staging location is a prefix (a folder) for the run's files, not a file",
                    self.staging
                ),
            ));
        }
        Ok(())
    }
}

impl std::fmt::Debug for BatchRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchRun")
            .field("model", &self.model)
            .field("staging", &self.staging)
            .field("max_requests_per_job", &self.max_requests_per_job)
            .field("max_bytes_per_file", &self.max_bytes_per_file)
            .field("max_running_jobs", &self.max_running_jobs)
            .field("retry_rounds", &self.retry_rounds)
            .finish_non_exhaustive()
    }
}

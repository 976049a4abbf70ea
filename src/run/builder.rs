//! [`BatchRun`]: what a run needs and its limits.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;

use super::layout::Layout;
use super::lease::{DEFAULT_LEASE_TTL, LeaseOptions};
use super::progress::{ProgressFn, RunProgress};
use super::{RunRequest, RunResults};
use crate::client::{JobClient, WaitOptions};
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

/// How long a job may wait in the queue before the run cancels it and sends its rows again
/// (default): the service's own limit, after which it EXPIRES the job ("a job queues up to 72
/// hours", cloud.google.com/vertex-ai/generative-ai/docs/multimodal/batch-prediction-gemini).
/// A shorter deadline gets rows out of a job stuck in the queue sooner.
pub const DEFAULT_QUEUE_DEADLINE: Duration = Duration::from_secs(72 * 3600);

/// What a run is made with: everything but the clients and the callbacks. The driver reads
/// this one value.
#[derive(Clone, Debug)]
pub(crate) struct RunConfig {
    pub(crate) model: String,
    pub(crate) layout: Layout,
    pub(crate) generation_config: GenerationConfig,
    pub(crate) max_requests_per_job: u64,
    pub(crate) max_bytes_per_file: u64,
    pub(crate) max_running_jobs: usize,
    pub(crate) retry_rounds: u8,
    pub(crate) work_dir: Option<PathBuf>,
    pub(crate) queue_deadline: Duration,
    pub(crate) run_deadline: Option<Duration>,
    pub(crate) lease: LeaseOptions,
    pub(crate) wait: WaitOptions,
    /// End the run for good: cancel its live jobs, create none, give what was gathered.
    pub(crate) end: bool,
    /// Refuse a line the service's import would refuse, before any job (`isolate.rs`).
    pub(crate) refuse_unimportable: bool,
    /// Join without checking echoed requests (only to measure what the check costs).
    pub(crate) unchecked_join: bool,
}

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
/// shard; its lease there keeps a second process off the run while the first one lives. See
/// the [module docs](super) for an example.
#[must_use = "a run does nothing until run() is called"]
pub struct BatchRun {
    pub(crate) client: JobClient,
    pub(crate) storage: Storage,
    pub(crate) config: RunConfig,
    pub(crate) progress: Option<ProgressFn>,
    pub(crate) stop: Option<StopSignal>,
    pub(crate) clock: Clock,
}

/// Where a run reads the time of day.
pub(crate) type Clock = Arc<dyn Fn() -> std::time::SystemTime + Send + Sync>;

/// A future that asks a run to stop.
pub(crate) type StopSignal = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

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
        let wait = client.wait_options().clone();
        BatchRun {
            client,
            storage,
            config: RunConfig {
                model: model.into(),
                layout: Layout::new(staging),
                generation_config: GenerationConfig::new(),
                max_requests_per_job: DEFAULT_MAX_REQUESTS_PER_JOB,
                max_bytes_per_file: DEFAULT_MAX_BYTES_PER_FILE,
                max_running_jobs: DEFAULT_MAX_RUNNING_JOBS,
                retry_rounds: DEFAULT_RETRY_ROUNDS,
                work_dir: None,
                queue_deadline: DEFAULT_QUEUE_DEADLINE,
                run_deadline: None,
                lease: LeaseOptions {
                    ttl: DEFAULT_LEASE_TTL,
                    wait: false,
                },
                wait,
                end: false,
                refuse_unimportable: false,
                unchecked_join: false,
            },
            progress: None,
            stop: None,
            clock: Arc::new(std::time::SystemTime::now),
        }
    }

    /// Generation settings for every job (the job's `model_parameters`).
    pub fn with_generation_config(mut self, config: GenerationConfig) -> Self {
        self.config.generation_config = config;
        self
    }

    /// Requests per job (default 200,000, the service's limit).
    pub fn with_max_requests_per_job(mut self, requests: u64) -> Self {
        self.config.max_requests_per_job = requests;
        self
    }

    /// Bytes per staged input file (default 1 GB, the service's limit).
    pub fn with_max_bytes_per_file(mut self, bytes: u64) -> Self {
        self.config.max_bytes_per_file = bytes;
        self
    }

    /// Jobs not yet ended at a time (default 8).
    pub fn with_max_running_jobs(mut self, jobs: usize) -> Self {
        self.config.max_running_jobs = jobs;
        self
    }

    /// Refuse a request the service's BigQuery-style import would refuse (nesting deeper than
    /// 15, an empty object, a field name BigQuery refuses, a field whose type differs from
    /// earlier requests'), before any job: an [`Error::InvalidInput`](crate::Error::InvalidInput)
    /// naming its line and the JSON path. By default (`false`) such requests are staged in
    /// shards of their own, so that if the service refuses them only their jobs fail, each of
    /// their results carrying the import's error, and the summary counts them
    /// ([`RunSummary::staged_apart`](super::RunSummary::staged_apart)).
    ///
    /// ```no_run
    /// # async fn run(run: vertex_batch::run::BatchRun) -> vertex_batch::Result<()> {
    /// use vertex_batch::run::RunRequest;
    ///
    /// let empty_tool = RunRequest::from_json_text(
    ///     r#"{"contents": [{"role": "user", "parts": [{"text": "Hi"}]}], "tools": [{"googleSearch": {}}]}"#,
    /// );
    /// let err = run
    ///     .with_unimportable_refused(true)
    ///     .run(futures_util::stream::iter([Ok(empty_tool)]))
    ///     .await
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("request.tools[0].googleSearch"));
    /// # Ok(()) }
    /// ```
    pub fn with_unimportable_refused(mut self, refused: bool) -> Self {
        self.config.refuse_unimportable = refused;
        self
    }

    /// Joins output lines to rows by their row ids alone, without checking that each echoes
    /// the request staged for its row: only for measuring what the check costs.
    #[doc(hidden)]
    pub fn with_unchecked_join_to_measure_it(mut self) -> Self {
        self.config.unchecked_join = true;
        self
    }

    /// Follow-up rounds for rows to try again (default 2; 0 for none).
    pub fn with_retry_rounds(mut self, rounds: u8) -> Self {
        self.config.retry_rounds = rounds;
        self
    }

    /// Where the run keeps its local scratch files (the keys, the output lines it keeps;
    /// default the system's temporary folder). They go when the results are dropped.
    pub fn with_work_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.work_dir = Some(dir.into());
        self
    }

    /// How long a job may wait in the queue (not yet RUNNING) before the run cancels it and
    /// sends its rows in the next round, or reports them with code 408 when no round is left
    /// (default [`DEFAULT_QUEUE_DEADLINE`], the service's own 72 hours). A job's age counts
    /// from its `create_time`, or from when this process first saw it if that is later.
    pub fn with_queue_deadline(mut self, deadline: Duration) -> Self {
        self.config.queue_deadline = deadline;
        self
    }

    /// A time limit for the whole run, counted from this call to [`run`](Self::run) (default
    /// none: each job is bounded by the service's 72 hours in the queue and 24 hours running).
    /// When it passes, the run ends as [`end`](Self::end) does: live jobs are cancelled, their
    /// finished rows kept, and rows never answered are reported with code 504.
    pub fn with_run_deadline(mut self, deadline: Duration) -> Self {
        self.config.run_deadline = Some(deadline);
        self
    }

    /// How long the run's lease lives without renewal (default [`DEFAULT_LEASE_TTL`], 5
    /// minutes; at least 3 s): renewed every third of it, taken over by another process once
    /// it lapses.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.config.lease.ttl = ttl;
        self
    }

    /// Wait while another process holds the run's lease, rather than fail at once with
    /// [`Error::RunHeld`] (default false).
    pub fn with_lease_wait(mut self, wait: bool) -> Self {
        self.config.lease.wait = wait;
        self
    }

    /// How the run polls its jobs (default: the client's
    /// [`wait_options`](JobClient::wait_options)); errors while polling follow the client's
    /// polling rule, so an outage of the service is waited out.
    pub fn with_wait_options(mut self, options: WaitOptions) -> Self {
        self.config.wait = options;
        self
    }

    /// Stop when `signal` completes (Ctrl-C, a shutdown): uploads and polls stop, the
    /// manifest stays consistent, the lease is released, and [`run`](Self::run) fails with
    /// [`Error::RunStopped`]; the same run started again resumes. Dropping the future of
    /// [`run`](Self::run) stops the same way, except that the lease then lapses by itself.
    ///
    /// ```no_run
    /// # async fn run(run: vertex_batch::run::BatchRun, requests: Vec<vertex_batch::Result<vertex_batch::run::RunRequest>>) -> vertex_batch::Result<()> {
    /// let results = run
    ///     .with_stop_signal(async {
    ///         let _ = tokio::signal::ctrl_c().await;
    ///     })
    ///     .run(futures_util::stream::iter(requests))
    ///     .await;
    /// if let Err(err) = &results && err.is_run_stopped() {
    ///     eprintln!("{err}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn with_stop_signal(
        mut self,
        signal: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.stop = Some(Box::pin(signal));
        self
    }

    /// End the run for good: its jobs not yet ended are cancelled, no job is created, the
    /// manifest records the end (later starts of the run create nothing either), and the
    /// results gathered so far are given, rows never answered with code 499. Give the same
    /// input as the run was started with.
    pub fn end(mut self) -> Self {
        self.config.end = true;
        self
    }

    /// Where the run reads the time of day to tell a job's age from its `create_time` (default
    /// the system clock). A simulation against the emulator's manual clock passes that clock
    /// ([`EmulatorState::now`](crate::emulator::EmulatorState::now), feature `emulator`), so
    /// that queue deadlines count in its time.
    pub fn with_clock(
        mut self,
        clock: impl Fn() -> std::time::SystemTime + Send + Sync + 'static,
    ) -> Self {
        self.clock = Arc::new(clock);
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
        // Boxed: the run's state machine is large, and a caller's stack need not hold it.
        Box::pin(super::driver::run(self, requests)).await
    }

    pub(crate) fn check(&self) -> Result<()> {
        let config = &self.config;
        if config.max_requests_per_job == 0 {
            return Err(Error::invalid(
                "max_requests_per_job",
                "0: a job needs at least 1 request (the service takes up to 200,000)",
            ));
        }
        if config.max_requests_per_job > MAX_REQUESTS_PER_JOB {
            return Err(Error::invalid(
                "max_requests_per_job",
                format!(
                    "{}: the service takes at most 200,000 requests in a job",
                    config.max_requests_per_job
                ),
            ));
        }
        if config.max_bytes_per_file < MIN_BYTES_PER_FILE {
            return Err(Error::invalid(
                "max_bytes_per_file",
                format!(
                    "{}: an input file needs room for at least one request (1 KiB or more; the \
                     service takes up to 1 GB)",
                    config.max_bytes_per_file
                ),
            ));
        }
        if config.max_bytes_per_file > MAX_BYTES_PER_FILE {
            return Err(Error::invalid(
                "max_bytes_per_file",
                format!(
                    "{}: the service reads input files of at most 1 GB ({MAX_BYTES_PER_FILE} \
                     bytes)",
                    config.max_bytes_per_file
                ),
            ));
        }
        if config.max_running_jobs == 0 {
            return Err(Error::invalid(
                "max_running_jobs",
                "0: at least 1 job must be allowed to run",
            ));
        }
        if config.retry_rounds > MAX_RETRY_ROUNDS {
            return Err(Error::invalid(
                "retry_rounds",
                format!("{}: at most {MAX_RETRY_ROUNDS}", config.retry_rounds),
            ));
        }
        let staging = config.layout.staging();
        if staging.name().ends_with(".jsonl") || staging.name().ends_with(".json") {
            return Err(Error::invalid(
                "staging",
                format!(
                    "{}: the staging location is a prefix (a folder) for the run's files, not a file",
                    staging
                ),
            ));
        }
        Ok(())
    }
}

impl std::fmt::Debug for BatchRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchRun")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

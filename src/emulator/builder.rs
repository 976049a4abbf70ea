//! Configuring and starting an emulator: [`EmulatorBuilder`], from [`Emulator::builder`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::clock::Clock;
use super::gcs_folder::GcsFolder;
use super::lifecycle::{Durations, MAX_PHASE};
use super::row_faults::RowFaults;
use super::storage::{ObjectStore, StorageFaults};
use super::truth::Truth;
use super::{Emulator, EmulatorState, server, tls, validate};
use crate::Error;

impl Emulator {
    /// A builder with the defaults: `us-central1`, plain TCP on `127.0.0.1:0`, no auth, real
    /// time, jobs pending 1 s then running 2 s.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), vertex_batch::Error> {
    /// let emu = vertex_batch::emulator::Emulator::builder().with_tls(true).start().await?;
    /// assert!(emu.uri().starts_with("https://127.0.0.1:"));
    /// # Ok(()) }
    /// ```
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder {
            location: "us-central1".to_string(),
            tls: false,
            require_auth: false,
            record_calls: true,
            rest: true,
            token_lifetime: Duration::from_secs(3600),
            manual_clock: false,
            durations: Durations {
                queued: Duration::from_secs(1),
                running: Duration::from_secs(2),
                cancelling: Duration::from_secs(1),
            },
            operation_duration: Duration::from_secs(1),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            state: None,
            gcs_root: None,
            row_faults: RowFaultOptions::default(),
            truth: Truth::default(),
            stuck_jobs: 0,
            outage: None,
            storage_addr: None,
            token_addr: None,
            storage_failure_rate: 0.0,
            storage_drop_rate: 0.0,
            #[cfg(feature = "bigquery")]
            bigquery_endpoint: None,
        }
    }
}

/// Configures and starts an emulator. From [`Emulator::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until start()"]
pub struct EmulatorBuilder {
    location: String,
    tls: bool,
    require_auth: bool,
    record_calls: bool,
    rest: bool,
    token_lifetime: Duration,
    manual_clock: bool,
    durations: Durations,
    operation_duration: Duration,
    addr: SocketAddr,
    state: Option<EmulatorState>,
    gcs_root: Option<PathBuf>,
    row_faults: RowFaultOptions,
    truth: Truth,
    stuck_jobs: u64,
    outage: Option<(Duration, Duration)>,
    storage_addr: Option<SocketAddr>,
    token_addr: Option<SocketAddr>,
    storage_failure_rate: f64,
    storage_drop_rate: f64,
    #[cfg(feature = "bigquery")]
    bigquery_endpoint: Option<String>,
}

/// The row faults asked of the builder.
#[derive(Debug, Clone, Default)]
struct RowFaultOptions {
    transient_rate: f64,
    permanent_rate: f64,
    expire_after_rows: Option<u64>,
    id_fault_rate: f64,
    seed: Option<u64>,
}

impl EmulatorBuilder {
    /// The location this endpoint serves (default `us-central1`): requests naming another one
    /// are INVALID_ARGUMENT, as on a regional endpoint.
    pub fn with_location(mut self, location: impl Into<String>) -> Self {
        self.location = location.into();
        self
    }

    /// Serve TLS with a certificate for `localhost` and `127.0.0.1` made at start; clients
    /// trust [`Emulator::ca_pem`].
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Answer UNAUTHENTICATED unless a call carries `authorization: Bearer <token>` with a
    /// token this emulator issued and that has not expired.
    pub fn with_require_auth(mut self, require: bool) -> Self {
        self.require_auth = require;
        self
    }

    /// The lifetime (`expires_in`) of issued tokens, default one hour.
    pub fn with_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Whether to keep each call's metadata for [`Emulator::calls`] (default on). Turn
    /// it off for long runs and benchmarks: the record grows with every call.
    pub fn with_record_calls(mut self, record: bool) -> Self {
        self.record_calls = record;
        self
    }

    /// Whether the gRPC port answers REST too (default on: HTTP/JSON at the REST API's paths,
    /// over HTTP/1.1 or HTTP/2, told from gRPC by content type; see [`Emulator::rest_uri`]).
    /// Off, the port serves gRPC alone over HTTP/2, as Vertex AI's gRPC endpoint does; a REST
    /// request there fails as it would there.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// let emu = vertex_batch::emulator::Emulator::builder().with_rest(false).start().await?;
    /// # Ok(()) }
    /// ```
    pub fn with_rest(mut self, rest: bool) -> Self {
        self.rest = rest;
        self
    }

    /// Whether time moves only with [`Emulator::advance`] (default off: jobs move in real
    /// time). Tests use a manual clock so that nothing waits on a real timer.
    pub fn with_manual_clock(mut self, manual: bool) -> Self {
        self.manual_clock = manual;
        self
    }

    /// How long jobs stay pending, then running (defaults 1 s and 2 s). Each is at most about
    /// a thousand years: a longer one (`Duration::MAX`) is taken as that, so a job that never
    /// starts in practice is still a job whose times can be computed.
    pub fn with_durations(mut self, queued: Duration, running: Duration) -> Self {
        self.durations.queued = queued.min(MAX_PHASE);
        self.durations.running = running.min(MAX_PHASE);
        self
    }

    /// How long a cancelled job stays CANCELLING (default 1 s; at most about a thousand years,
    /// as [`with_durations`](Self::with_durations)).
    pub fn with_cancel_duration(mut self, cancelling: Duration) -> Self {
        self.durations.cancelling = cancelling.min(MAX_PHASE);
        self
    }

    /// How long a delete operation takes to be done (default 1 s; at most about a thousand
    /// years, as [`with_durations`](Self::with_durations)).
    pub fn with_operation_duration(mut self, duration: Duration) -> Self {
        self.operation_duration = duration.min(MAX_PHASE);
        self
    }

    /// Where the gRPC server listens (default `127.0.0.1:0`, a free port). The token endpoint
    /// and the storage endpoint get free ports on the same interface (unless
    /// [`with_storage_addr`](Self::with_storage_addr) says where).
    pub fn with_addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Where the Cloud Storage endpoint listens (default: a free port on the gRPC server's
    /// interface; a port of 0 here takes a free one too). A fixed address makes an emulator
    /// restarted over the same [`with_gcs_root`](Self::with_gcs_root) keep its
    /// `STORAGE_EMULATOR_HOST`. The launchers fix it to `--port` + 1 when `--port` is fixed
    /// (see [`launcher`](super::launcher)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// use std::net::SocketAddr;
    ///
    /// let emu = vertex_batch::emulator::Emulator::builder()
    ///     .with_storage_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
    ///     .start()
    ///     .await?;
    /// assert!(emu.storage_uri().starts_with("http://127.0.0.1:"));
    /// # Ok(()) }
    /// ```
    pub fn with_storage_addr(mut self, addr: SocketAddr) -> Self {
        self.storage_addr = Some(addr);
        self
    }

    /// Where the token endpoint listens (default: a free port on the gRPC server's
    /// interface). A fixed address keeps the `token_uri` of
    /// [`Emulator::service_account_key`] good across a restart (with
    /// [`with_state`](Self::with_state)), so clients holding the key still get tokens. The
    /// launchers fix it to `--port` + 2 when `--port` is fixed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// use std::net::SocketAddr;
    ///
    /// let emu = vertex_batch::emulator::Emulator::builder()
    ///     .with_token_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
    ///     .start()
    ///     .await?;
    /// assert!(emu.token_uri().ends_with("/token"));
    /// # Ok(()) }
    /// ```
    pub fn with_token_addr(mut self, addr: SocketAddr) -> Self {
        self.token_addr = Some(addr);
        self
    }

    /// A share of storage requests (0 to 1), of any kind, answered 429 or 503 with Google's
    /// JSON error, as Cloud Storage does now and then: a client must retry them. Default 0.
    /// Which requests fail depends on [`with_seed`](Self::with_seed) and the order requests
    /// arrive in; [`Emulator::storage_faults`] counts them.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// let emu = vertex_batch::emulator::Emulator::builder()
    ///     .with_storage_failure_rate(0.1)
    ///     .with_storage_drop_rate(0.1)
    ///     .with_seed(1)
    ///     .start()
    ///     .await?;
    /// assert_eq!(emu.storage_faults().requests, 0);
    /// # Ok(()) }
    /// ```
    pub fn with_storage_failure_rate(mut self, rate: f64) -> Self {
        self.storage_failure_rate = rate;
        self
    }

    /// A share of downloads (0 to 1) that send part of their body, then drop the connection:
    /// a client must resume from the last byte it received. Default 0. Seeded by
    /// [`with_seed`](Self::with_seed); counted by [`Emulator::storage_faults`].
    pub fn with_storage_drop_rate(mut self, rate: f64) -> Self {
        self.storage_drop_rate = rate;
        self
    }

    /// Start with the state (jobs, operations, tokens, clock, in-memory objects, storage fault
    /// counts) of an earlier emulator, from
    /// [`Emulator::state`]. The manual-clock choice then comes with the state.
    pub fn with_state(mut self, state: EmulatorState) -> Self {
        self.state = Some(state);
        self
    }

    /// A local folder standing in for Cloud Storage: `gs://bucket/path` is `root/bucket/path`
    /// (with the whole flat namespace: names no file can have as they are get a path of their
    /// own inside `root`, see [`Emulator::local_path`](super::Emulator::local_path)).
    ///
    /// A job whose input is `gs://` then really reads its JSONL files, and one whose destination
    /// is `gs://` writes `predictions.jsonl` in its output directory
    /// (`output_info.gcs_output_directory`, `<prefix>/prediction-model-<timestamp>`): for each
    /// good line (`{"request": {"contents": [...]}}`) a deterministic answer, `echo: <the
    /// request's first text>`; for each bad line a row with the request (or the raw line) and a
    /// `Bad Request: ...` status, as the service writes them. completion_stats count the rows;
    /// the job ends SUCCEEDED when some row succeeded and FAILED when none did or an input file
    /// is missing (NOT_FOUND, naming the URI). The files are processed once, the first time the
    /// job is seen ended. BigQuery jobs, cancelled jobs and jobs given another [`Outcome`](super::Outcome) are
    /// left as they were.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// use vertex_batch::batch_file::{BatchFileWriter, BatchRequest};
    ///
    /// let root = std::env::temp_dir().join(format!("fake-gcs-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(root.join("bucket")).unwrap();
    /// let emu = vertex_batch::emulator::Emulator::builder().with_gcs_root(&root).start().await?;
    ///
    /// // Put the input where a job reading gs://bucket/prompts.jsonl finds it.
    /// let input = emu.local_path("gs://bucket/prompts.jsonl")?;
    /// assert_eq!(input, root.join("bucket/prompts.jsonl"));
    /// let mut writer = BatchFileWriter::create(&input)?;
    /// writer.write(&BatchRequest::new().with_user_text("Why is the sky blue?"))?;
    /// writer.finish()?;
    /// emu.shutdown().await;
    /// # std::fs::remove_dir_all(&root).unwrap();
    /// # Ok(()) }
    /// ```
    pub fn with_gcs_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.gcs_root = Some(root.into());
        self
    }

    /// A BigQuery to run jobs over tables against (feature `bigquery`): an emulator of it
    /// such as bqemulator, `host:port` or `http://host:port` (the form of
    /// `BIGQUERY_EMULATOR_HOST`, which the launchers' `--bigquery-endpoint` defaults to). A
    /// job with a `bq://` source then reads its input table, checks what the service checks
    /// (a `request` column, the datasets' region) and writes its output table with the
    /// service's columns, row faults included; no token is sent. Without one, a BigQuery job
    /// reads and writes nothing. The tables are processed in the background from when the job
    /// is first seen past its running time, and it stays RUNNING until its output table is
    /// written, as the service's jobs do (every other call answers meanwhile); jobs over tables
    /// take turns, one at a time in a process.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// let emu = vertex_batch::emulator::Emulator::builder()
    ///     .with_bigquery_endpoint("127.0.0.1:9050")
    ///     .start()
    ///     .await?;
    /// assert_eq!(emu.bigquery_endpoint(), Some("http://127.0.0.1:9050"));
    /// let bad = vertex_batch::emulator::Emulator::builder()
    ///     .with_bigquery_endpoint("http://bq.example.com/path")
    ///     .start()
    ///     .await
    ///     .unwrap_err();
    /// assert!(bad.to_string().starts_with("invalid bigquery_endpoint:"), "{bad}");
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "bigquery")]
    #[cfg_attr(docsrs, doc(cfg(feature = "bigquery")))]
    pub fn with_bigquery_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.bigquery_endpoint = Some(endpoint.into());
        self
    }

    /// A share of rows (0 to 1) that fail with a transient status, as the service writes a
    /// row refused with 429 RESOURCE_EXHAUSTED: a batch run retries them. Default 0. Applies
    /// to jobs that read the emulator's Cloud Storage; which rows fail depends on
    /// [`with_seed`](Self::with_seed), the job's creation order and the row.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// let emu = vertex_batch::emulator::Emulator::builder()
    ///     .with_row_failure_rate(0.05)
    ///     .with_row_permanent_failure_rate(0.01)
    ///     .with_expire_after_rows(2_000)
    ///     .with_seed(42)
    ///     .start()
    ///     .await?;
    /// assert!(emu.storage_uri().starts_with("http://127.0.0.1:"));
    /// # Ok(()) }
    /// ```
    pub fn with_row_failure_rate(mut self, rate: f64) -> Self {
        self.row_faults.transient_rate = rate;
        self
    }

    /// A share of rows (0 to 1) that fail with a permanent status (400 INVALID_ARGUMENT): a
    /// batch run reports them. Default 0.
    pub fn with_row_permanent_failure_rate(mut self, rate: f64) -> Self {
        self.row_faults.permanent_rate = rate;
        self
    }

    /// The first job created that reads the emulator's Cloud Storage exports its first `rows`
    /// rows, then ends EXPIRED with the rest counted incomplete, as a job the service cut
    /// short; later jobs run to the end. [`Emulator::expire_next_job_after_rows`] arms
    /// it again.
    pub fn with_expire_after_rows(mut self, rows: u64) -> Self {
        self.row_faults.expire_after_rows = Some(rows);
        self
    }

    /// A share of output lines (0 to 1) that carry the wrong row ids: the input line's `key`
    /// and the request's `labels` swapped with the next line's (half of these), only the
    /// `key` swapped (a quarter: key and labels then disagree), or both left out (a quarter).
    /// Default 0. The answer stays with its own request, so a client that checks the echoed
    /// request against what it sent joins none of them to the wrong prompt (users report
    /// answers joined to the wrong prompts: python-genai #1909, python-aiplatform #1166,
    /// curator #276).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// let emu = vertex_batch::emulator::Emulator::builder()
    ///     .with_row_id_fault_rate(0.1)
    ///     .with_seed(7)
    ///     .start()
    ///     .await?;
    /// # emu.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn with_row_id_fault_rate(mut self, rate: f64) -> Self {
        self.row_faults.id_fault_rate = rate;
        self
    }

    /// Whether a job's output echoes `request.labels` with the request (default `true`). Only
    /// client code that reads it back shows the service does (BerriAI/litellm pull request
    /// #25627), no captured line, so a client that joins by labels can be tested without them.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// let emu = vertex_batch::emulator::Emulator::builder()
    ///     .with_echoed_labels(false)
    ///     .with_type_conflicts_refused(false)
    ///     .start()
    ///     .await?;
    /// # emu.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn with_echoed_labels(mut self, echoed: bool) -> Self {
        self.truth.echo_labels = echoed;
        self
    }

    /// Whether a field whose JSON type differs between the rows of a job's input fails the
    /// whole job's import, FAILED with code 3 (default `true`), as the service's importer
    /// infers one type per field across the file. Only the array-beside-a-scalar case was
    /// captured, so a client can be tested without it.
    pub fn with_type_conflicts_refused(mut self, refused: bool) -> Self {
        self.truth.refuse_type_conflicts = refused;
        self
    }

    /// The seed of the row and storage fault draws (default: random at start).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.row_faults.seed = Some(seed);
        self
    }

    /// The first `jobs` jobs created stay queued (PENDING) until they are cancelled, as jobs
    /// users report stuck in the service's queue for a day or more
    /// ([`Emulator::stick_next_jobs`] arms it again). Default 0.
    pub fn with_stuck_jobs(mut self, jobs: u64) -> Self {
        self.stuck_jobs = jobs;
        self
    }

    /// A Vertex AI outage: from `starts_in` after start, on the emulator's clock, every call
    /// answers `UNAVAILABLE` for `length` ([`Fault::outage`](super::Fault::outage)).
    pub fn with_outage(mut self, starts_in: Duration, length: Duration) -> Self {
        self.outage = Some((starts_in, length));
        self
    }

    /// Binds and starts serving. Must run inside a tokio runtime.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed location, a [`with_gcs_root`](Self::with_gcs_root) that
    /// is not a directory, or a fault rate outside 0..=1; [`Error::Transport`] when a port
    /// cannot be bound,
    /// [`Error::Internal`] when the TLS certificate cannot be made.
    pub async fn start(self) -> Result<Emulator, Error> {
        if !validate::valid_location(&self.location) {
            return Err(Error::invalid(
                "location",
                format!(
                    "`{}`: a location is lower-case letters, digits and hyphens, like `us-central1`",
                    self.location
                ),
            ));
        }
        if let Some(root) = &self.gcs_root
            && !root.is_dir()
        {
            return Err(Error::invalid(
                "gcs_root",
                format!(
                    "`{}` is not a directory: create it first (it stands in for gs://, \
                     gs://bucket/path being ROOT/bucket/path)",
                    root.display()
                ),
            ));
        }
        RowFaults::check_rates(
            self.row_faults.transient_rate,
            self.row_faults.permanent_rate,
        )?;
        if !(0.0..=1.0).contains(&self.row_faults.id_fault_rate) {
            return Err(crate::Error::invalid(
                "row_id_fault_rate",
                format!(
                    "{}: a rate is a share of the rows, from 0 to 1 (0.05 is 5%)",
                    self.row_faults.id_fault_rate
                ),
            ));
        }
        StorageFaults::check_rates(self.storage_failure_rate, self.storage_drop_rate)?;
        let seed = self.row_faults.seed.unwrap_or_else(rand::random);
        let row_faults = RowFaults::new(
            self.row_faults.transient_rate,
            self.row_faults.permanent_rate,
            seed,
        );

        row_faults.expire_next_job_after(self.row_faults.expire_after_rows);
        row_faults.set_id_fault_rate(self.row_faults.id_fault_rate);
        let gcs_folder = self.gcs_root.map(GcsFolder::new);
        let state = self.state.unwrap_or_else(|| {
            EmulatorState::new(if self.manual_clock {
                Clock::manual()
            } else {
                Clock::Real
            })
        });
        if self.stuck_jobs > 0 {
            state
                .inner
                .stuck_next
                .store(self.stuck_jobs, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some((starts_in, length)) = self.outage {
            let now = state.inner.clock.now();
            super::clock::lock(&state.inner.faults)
                .add(super::Fault::outage(starts_in, length), now);
        }
        // The counts go on with the state; the rates and seed are this start's.
        let storage_faults = state.inner.storage_faults.clone();
        storage_faults.configure(self.storage_failure_rate, self.storage_drop_rate, seed);
        // The identity lives with the state: an emulator restarted with it presents the same
        // certificate, so clients that trusted its CA reconnect.
        let tls = if self.tls {
            let identity = match state.inner.tls.get() {
                Some(identity) => identity.clone(),
                None => {
                    let made = tls::loopback_identity().map_err(|e| {
                        Error::internal(format!(
                            "could not make the emulator's TLS certificate: {e}"
                        ))
                    })?;
                    state.inner.tls.get_or_init(|| made).clone()
                }
            };
            Some(identity)
        } else {
            None
        };
        #[cfg(feature = "bigquery")]
        let (bigquery, bigquery_endpoint) = match &self.bigquery_endpoint {
            Some(endpoint) => {
                let (builder, url) = bigquery_builder(endpoint)?;
                (Some(builder), Some(url))
            }
            None => (None, None),
        };
        let config = server::Config {
            #[cfg(feature = "bigquery")]
            bigquery,
            location: self.location.clone(),
            require_auth: self.require_auth,
            record_calls: self.record_calls,
            rest: self.rest,
            durations: self.durations,
            operation_duration: self.operation_duration,
            store: match &gcs_folder {
                Some(folder) => ObjectStore::folder(folder.clone()),
                None => state.inner.memory_store.clone(),
            },
            row_faults: row_faults.clone(),
            truth: self.truth,
            storage_faults,
            storage_addr: self.storage_addr,
            token_addr: self.token_addr,
        };
        let running = server::serve(
            self.addr,
            config,
            state.clone(),
            tls.as_ref(),
            self.token_lifetime,
        )
        .await?;
        Ok(Emulator {
            location: self.location,
            grpc_addr: running.grpc_addr,
            token_addr: running.token_addr,
            storage_addr: running.storage_addr,
            storage: running.storage,
            row_faults,
            ca_pem: tls.map(|tls| tls.ca_pem),
            token_lifetime: self.token_lifetime,
            gcs_folder,
            #[cfg(feature = "bigquery")]
            bigquery_endpoint,
            state,
            shutdown: running.shutdown,
            tasks: running.tasks,
        })
    }
}

/// A client builder for the BigQuery at `endpoint` (`host:port` or a URL), checked: no token
/// goes to an emulator. Its retries are short (5 attempts within 10 s): a BigQuery that is down
/// should fail the job, not keep it RUNNING, and the jobs after it waiting their turn, for the
/// default budget of two minutes.
#[cfg(feature = "bigquery")]
fn bigquery_builder(endpoint: &str) -> Result<(crate::bigquery::BigQueryBuilder, String), Error> {
    let endpoint = endpoint.trim();
    let url = if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("http://{endpoint}")
    };
    let builder = crate::bigquery::BigQuery::builder()
        .with_endpoint(url)
        .with_credentials(crate::auth::Credentials::none())
        .with_retry_policy(
            crate::RetryPolicy::default()
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_secs(1))
                .with_max_attempts(5)
                .with_budget(Duration::from_secs(10))
                .with_attempt_timeout(Some(Duration::from_secs(60))),
        );
    let client = builder.clone().build().map_err(|err| match err {
        Error::InvalidInput { reason, .. } => Error::invalid("bigquery_endpoint", reason),
        other => other,
    })?;
    Ok((builder, client.endpoint().to_owned()))
}

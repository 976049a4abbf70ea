//! An in-memory Vertex AI JobService for tests and offline development (feature `emulator`).
//!
//! A real tonic server on loopback, plain or TLS, serving the five batch-prediction RPCs with
//! the service's validation, a job lifecycle on a clock it owns (a manual one for tests), the
//! google.longrunning Operations that Delete starts, an OAuth token endpoint for
//! service-account JWTs, call recording, fault injection, and optionally a local folder standing
//! in for `gs://` where jobs really read their input and write predictions.jsonl
//! ([`EmulatorBuilder::gcs_root`]). Every other JobService RPC answers
//! UNIMPLEMENTED. Any client generated from the same protos can use it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use vertex_batch::emulator::Emulator;
//! use vertex_batch::v1::batch_prediction_job::{input_config, output_config, InputConfig, OutputConfig};
//! use vertex_batch::v1::job_service_client::JobServiceClient;
//! use vertex_batch::v1::{
//!     BatchPredictionJob, CreateBatchPredictionJobRequest, GcsDestination, GcsSource,
//!     GetBatchPredictionJobRequest, JobState,
//! };
//!
//! let emu = Emulator::builder().manual_clock().start().await?;
//! let mut client = JobServiceClient::connect(emu.uri()).await?;
//! let job = BatchPredictionJob {
//!     display_name: "nightly".into(),
//!     model: "publishers/google/models/gemini-2.0-flash-001".into(),
//!     input_config: Some(InputConfig {
//!         instances_format: "jsonl".into(),
//!         source: Some(input_config::Source::GcsSource(GcsSource {
//!             uris: vec!["gs://bucket/prompts.jsonl".into()],
//!         })),
//!     }),
//!     output_config: Some(OutputConfig {
//!         predictions_format: "jsonl".into(),
//!         destination: Some(output_config::Destination::GcsDestination(GcsDestination {
//!             output_uri_prefix: "gs://bucket/out".into(),
//!         })),
//!     }),
//!     ..Default::default()
//! };
//! let parent = format!("projects/my-project/locations/{}", emu.location());
//! let created = client
//!     .create_batch_prediction_job(CreateBatchPredictionJobRequest {
//!         parent,
//!         batch_prediction_job: Some(job),
//!     })
//!     .await?
//!     .into_inner();
//! assert_eq!(created.state(), JobState::Pending);
//!
//! // Move time on: the job runs and succeeds without anyone sleeping.
//! emu.advance(Duration::from_secs(60));
//! let name = created.name.clone();
//! let done = client
//!     .get_batch_prediction_job(GetBatchPredictionJobRequest { name })
//!     .await?
//!     .into_inner();
//! assert_eq!(done.state(), JobState::Succeeded);
//! emu.shutdown().await;
//! # Ok(()) }
//! ```

mod answer;
mod clock;
mod echo;
mod faults;
mod filter;
mod gcs_folder;
mod lifecycle;
mod operations;
mod outcome;
mod records;
mod row_faults;
mod server;
mod service;
mod service_account;
mod state;
mod storage;
mod tls;
mod token_endpoint;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::Fault;
pub use outcome::{OUTCOME_LABEL, Outcome};
pub use records::RecordedCall;
pub use service_account::ServiceAccountKey;
pub use state::EmulatorState;

use crate::Error;
use clock::{Clock, lock};
use gcs_folder::GcsFolder;
use lifecycle::Durations;
use row_faults::RowFaults;
use storage::ObjectStore;

/// The entry point: [`Emulator::builder`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Emulator;

impl Emulator {
    /// A builder with the defaults: `us-central1`, plain TCP on `127.0.0.1:0`, no auth, real
    /// time, jobs pending 1 s then running 2 s.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), vertex_batch::Error> {
    /// let emu = vertex_batch::emulator::Emulator::builder().tls(true).start().await?;
    /// assert!(emu.uri().starts_with("https://127.0.0.1:"));
    /// # Ok(()) }
    /// ```
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder {
            location: "us-central1".to_string(),
            tls: false,
            require_auth: false,
            record_calls: true,
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
    token_lifetime: Duration,
    manual_clock: bool,
    durations: Durations,
    operation_duration: Duration,
    addr: SocketAddr,
    state: Option<EmulatorState>,
    gcs_root: Option<PathBuf>,
    row_faults: RowFaultOptions,
}

/// The row faults asked of the builder.
#[derive(Debug, Clone, Default)]
struct RowFaultOptions {
    transient_rate: f64,
    permanent_rate: f64,
    expire_after_rows: Option<u64>,
    seed: Option<u64>,
}

impl EmulatorBuilder {
    /// The location this endpoint serves (default `us-central1`): requests naming another one
    /// are INVALID_ARGUMENT, as on a regional endpoint.
    pub fn location(mut self, location: impl Into<String>) -> Self {
        self.location = location.into();
        self
    }

    /// Serve TLS with a certificate for `localhost` and `127.0.0.1` made at start; clients
    /// trust [`EmulatorHandle::ca_pem`].
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Answer UNAUTHENTICATED unless a call carries `authorization: Bearer <token>` with a
    /// token this emulator issued and that has not expired.
    pub fn require_auth(mut self, require: bool) -> Self {
        self.require_auth = require;
        self
    }

    /// The lifetime (`expires_in`) of issued tokens, default one hour.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Whether to keep each call's metadata for [`EmulatorHandle::calls`] (default on). Turn
    /// it off for long runs and benchmarks: the record grows with every call.
    pub fn record_calls(mut self, record: bool) -> Self {
        self.record_calls = record;
        self
    }

    /// Time moves only with [`EmulatorHandle::advance`]. Without it jobs move in real time.
    pub fn manual_clock(mut self) -> Self {
        self.manual_clock = true;
        self
    }

    /// How long jobs stay pending, then running (defaults 1 s and 2 s).
    pub fn durations(mut self, queued: Duration, running: Duration) -> Self {
        self.durations.queued = queued;
        self.durations.running = running;
        self
    }

    /// How long a cancelled job stays CANCELLING (default 1 s).
    pub fn cancel_duration(mut self, cancelling: Duration) -> Self {
        self.durations.cancelling = cancelling;
        self
    }

    /// How long a delete operation takes to be done (default 1 s).
    pub fn operation_duration(mut self, duration: Duration) -> Self {
        self.operation_duration = duration;
        self
    }

    /// Where the gRPC server listens (default `127.0.0.1:0`, a free port). The token endpoint
    /// gets a free port on the same interface.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Start with the state (jobs, operations, tokens, clock) of an earlier emulator, from
    /// [`EmulatorHandle::state`]. The manual-clock choice then comes with the state.
    pub fn state(mut self, state: EmulatorState) -> Self {
        self.state = Some(state);
        self
    }

    /// A local folder standing in for Cloud Storage: `gs://bucket/path` is `root/bucket/path`.
    ///
    /// A job whose input is `gs://` then really reads its JSONL files, and one whose destination
    /// is `gs://` writes `predictions.jsonl` in its output directory
    /// (`output_info.gcs_output_directory`, `<prefix>/prediction-model-<timestamp>`): for each
    /// good line (`{"request": {"contents": [...]}}`) a deterministic answer, `echo: <the
    /// request's first text>`; for each bad line a row with the request (or the raw line) and a
    /// `Bad Request: ...` status, as the service writes them. completion_stats count the rows;
    /// the job ends SUCCEEDED when some row succeeded and FAILED when none did or an input file
    /// is missing (NOT_FOUND, naming the URI). The files are processed once, the first time the
    /// job is seen ended. BigQuery jobs, cancelled jobs and jobs given another [`Outcome`] are
    /// left as they were.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// use vertex_batch::batch_file::{BatchFileWriter, BatchRequest};
    ///
    /// let root = std::env::temp_dir().join(format!("fake-gcs-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(root.join("bucket")).unwrap();
    /// let emu = vertex_batch::emulator::Emulator::builder().gcs_root(&root).start().await?;
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
    pub fn gcs_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.gcs_root = Some(root.into());
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
    /// short; later jobs run to the end. [`EmulatorHandle::expire_next_job_after_rows`] arms
    /// it again.
    pub fn with_expire_after_rows(mut self, rows: u64) -> Self {
        self.row_faults.expire_after_rows = Some(rows);
        self
    }

    /// The seed of the row fault draws (default: random at start).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.row_faults.seed = Some(seed);
        self
    }

    /// Binds and starts serving. Must run inside a tokio runtime.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed location or a [`gcs_root`](Self::gcs_root) that
    /// is not a directory, [`Error::Transport`] when a port cannot
    /// be bound or the TLS certificate cannot be made.
    pub async fn start(self) -> Result<EmulatorHandle, Error> {
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
        let row_faults = RowFaults::new(
            self.row_faults.transient_rate,
            self.row_faults.permanent_rate,
            self.row_faults.seed.unwrap_or_else(rand::random),
        );
        row_faults.expire_next_job_after(self.row_faults.expire_after_rows);
        let gcs_folder = self.gcs_root.map(GcsFolder::new);
        let state = self.state.unwrap_or_else(|| {
            EmulatorState::new(if self.manual_clock {
                Clock::manual()
            } else {
                Clock::Real
            })
        });
        let tls = if self.tls {
            Some(tls::loopback_identity().map_err(|e| Error::Transport {
                endpoint: self.addr.to_string(),
                message: format!("could not make the emulator's TLS certificate: {e}"),
            })?)
        } else {
            None
        };
        let config = server::Config {
            location: self.location.clone(),
            require_auth: self.require_auth,
            record_calls: self.record_calls,
            durations: self.durations,
            operation_duration: self.operation_duration,
            store: match &gcs_folder {
                Some(folder) => ObjectStore::folder(folder.clone()),
                None => state.inner.memory_store.clone(),
            },
            row_faults: row_faults.clone(),
        };
        let running = server::serve(
            self.addr,
            config,
            state.clone(),
            tls.as_ref(),
            self.token_lifetime,
        )
        .await?;
        Ok(EmulatorHandle {
            location: self.location,
            grpc_addr: running.grpc_addr,
            token_addr: running.token_addr,
            storage_addr: running.storage_addr,
            storage: running.storage,
            row_faults,
            ca_pem: tls.map(|tls| tls.ca_pem),
            token_lifetime: self.token_lifetime,
            gcs_folder,
            state,
            shutdown: running.shutdown,
            tasks: running.tasks,
        })
    }
}

/// A running emulator. Dropping it stops the servers; [`EmulatorHandle::shutdown`] also waits
/// until they have stopped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), vertex_batch::Error> {
/// use tonic::Code;
/// use vertex_batch::emulator::{Emulator, Fault, Outcome};
///
/// let emu = Emulator::builder().require_auth(true).start().await?;
/// assert!(emu.uri().starts_with("http://127.0.0.1:"));
/// assert!(emu.token_uri().ends_with("/token"));
/// let bearer = emu.issue_token(); // for `authorization: Bearer ...`
/// # let _ = bearer;
/// emu.set_outcome(Outcome::Expired);
/// emu.fault(Fault::fail_next("GetBatchPredictionJob", 1, Code::Unavailable));
/// assert_eq!(emu.job_count(), 0);
/// assert!(emu.calls().is_empty());
/// emu.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct EmulatorHandle {
    location: String,
    grpc_addr: SocketAddr,
    token_addr: SocketAddr,
    storage_addr: SocketAddr,
    storage: std::sync::Arc<storage::StorageApi>,
    row_faults: RowFaults,
    ca_pem: Option<String>,
    token_lifetime: Duration,
    gcs_folder: Option<GcsFolder>,
    state: EmulatorState,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl EmulatorHandle {
    /// The gRPC endpoint, `http://127.0.0.1:PORT`, or `https://127.0.0.1:PORT` with TLS.
    pub fn uri(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", server::dialable(self.grpc_addr))
    }

    /// The address the gRPC server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// With TLS, the PEM of the CA that signed the server's certificate: clients trust it
    /// (e.g. `ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem))`).
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// The location this endpoint serves.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The local folder standing in for `gs://`, when the emulator has one
    /// ([`EmulatorBuilder::gcs_root`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// let emu = vertex_batch::emulator::Emulator::builder().start().await?;
    /// assert_eq!(emu.gcs_root(), None);
    /// # Ok(()) }
    /// ```
    pub fn gcs_root(&self) -> Option<&Path> {
        self.gcs_folder.as_ref().map(GcsFolder::root)
    }

    /// Where `gs://bucket/path` is in the local folder: `ROOT/bucket/path`. Use it to put input
    /// files in place and to read a job's output directory.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the emulator has no local folder, or `uri` is not a
    /// `gs://bucket/...` URI the folder can hold (no `.` or `..` segments).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// let root = std::env::temp_dir();
    /// let emu = vertex_batch::emulator::Emulator::builder().gcs_root(&root).start().await?;
    /// assert_eq!(emu.local_path("gs://bucket/out/")?, root.join("bucket/out"));
    /// assert!(emu.local_path("gs://bucket/../../etc/passwd").unwrap_err().is_invalid_input());
    /// # Ok(()) }
    /// ```
    pub fn local_path(&self, uri: &str) -> Result<PathBuf, Error> {
        let folder = self.gcs_folder.as_ref().ok_or_else(|| {
            Error::invalid(
                "gcs_root",
                "this emulator has no local gs:// folder: start it with EmulatorBuilder::gcs_root",
            )
        })?;
        folder
            .local_path(uri)
            .map_err(|reason| Error::invalid("uri", reason))
    }

    /// The Cloud Storage endpoint, `http://127.0.0.1:PORT` (always plain HTTP): the JSON API
    /// subset a storage client uses, over the objects the jobs read and write (the
    /// [`gcs_root`](EmulatorBuilder::gcs_root) folder, or memory). Give it to a client as
    /// `STORAGE_EMULATOR_HOST`. When the emulator requires auth, so does this endpoint (but
    /// a resumable session URI is its own credential, as on the service).
    pub fn storage_uri(&self) -> String {
        server::storage_uri(self.storage_addr)
    }

    /// Every request the storage endpoint received so far, oldest first, as
    /// `METHOD /path` followed by what matters of it: `uploadType=resumable`,
    /// `content-range: bytes 0-262143/*` for a chunk, `range: bytes=0-9` for a download,
    /// `pageToken=...` for a listing page. Empty when calls are not recorded
    /// ([`EmulatorBuilder::record_calls`]).
    pub fn storage_requests(&self) -> Vec<String> {
        self.storage.requests()
    }

    /// The next `n` chunks of resumable uploads are cut off half way: the storage endpoint
    /// keeps half of each chunk's bytes and answers 503, as when a connection breaks, so a
    /// client must ask what was kept and send the rest.
    pub fn fail_next_upload_chunks(&self, n: u64) {
        self.storage.fail_next_upload_chunks(n);
    }

    /// The address the storage endpoint listens on.
    pub fn storage_addr(&self) -> SocketAddr {
        self.storage_addr
    }

    /// Changes the row failure rates for jobs processed from now on (see
    /// [`EmulatorBuilder::with_row_failure_rate`]).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a rate outside 0..=1 or rates adding up to more than 1.
    pub fn set_row_failure_rates(&self, transient: f64, permanent: f64) -> Result<(), Error> {
        RowFaults::check_rates(transient, permanent)?;
        self.row_faults.set_rates(transient, permanent);
        Ok(())
    }

    /// The next job created that reads the emulator's Cloud Storage ends EXPIRED after
    /// exporting `rows` rows (see [`EmulatorBuilder::with_expire_after_rows`]).
    pub fn expire_next_job_after_rows(&self, rows: u64) {
        self.row_faults.expire_next_job_after(Some(rows));
    }

    /// The OAuth token endpoint, `http://127.0.0.1:PORT/token` (always plain HTTP).
    pub fn token_uri(&self) -> String {
        server::token_uri(self.token_addr)
    }

    /// A service-account key (JSON, as a key file) whose `token_uri` is this emulator's token
    /// endpoint, and which the endpoint trusts. The RSA key is generated once per process.
    ///
    /// # Panics
    /// Only if the operating system's random generator fails: RSA-2048 generation with fixed
    /// parameters and its PKCS#8 encoding cannot fail otherwise.
    pub fn service_account_key(&self) -> ServiceAccountKey {
        let (key, public) = service_account::key_for(&self.token_uri())
            .unwrap_or_else(|message| panic!("emulator service-account key: {message}"));
        lock(&self.state.inner.keys).insert(key.client_email.clone(), public);
        key
    }

    /// The [`Endpoint`](crate::endpoint::Endpoint) a client uses to reach this emulator: its
    /// URI, and with TLS its CA as the one extra certificate to trust.
    ///
    /// ```no_run
    /// # async fn demo() -> vertex_batch::Result<()> {
    /// use vertex_batch::JobClient;
    /// use vertex_batch::emulator::Emulator;
    ///
    /// let emu = Emulator::builder().tls(true).require_auth(true).start().await?;
    /// let client = JobClient::builder()
    ///     .with_project("my-project")
    ///     .with_location(emu.location())
    ///     .with_endpoint(emu.endpoint()?)
    ///     .with_credentials(emu.credentials())
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn endpoint(&self) -> Result<crate::endpoint::Endpoint, Error> {
        let endpoint = crate::endpoint::Endpoint::custom(&self.uri())?;
        Ok(match self.ca_pem() {
            Some(ca) => endpoint.with_ca_pem(ca),
            None => endpoint,
        })
    }

    /// Credentials that take the path a service account takes to Vertex AI: a key (from
    /// [`EmulatorHandle::service_account_key`]) whose JWT is exchanged for a token at this
    /// emulator's token endpoint.
    pub fn credentials(&self) -> crate::auth::Credentials {
        crate::auth::Credentials::service_account_json(self.service_account_key().json)
    }

    /// A valid bearer token, issued without the JWT flow (for static-token tests). Not counted
    /// in [`EmulatorHandle::tokens_issued`].
    pub fn issue_token(&self) -> String {
        self.state.mint_token(self.token_lifetime)
    }

    /// How many tokens the token endpoint has issued.
    pub fn tokens_issued(&self) -> usize {
        self.state.inner.tokens_issued.load(Ordering::Relaxed)
    }

    /// While `failing`, the token endpoint answers HTTP 503.
    pub fn set_token_endpoint_failing(&self, failing: bool) {
        self.state
            .inner
            .token_endpoint_failing
            .store(failing, Ordering::Relaxed);
    }

    /// Moves a manual clock forward by `by`. Returns false (and does nothing) with the real
    /// clock.
    pub fn advance(&self, by: Duration) -> bool {
        self.state.inner.clock.advance(by)
    }

    /// Every gRPC call received so far, oldest first.
    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.state.inner.calls).clone()
    }

    /// The calls received so far of one method, e.g. `GetBatchPredictionJob`.
    pub fn calls_of(&self, method: &str) -> Vec<RecordedCall> {
        lock(&self.state.inner.calls)
            .iter()
            .filter(|call| call.method == method)
            .cloned()
            .collect()
    }

    /// Arms a fault (see [`Fault`]).
    pub fn fault(&self, fault: Fault) {
        lock(&self.state.inner.faults).add(fault);
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        lock(&self.state.inner.faults).clear();
    }

    /// How jobs created from now on end (default [`Outcome::Succeeded`]). The job label
    /// [`OUTCOME_LABEL`] overrides it for one job.
    pub fn set_outcome(&self, outcome: Outcome) {
        *lock(&self.state.inner.outcome) = outcome;
    }

    /// How many jobs exist (deleted ones are gone).
    pub fn job_count(&self) -> usize {
        lock(&self.state.inner.jobs).by_seq.len()
    }

    /// The shared state, to restart an emulator with it ([`EmulatorBuilder::state`]).
    pub fn state(&self) -> EmulatorState {
        self.state.clone()
    }

    /// Stops the servers and waits until they have stopped. Calls in flight are let finish
    /// (a call held by a long [`Fault::delay`] holds the shutdown too; drop the handle instead).
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        // The servers watch this flag; dropping the sender would stop them as well.
        let _ = self.shutdown.send(true);
    }
}

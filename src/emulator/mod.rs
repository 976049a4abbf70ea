//! An in-memory Vertex AI JobService for tests and offline development (feature `emulator`).
//!
//! A real tonic server on loopback, plain or TLS, serving the five batch-prediction RPCs with
//! the service's validation, a job lifecycle on a clock it owns (a manual one for tests), the
//! google.longrunning Operations that Delete starts, an OAuth token endpoint for
//! service-account JWTs, call recording, fault injection, and optionally a local folder standing
//! in for `gs://` where jobs really read their input and write predictions.jsonl
//! ([`EmulatorBuilder::with_gcs_root`]). Every other JobService RPC answers
//! UNIMPLEMENTED. Any client generated from the same protos can use it.
//!
//! As a process of its own: `vertex-batch-emulator` or `vertex-batch emulator`, the same
//! [`launcher`] behind both.
//!
//! The same port answers REST as well ([`Emulator::rest_uri`]): the service's HTTP/JSON
//! API at the paths of its `google.api.http` annotations, proto3 JSON bodies, Google's JSON
//! errors, over the same state, so the documentation's curl commands, Google's REST client
//! libraries and a gRPC client see the same jobs.
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
//! let emu = Emulator::builder().with_manual_clock(true).start().await?;
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
mod builder;
mod clock;
mod echo;
mod faults;
mod filter;
mod gcs_folder;
mod http1;
mod import;
mod job_rows;
pub mod launcher;
mod lifecycle;
mod operations;
mod outcome;
mod records;
mod rest;
mod row_faults;
mod server;
mod service;
mod service_account;
mod state;
mod storage;
#[cfg(feature = "bigquery")]
mod table_job;
mod tls;
mod tls_incoming;
mod token_endpoint;
mod truth;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use builder::EmulatorBuilder;
pub use faults::Fault;
pub use outcome::{OUTCOME_LABEL, Outcome};
pub use records::RecordedCall;
pub use service_account::ServiceAccountKey;
pub use state::EmulatorState;
pub use storage::StorageFaultCounts;

use crate::Error;
use clock::lock;
use gcs_folder::GcsFolder;
use row_faults::RowFaults;

/// A running emulator, from [`Emulator::builder`]. Dropping it stops the servers;
/// [`Emulator::shutdown`] also waits until they have stopped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), vertex_batch::Error> {
/// use tonic::Code;
/// use vertex_batch::emulator::{Emulator, Fault, Outcome};
///
/// let emu = Emulator::builder().with_require_auth(true).start().await?;
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
pub struct Emulator {
    location: String,
    grpc_addr: SocketAddr,
    token_addr: SocketAddr,
    storage_addr: SocketAddr,
    storage: std::sync::Arc<storage::StorageApi>,
    row_faults: RowFaults,
    ca_pem: Option<String>,
    token_lifetime: Duration,
    gcs_folder: Option<GcsFolder>,
    #[cfg(feature = "bigquery")]
    bigquery_endpoint: Option<String>,
    state: EmulatorState,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Emulator {
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
    /// ([`EmulatorBuilder::with_gcs_root`]).
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

    /// The BigQuery jobs over tables read and write, as a URL, when the emulator has one
    /// ([`EmulatorBuilder::with_bigquery_endpoint`]).
    #[cfg(feature = "bigquery")]
    #[cfg_attr(docsrs, doc(cfg(feature = "bigquery")))]
    pub fn bigquery_endpoint(&self) -> Option<&str> {
        self.bigquery_endpoint.as_deref()
    }

    /// Where `gs://bucket/path` is in the local folder: `ROOT/bucket/path`. Use it to put input
    /// files in place and to read a job's output directory. A URI ending in `/` is the folder
    /// of the objects below it.
    ///
    /// The folder holds Cloud Storage's flat namespace, every name at a path of its own inside
    /// the root: a segment that is no file name as it is (empty, as in `gs://b//x`; `.` or
    /// `..`; holding `\`; starting with `%`) is `%` and the segment percent-encoded
    /// (`gs://b//x` is `ROOT/b/%/x`), and an object that shares its path with a folder (objects
    /// `a` and `a/b`) is the file `%%` in that folder (`ROOT/b/a/%%`; this method answers the
    /// folder then).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the emulator has no local folder, or `uri` is not a
    /// `gs://bucket/...` URI with a valid bucket name.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// let root = std::env::temp_dir();
    /// let emu = vertex_batch::emulator::Emulator::builder().with_gcs_root(&root).start().await?;
    /// assert_eq!(emu.local_path("gs://bucket/out/")?, root.join("bucket/out"));
    /// assert_eq!(emu.local_path("gs://bucket//x")?, root.join("bucket/%/x"));
    /// assert_eq!(
    ///     emu.local_path("gs://bucket/../../etc/passwd")?,
    ///     root.join("bucket/%%2E%2E/%%2E%2E/etc/passwd"),
    /// );
    /// assert!(emu.local_path("gs://Bucket/x").unwrap_err().is_invalid_input());
    /// # Ok(()) }
    /// ```
    pub fn local_path(&self, uri: &str) -> Result<PathBuf, Error> {
        let folder = self.gcs_folder.as_ref().ok_or_else(|| {
            Error::invalid(
                "gcs_root",
                "this emulator has no local gs:// folder: start it with EmulatorBuilder::with_gcs_root",
            )
        })?;
        folder
            .local_path(uri)
            .map_err(|reason| Error::invalid("uri", reason))
    }

    /// The Cloud Storage endpoint, `http://127.0.0.1:PORT` (always plain HTTP): the JSON API
    /// subset a storage client uses, over the objects the jobs read and write (the
    /// [`gcs_root`](EmulatorBuilder::with_gcs_root) folder, or memory). Give it to a client as
    /// `STORAGE_EMULATOR_HOST`. When the emulator requires auth, so does this endpoint (but
    /// a resumable session URI is its own credential, as on the service).
    pub fn storage_uri(&self) -> String {
        server::storage_uri(self.storage_addr)
    }

    /// Every request the storage endpoint received so far, oldest first, as
    /// `METHOD /path` followed by what matters of it: `uploadType=resumable`,
    /// `content-range: bytes 0-262143/*` for a chunk, `range: bytes=0-9` for a download,
    /// `pageToken=...` for a listing page. Empty when calls are not recorded
    /// ([`EmulatorBuilder::with_record_calls`]).
    pub fn storage_requests(&self) -> Vec<String> {
        self.storage.requests()
    }

    /// The next `n` chunks of resumable uploads are cut off half way: the storage endpoint
    /// keeps half of each chunk's bytes and answers 503, as when a connection breaks, so a
    /// client must ask what was kept and send the rest.
    pub fn fail_next_upload_chunks(&self, n: u64) {
        self.storage.fail_next_upload_chunks(n);
    }

    /// The address the OAuth token endpoint listens on (see
    /// [`EmulatorBuilder::with_token_addr`]): to restart an emulator where keys find it.
    pub fn token_addr(&self) -> SocketAddr {
        self.token_addr
    }

    /// The address the storage endpoint listens on.
    pub fn storage_addr(&self) -> SocketAddr {
        self.storage_addr
    }

    /// The storage endpoint's requests so far and the faults it injected
    /// ([`EmulatorBuilder::with_storage_failure_rate`], [`EmulatorBuilder::with_storage_drop_rate`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// let emu = vertex_batch::emulator::Emulator::builder().start().await?;
    /// emu.set_storage_fault_rates(0.5, 0.0)?;
    /// assert_eq!(emu.storage_faults().total(), 0);
    /// # Ok(()) }
    /// ```
    pub fn storage_faults(&self) -> StorageFaultCounts {
        self.storage.faults.counts()
    }

    /// Changes the storage fault rates from now on: the share of storage requests answered
    /// 429 or 503, and the share of downloads dropped part way.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a rate outside 0..=1.
    pub fn set_storage_fault_rates(&self, failure: f64, drop: f64) -> Result<(), Error> {
        storage::StorageFaults::check_rates(failure, drop)?;
        self.storage.faults.set_rates(failure, drop);
        Ok(())
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
    /// let emu = Emulator::builder().with_tls(true).with_require_auth(true).start().await?;
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
    /// [`Emulator::service_account_key`]) whose JWT is exchanged for a token at this
    /// emulator's token endpoint.
    pub fn credentials(&self) -> crate::auth::Credentials {
        crate::auth::Credentials::service_account_json(self.service_account_key().json)
    }

    /// A valid bearer token, issued without the JWT flow (for static-token tests). Not counted
    /// in [`Emulator::tokens_issued`].
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

    /// Every call received so far, gRPC or REST, oldest first.
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
        let now = self.state.inner.clock.now();
        lock(&self.state.inner.faults).add(fault, now);
    }

    /// The next `jobs` jobs created stay queued (PENDING) until they are cancelled: a job stuck
    /// in the service's queue.
    pub fn stick_next_jobs(&self, jobs: u64) {
        self.state
            .inner
            .stuck_next
            .store(jobs, std::sync::atomic::Ordering::Relaxed);
    }

    /// Calls refused by an [outage](Fault::outage) so far.
    pub fn outage_refusals(&self) -> u64 {
        lock(&self.state.inner.faults).outage_refusals()
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

    /// The shared state, to restart an emulator with it ([`EmulatorBuilder::with_state`]).
    pub fn state(&self) -> EmulatorState {
        self.state.clone()
    }

    /// Stops the servers and waits until they have stopped. Calls in flight are let finish
    /// (a call held by a long [`Fault::delay`] holds the shutdown too; drop the emulator instead).
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // The servers watch this flag; dropping the sender would stop them as well.
        let _ = self.shutdown.send(true);
    }
}

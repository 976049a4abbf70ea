//! An in-memory Vertex AI JobService for tests and offline development (feature `emulator`).
//!
//! A real tonic server on loopback, plain or TLS, serving the five batch-prediction RPCs with
//! the service's validation, a job lifecycle on a clock it owns (a manual one for tests), the
//! google.longrunning Operations that Delete starts, an OAuth token endpoint for
//! service-account JWTs, call recording and fault injection. Every other JobService RPC answers
//! UNIMPLEMENTED. Any client generated from the same protos can use it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use vertex_batch::emulator::Emulator;
//! use vertex_batch::v1::job_service_client::JobServiceClient;
//! use vertex_batch::v1::GetBatchPredictionJobRequest;
//!
//! let emu = Emulator::builder().manual_clock().start().await?;
//! let mut client = JobServiceClient::connect(emu.uri()).await?;
//! // ... create a job, then move time on: it runs and succeeds without anyone sleeping.
//! emu.advance(Duration::from_secs(60));
//! # let _ = (&mut client, GetBatchPredictionJobRequest::default());
//! emu.shutdown().await;
//! # Ok(()) }
//! ```

mod clock;
mod faults;
mod filter;
mod lifecycle;
mod operations;
mod outcome;
mod records;
mod server;
mod service;
mod service_account;
mod state;
mod tls;
mod token_endpoint;
mod validate;

use std::net::SocketAddr;
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
use lifecycle::Durations;

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
    token_lifetime: Duration,
    manual_clock: bool,
    durations: Durations,
    operation_duration: Duration,
    addr: SocketAddr,
    state: Option<EmulatorState>,
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

    /// Binds and starts serving. Must run inside a tokio runtime.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed location, [`Error::Transport`] when a port cannot
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
            durations: self.durations,
            operation_duration: self.operation_duration,
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
            ca_pem: tls.map(|tls| tls.ca_pem),
            token_lifetime: self.token_lifetime,
            state,
            shutdown: running.shutdown,
            tasks: running.tasks,
        })
    }
}

/// A running emulator. Dropping it stops the servers; [`EmulatorHandle::shutdown`] also waits
/// until they have stopped.
#[derive(Debug)]
pub struct EmulatorHandle {
    location: String,
    grpc_addr: SocketAddr,
    token_addr: SocketAddr,
    ca_pem: Option<String>,
    token_lifetime: Duration,
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

    /// The OAuth token endpoint, `http://127.0.0.1:PORT/token` (always plain HTTP).
    pub fn token_uri(&self) -> String {
        server::token_uri(self.token_addr)
    }

    /// A service-account key (JSON, as a key file) whose `token_uri` is this emulator's token
    /// endpoint, and which the endpoint trusts. The RSA key is generated once per process.
    ///
    /// # Errors
    /// [`Error::Auth`] if the key cannot be generated.
    pub fn service_account_key(&self) -> Result<ServiceAccountKey, Error> {
        let (key, public) =
            service_account::key_for(&self.token_uri()).map_err(|message| Error::Auth {
                source_name: "emulator service account".to_string(),
                message,
            })?;
        lock(&self.state.inner.keys).insert(key.client_email.clone(), public);
        Ok(key)
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

    /// Stops the servers and waits until they have stopped.
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

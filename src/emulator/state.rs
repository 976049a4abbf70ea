//! The emulator's state: jobs, operations, tokens, faults and the call log, shared by the gRPC
//! services, the token endpoint and the `Emulator`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use rsa::RsaPublicKey;
use tonic::metadata::MetadataMap;

use super::clock::{Clock, lock};
use super::faults::FaultSet;
use super::lifecycle::StoredJob;
use super::operations::DeleteOperation;
use super::outcome::Outcome;
use super::records::RecordedCall;
use super::storage::{ObjectStore, StorageFaults};

/// The emulator's state, shared by its servers and handles. Hand it to
/// [`EmulatorBuilder::with_state`](super::EmulatorBuilder::with_state) to restart an emulator (on the same
/// port, say) with the jobs, operations and tokens of a previous one. The clock comes with it.
///
/// ```no_run
/// # async fn demo() -> Result<(), vertex_batch::Error> {
/// use vertex_batch::emulator::Emulator;
///
/// let first = Emulator::builder().start().await?;
/// let (addr, state) = (first.local_addr(), first.state());
/// first.shutdown().await;
/// let again = Emulator::builder().with_addr(addr).with_state(state).start().await?;
/// # let _ = again; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct EmulatorState {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) clock: Clock,
    pub(crate) jobs: Mutex<JobStore>,
    pub(crate) operations: Mutex<HashMap<String, DeleteOperation>>,
    pub(crate) outcome: Mutex<Outcome>,
    pub(crate) faults: Mutex<FaultSet>,
    /// Jobs still to be created that stay queued until cancelled.
    pub(crate) stuck_next: AtomicU64,
    pub(crate) calls: Mutex<Vec<RecordedCall>>,
    /// Issued bearer tokens and when they expire. Token text lives only here.
    tokens: Mutex<HashMap<String, Instant>>,
    pub(crate) tokens_issued: AtomicUsize,
    pub(crate) token_endpoint_failing: AtomicBool,
    /// Service-account public keys the token endpoint trusts, by client_email.
    pub(crate) keys: Mutex<HashMap<String, RsaPublicKey>>,
    next_operation: AtomicU64,
    /// The objects of an emulator without a local folder: kept with the state, so an emulator
    /// restarted with it still has them.
    pub(crate) memory_store: ObjectStore,
    /// The storage endpoint's fault rates and counts: kept with the state, so the counts of
    /// an emulator restarted with it go on.
    pub(crate) storage_faults: Arc<StorageFaults>,
}

/// Jobs in creation order (`seq`), with an index by resource name.
#[derive(Debug, Default)]
pub(crate) struct JobStore {
    pub(crate) by_seq: BTreeMap<u64, StoredJob>,
    pub(crate) by_name: HashMap<String, u64>,
    next_seq: u64,
    /// Added to `seq` to make ids that look like the service's 19-digit ones.
    id_base: u64,
}

impl JobStore {
    /// Reserves the next sequence number and its numeric job id.
    pub(crate) fn next_id(&mut self) -> (u64, u64) {
        self.next_seq += 1;
        (self.next_seq, self.id_base + self.next_seq)
    }

    pub(crate) fn insert(&mut self, seq: u64, job: StoredJob) {
        self.by_name.insert(job.created_as.name.clone(), seq);
        self.by_seq.insert(seq, job);
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut StoredJob> {
        let seq = self.by_name.get(name)?;
        self.by_seq.get_mut(seq)
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<StoredJob> {
        let seq = self.by_name.remove(name)?;
        self.by_seq.remove(&seq)
    }
}

impl EmulatorState {
    pub(crate) fn new(clock: Clock) -> Self {
        let id_base =
            rand::thread_rng().gen_range(1_000_000_000_000_000_000..8_000_000_000_000_000_000);
        EmulatorState {
            inner: Arc::new(Inner {
                clock,
                jobs: Mutex::new(JobStore {
                    id_base,
                    ..JobStore::default()
                }),
                operations: Mutex::default(),
                outcome: Mutex::default(),
                faults: Mutex::default(),
                stuck_next: AtomicU64::new(0),
                calls: Mutex::default(),
                tokens: Mutex::default(),
                tokens_issued: AtomicUsize::new(0),
                token_endpoint_failing: AtomicBool::new(false),
                keys: Mutex::default(),
                next_operation: AtomicU64::new(id_base / 2),
                memory_store: ObjectStore::memory(),
                storage_faults: Arc::new(StorageFaults::new(0.0, 0.0, 0)),
            }),
        }
    }

    /// Whether the job being created stays queued (uses up one of [`Inner::stuck_next`]).
    pub(crate) fn take_stuck(&self) -> bool {
        self.inner
            .stuck_next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    pub(crate) fn next_operation_id(&self) -> u64 {
        self.inner.next_operation.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Makes a new bearer token valid for `lifetime`.
    pub(crate) fn mint_token(&self, lifetime: Duration) -> String {
        use base64::Engine;
        let bytes: [u8; 32] = rand::thread_rng().r#gen();
        let token = format!(
            "ya29.emulator-{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let mut tokens = lock(&self.inner.tokens);
        let now = Instant::now();
        // Forget expired tokens so a long-running emulator does not grow without bound.
        tokens.retain(|_, expires| *expires > now);
        tokens.insert(token.clone(), now + lifetime);
        token
    }

    /// Records the call, checks its bearer token when auth is required, then applies the faults
    /// armed for `method`.
    pub(crate) async fn admit(
        &self,
        method: &str,
        metadata: &MetadataMap,
        config: &super::server::Config,
    ) -> Result<(), tonic::Status> {
        if config.record_calls {
            lock(&self.inner.calls).push(RecordedCall::from_metadata(method, metadata));
        }
        if config.require_auth {
            self.check_bearer(metadata)?;
        }
        let now = self.inner.clock.now();
        let verdict = lock(&self.inner.faults).before(method, now);
        if !verdict.delay.is_zero() {
            tokio::time::sleep(verdict.delay).await;
        }
        verdict.fail.map_or(Ok(()), Err)
    }

    fn check_bearer(&self, metadata: &MetadataMap) -> Result<(), tonic::Status> {
        let header = metadata.get("authorization").map(|value| value.as_bytes());
        match self.bearer_refusal(header) {
            None => Ok(()),
            Some(message) => Err(tonic::Status::unauthenticated(message)),
        }
    }

    /// Why an `authorization` header (or its absence) is refused, or `None` when it carries a
    /// token this emulator issued that has not expired. gRPC and the storage API share it.
    pub(crate) fn bearer_refusal(&self, header: Option<&[u8]>) -> Option<&'static str> {
        let Some(header) = header else {
            return Some(
                "Request is missing required authentication credential: expected an \
                 `authorization: Bearer <token>` header with a token issued by this emulator",
            );
        };
        // The scheme is case-insensitive (RFC 9110), as the service takes it.
        let Some(token) = std::str::from_utf8(header)
            .ok()
            .and_then(|value| value.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
        else {
            return Some(
                "Request had invalid authentication credentials: the authorization header \
                 is not `Bearer <token>`",
            );
        };
        match lock(&self.inner.tokens).get(token) {
            Some(expires) if *expires > Instant::now() => None,
            Some(_) => {
                Some("Request had invalid authentication credentials: the access token expired")
            }
            None => Some(
                "Request had invalid authentication credentials: this emulator did not issue the \
                 access token",
            ),
        }
    }
}

//! Every Cloud Storage request survives transient failures: 408, 429, 5xx and broken
//! connections are retried with the crate's one backoff ([`RetryPolicy`](crate::RetryPolicy):
//! exponential with full jitter, a budget and a most-attempts, the same rule as the Vertex AI
//! calls), and each retry is an `info` event under the target `vertex_batch::storage` (shown by
//! the CLI's `-v`): the operation, the object, the attempt, what failed and the delay. No event
//! carries a token or a resumable session's URI. Each retry is also counted, in the count the
//! client and its clones share ([`Storage::retries`]).
//!
//! Each request counts its own attempts and budget: a chunk of an upload, a page of a listing,
//! and a download from where its bytes stopped (the count starts again once bytes arrive). An
//! upload's budget counts from its first failure, since sending its bytes may take long.
//! See <https://cloud.google.com/storage/docs/retry-strategy>.

use std::error::Error as _;
use std::time::{Duration, Instant};

use gcloud_storage::http::Error as GcsError;

use super::errors::Op;
use super::{ObjectUri, Storage};
use crate::error::Result;

/// The attempts of one request so far.
#[derive(Debug)]
pub(super) struct Attempts {
    started: Instant,
    attempt: u32,
}

impl Attempts {
    pub(super) fn new() -> Self {
        Attempts {
            started: Instant::now(),
            attempt: 1,
        }
    }

    /// The request made progress (a download received bytes): its count starts again.
    pub(super) fn reset(&mut self) {
        *self = Attempts::new();
    }

    /// How long to wait before trying again after `err`, logging the retry; `None` when the
    /// failure is not one to retry, or the policy's attempts or budget are spent.
    pub(super) fn retry_after(
        &mut self,
        storage: &Storage,
        err: &GcsError,
        op: Op,
        uri: &ObjectUri,
    ) -> Option<Duration> {
        if !retriable(err) {
            return None;
        }
        self.retry_after_failure(storage, &describe(err), op, uri)
    }

    /// As [`retry_after`](Self::retry_after), for a failure known to be worth retrying and
    /// described by `what`. Each retry it allows is logged and counted in
    /// [`Storage::retries`]: the one place both happen, so the log and the count agree.
    pub(super) fn retry_after_failure(
        &mut self,
        storage: &Storage,
        what: &str,
        op: Op,
        uri: &ObjectUri,
    ) -> Option<Duration> {
        let policy = storage.retry_policy();
        let delay = policy.backoff(self.attempt);
        if policy.gives_up(self.attempt, self.started.elapsed(), delay) {
            return None;
        }
        storage.count_retry();
        tracing::info!(
            target: "vertex_batch::storage",
            op = op.name(),
            object = %uri,
            attempt = self.attempt,
            error = what,
            delay_ms = delay.as_millis() as u64,
            "retrying a Cloud Storage request",
        );
        self.attempt += 1;
        Some(delay)
    }
}

impl Storage {
    /// Runs `call` until it succeeds, fails in a way not worth retrying, or the retry policy
    /// is spent; the error then names `op` and `uri`. Each attempt has the policy's
    /// [`attempt_timeout`](crate::RetryPolicy::attempt_timeout): one with no answer by then
    /// counts as failed (and is retried).
    pub(super) async fn retrying<T, F, Fut>(&self, op: Op, uri: &ObjectUri, call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, GcsError>>,
    {
        let limit = self.retry_policy().attempt_timeout();
        self.retrying_within(op, uri, limit, call).await
    }

    /// As [`retrying`](Self::retrying), each attempt given `limit` (`None`: as long as it
    /// takes, for uploads whose size is the caller's).
    pub(super) async fn retrying_within<T, F, Fut>(
        &self,
        op: Op,
        uri: &ObjectUri,
        limit: Option<Duration>,
        mut call: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, GcsError>>,
    {
        let mut attempts = Attempts::new();
        let mut first = true;
        loop {
            let outcome = match limit {
                Some(limit) => tokio::time::timeout(limit, call()).await.ok(),
                None => Some(call().await),
            };
            if std::mem::take(&mut first) && limit.is_none() {
                // An attempt with no time limit (an upload) may have taken long: the budget
                // counts from its end.
                attempts.reset();
            }
            let delay = match outcome {
                Some(Ok(value)) => return Ok(value),
                Some(Err(err)) => match attempts.retry_after(self, &err, op, uri) {
                    Some(delay) => delay,
                    None => return Err(self.error(err, op, uri)),
                },
                None => {
                    let what = format!("no answer within {:?}", limit.unwrap_or_default());
                    match attempts.retry_after_failure(self, &what, op, uri) {
                        Some(delay) => delay,
                        None => return Err(self.timed_out(&what)),
                    }
                }
            };
            tokio::time::sleep(delay).await;
        }
    }

    /// A request (or a download's next bytes) that did not come in time, as an error.
    pub(super) fn timed_out(&self, what: &str) -> crate::Error {
        crate::Error::Transport {
            endpoint: self.endpoint().to_owned(),
            message: format!(
                "{what} (the retry policy's attempt timeout): check the storage endpoint and \
                 the network, or allow more time (RetryPolicy::with_attempt_timeout)"
            ),
            failure: crate::error::TransportFailure::Other,
        }
    }
}

/// A failure that another try may get past (Cloud Storage's retry strategy): a connection
/// that could not be made or broke, a timeout, a body cut off, 408, 429 or 5xx.
pub(super) fn retriable(err: &GcsError) -> bool {
    let status_retriable = |code: u16| matches!(code, 408 | 429 | 500..=599);
    match err {
        GcsError::Response(response) => response.is_retriable(),
        GcsError::HttpClient(err) | GcsError::RawResponse(err, _) => match err.status() {
            Some(status) => status_retriable(status.as_u16()),
            None => {
                err.is_connect()
                    || err.is_timeout()
                    || err.is_request()
                    || err.is_body()
                    // A body that broke off while streaming, not one that did not parse.
                    || (err.is_decode() && !is_parse_error(err))
            }
        },
        GcsError::HttpMiddleware(_) => true,
        GcsError::TokenSource(_) | GcsError::InvalidRangeHeader(_) => false,
    }
}

fn is_parse_error(err: &reqwest::Error) -> bool {
    let mut source = err.source();
    while let Some(error) = source {
        if error.is::<serde_json::Error>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// What failed, for the log: the status and the service's message, or the kind of connection
/// failure and its causes; never the request's URL (a resumable session's URI is the right to
/// write the object) nor a header.
fn describe(err: &GcsError) -> String {
    match err {
        GcsError::Response(response) => format!("HTTP {}: {}", response.code, response.message),
        GcsError::HttpClient(err) | GcsError::RawResponse(err, _) => match err.status() {
            Some(status) => format!("HTTP {}", status.as_u16()),
            None => describe_connection(err),
        },
        GcsError::HttpMiddleware(_) => "an HTTP middleware failed".to_owned(),
        GcsError::TokenSource(_) => "no token".to_owned(),
        GcsError::InvalidRangeHeader(header) => format!("an invalid Range header {header:?}"),
    }
}

/// A connection failure of the HTTP client (Cloud Storage's and BigQuery's), for messages and
/// the log: its kind and causes, never the URL's query nor a header.
pub(crate) fn describe_connection(err: &reqwest::Error) -> String {
    let kind = if err.is_connect() {
        "could not connect"
    } else if err.is_timeout() {
        "timed out"
    } else if err.is_body() || err.is_decode() {
        "the body broke off"
    } else {
        "the request failed"
    };
    match err.source() {
        Some(source) => format!("{kind}: {}", crate::error::flatten(source)),
        None => kind.to_owned(),
    }
}

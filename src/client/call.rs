//! The one retry loop every RPC goes through: the routing header, a deadline per attempt,
//! backoff within the policy's attempts and budget, a tracing span per attempt, and the failure
//! turned into the crate's [`Error`](crate::Error).
//!
//! What may be sent again after a failed attempt is the call's [`Resend`] rule: by idempotency
//! (AIP-194, [`RetryPolicy::is_retryable`]) for every RPC but one; for the exactly-once Create
//! (`create.rs`), only after a lookup has shown that the failed attempt created nothing. The
//! lookup is an attempt of the same loop, under the same attempts and budget.

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tonic::{Code, Status};
use tracing::Instrument;

use super::JobClient;
use super::retry::{Idempotency, RetryPolicy, outcome_unknown};
use crate::error::{Error, Result};

/// What the retry loop needs to know about an RPC.
pub(crate) struct Rpc<'a, Resp> {
    /// The RPC's name, e.g. `GetBatchPredictionJob`: tracing and error messages.
    pub method: &'static str,
    /// The routing header value: the parent or the job's name.
    pub routing: Routing<'a>,
    /// What may be sent again after a failed attempt.
    pub resend: Resend<'a, Resp>,
}

/// What may be sent again after a failed attempt.
pub(crate) enum Resend<'a, Resp> {
    /// What [`RetryPolicy::is_retryable`] allows for a call of this idempotency: any call whose
    /// request never left the client, idempotent ones after `UNAVAILABLE` too.
    Idempotency(Idempotency),
    /// Exactly once: after a failure that leaves the outcome unknown ([`outcome_unknown`]),
    /// the lookup finds what the failed attempt made, and what it finds is the call's answer.
    /// The request is sent again only once the lookup has found nothing; a lookup whose own
    /// outcome is unknown is tried again first. Any other failure is final.
    AfterLookup(&'a Lookup<'a, Resp>),
}

// By hand: derived, they would ask `Resp: Copy`.
impl<Resp> Clone for Resend<'_, Resp> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<Resp> Copy for Resend<'_, Resp> {}

/// Finds what a failed attempt made, if anything: for [`Resend::AfterLookup`].
pub(crate) type Lookup<'a, Resp> =
    dyn Fn() -> BoxFuture<'a, Result<Option<Resp>>> + Send + Sync + 'a;

/// The next attempt of a call: a send, or a lookup after a send whose outcome is unknown.
enum Step<'a, Resp> {
    Send,
    LookUp {
        lookup: &'a Lookup<'a, Resp>,
        /// The failed send's error: what the call fails with if the lookups never resolve it.
        failed: Error,
    },
}

impl JobClient {
    /// Sends `request` through `send` until it succeeds, fails for good, or the client's retry
    /// policy has no attempt or budget left; `rpc.resend` says what may be sent again.
    /// `send` gets a clone of `stub` for each attempt (the generated clients' methods borrow
    /// them mutably).
    pub(crate) async fn call<Stub, Req, Resp, F, Fut>(
        &self,
        rpc: Rpc<'_, Resp>,
        stub: &Stub,
        request: Req,
        mut send: F,
    ) -> Result<Resp>
    where
        Stub: Clone,
        Req: Clone,
        F: FnMut(Stub, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        let policy = self.retry_policy();
        let started = Instant::now();
        let mut attempt = 1;
        let mut step = Step::Send;
        loop {
            // Each failed attempt gives: the wait before the next one, the error the call
            // fails with if there is none, and whether the next one is a lookup.
            let (delay, error, look_up_next) = match step {
                Step::Send => {
                    let remaining = policy.budget().saturating_sub(started.elapsed());
                    let status = match self
                        .attempt(&rpc, policy, request.clone(), attempt, remaining, |r| {
                            send(stub.clone(), r)
                        })
                        .await
                    {
                        Ok(response) => return Ok(response),
                        Err(status) => status,
                    };
                    match rpc.resend {
                        Resend::Idempotency(idempotency) => {
                            let retry = policy.is_retryable(&status, idempotency);
                            let delay = policy.delay_before_retry(attempt, Some(&status));
                            let error = self.status_error(status);
                            if !retry {
                                return Err(error);
                            }
                            (delay, error, false)
                        }
                        Resend::AfterLookup(lookup) => {
                            let failed = self.status_error(status);
                            if !outcome_unknown(&failed) {
                                return Err(failed);
                            }
                            // At once: the lookup asks what became of this very attempt.
                            step = Step::LookUp { lookup, failed };
                            continue;
                        }
                    }
                }
                Step::LookUp { lookup, failed } => match lookup().await {
                    Ok(Some(found)) => return Ok(found),
                    // Known not to have taken effect: sent again, after the backoff the
                    // failure asks for.
                    Ok(None) => (
                        policy.delay_before_retry(attempt, failed.status()),
                        failed,
                        false,
                    ),
                    Err(lookup_error) if outcome_unknown(&lookup_error) => {
                        (policy.delay_before_retry(attempt, None), failed, true)
                    }
                    Err(lookup_error) => return Err(lookup_error),
                },
            };
            // The one check of attempts and budget, for sends and lookups alike.
            if policy.gives_up(attempt, started.elapsed(), delay) {
                // For a Create still unresolved, the error says so; the job, if it exists,
                // carries its request-id label.
                return Err(error);
            }
            tracing::debug!(method = rpc.method, attempt, ?delay, %error, "retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
            step = match (look_up_next, rpc.resend) {
                (true, Resend::AfterLookup(lookup)) => Step::LookUp {
                    lookup,
                    failed: error,
                },
                _ => Step::Send,
            };
        }
    }

    /// One attempt: the routing header, a deadline of the per-attempt timeout (never past the
    /// remaining budget), and a span recording the outcome.
    async fn attempt<Req, Resp, F, Fut>(
        &self,
        rpc: &Rpc<'_, Resp>,
        policy: &RetryPolicy,
        request: Req,
        attempt: u32,
        remaining: Duration,
        mut send: F,
    ) -> Result<Resp, Status>
    where
        F: FnMut(tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        let mut request = rpc.routing.apply(tonic::Request::new(request));
        let deadline = policy
            .attempt_timeout()
            .map(|timeout| attempt_deadline(timeout, remaining));
        if let Some(deadline) = deadline {
            // Sent as grpc-timeout so the server stops too. tonic's channel enforces the same
            // header on the client (a dead connection never answers), so no timer of our own:
            // a second one per call cost a fifth of a loopback Get (benches/client.rs).
            request.set_timeout(deadline);
        }
        let span = tracing::info_span!(
            "vertex_batch.rpc",
            method = rpc.method,
            resource = %rpc.routing.resource(),
            attempt,
            code = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let outcome = send(request).instrument(span.clone()).await;
        let code = outcome.as_ref().map_or_else(Status::code, |_| Code::Ok);
        let duration_ms = started.elapsed().as_millis() as u64;
        span.record("code", tracing::field::debug(code));
        span.record("duration_ms", duration_ms);
        // The same as an event, for logs that print events only (`vertex-batch -v`).
        tracing::debug!(
            method = rpc.method,
            resource = %rpc.routing.resource(),
            attempt,
            ?code,
            duration_ms,
            "call"
        );
        outcome.map(tonic::Response::into_inner)
    }

    /// The crate's error for a status: an auth or transport error when the call never reached
    /// the service; the service's answer, with advice where the crate has some, when it did.
    fn status_error(&self, status: Status) -> Error {
        self.channel().error_from_status(status)
    }
}

/// The deadline of one attempt: the per-attempt timeout, capped by what is left of the budget.
/// Whole seconds from a second up: `grpc-timeout` then takes few distinct values, which HPACK
/// indexes, rather than a new literal on every call (the budget left shrinks by microseconds).
fn attempt_deadline(timeout: Duration, remaining: Duration) -> Duration {
    let deadline = timeout.min(remaining).max(Duration::from_millis(1));
    if deadline >= Duration::from_secs(1) {
        Duration::from_secs(deadline.as_secs())
    } else {
        deadline
    }
}

/// The resource a call is routed by (`x-goog-request-params`).
#[derive(Clone, Copy)]
pub(crate) enum Routing<'a> {
    /// `parent=`: Create, List.
    Parent(&'a str),
    /// `name=`: Get, Delete, Cancel, GetOperation.
    Name(&'a str),
}

impl Routing<'_> {
    fn apply<T>(self, request: tonic::Request<T>) -> tonic::Request<T> {
        match self {
            Routing::Parent(parent) => crate::routing::with_parent(request, parent),
            Routing::Name(name) => crate::routing::with_name(request, name),
        }
    }

    fn resource(&self) -> &str {
        match self {
            Routing::Parent(resource) | Routing::Name(resource) => resource,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_deadlines_are_whole_seconds_from_a_second_up() {
        let sixty = Duration::from_secs(60);
        assert_eq!(
            attempt_deadline(sixty, sixty - Duration::from_micros(7)),
            Duration::from_secs(59)
        );
        assert_eq!(
            attempt_deadline(sixty, sixty - Duration::from_micros(9)),
            Duration::from_secs(59)
        );
        assert_eq!(
            attempt_deadline(Duration::from_secs(5), sixty),
            Duration::from_secs(5)
        );
        assert_eq!(
            attempt_deadline(sixty, Duration::from_millis(250)),
            Duration::from_millis(250)
        );
        assert_eq!(
            attempt_deadline(sixty, Duration::ZERO),
            Duration::from_millis(1)
        );
    }
}

//! One RPC with the client's retry policy: routing header, per-attempt deadline, backoff, and a
//! tracing span per attempt.

use std::future::Future;
use std::time::{Duration, Instant};

use tonic::{Code, Status};
use tracing::Instrument;

use crate::client::JobClient;
use crate::error::{Error, Result};
use crate::retry::{Idempotency, RetryPolicy};

/// What the retry loop needs to know about an RPC.
pub(crate) struct Rpc<'a> {
    /// The RPC's name, e.g. `GetBatchPredictionJob`: tracing and error messages.
    pub method: &'static str,
    /// The routing header value: the parent or the job's name.
    pub routing: Routing<'a>,
    pub idempotency: Idempotency,
}

impl JobClient {
    /// Sends `request` through `send` until it succeeds, fails for good, or the policy's budget
    /// or attempts are spent.
    /// `send` gets a clone of `stub` for each attempt (the generated clients' methods borrow
    /// them mutably).
    pub(crate) async fn call<Stub, Req, Resp, F, Fut>(
        &self,
        rpc: Rpc<'_>,
        policy: &RetryPolicy,
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
        let started = Instant::now();
        let mut attempt = 1;
        loop {
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
            let retry =
                attempt < policy.max_attempts() && policy.is_retryable(&status, rpc.idempotency);
            let delay = policy.delay_before_retry(attempt, Some(&status));
            if !retry || started.elapsed() + delay >= policy.budget() {
                return Err(self.status_error(status));
            }
            tracing::debug!(method = rpc.method, attempt, ?delay, code = ?status.code(), "retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One attempt: the routing header, a deadline of the per-attempt timeout (never past the
    /// remaining budget), and a span recording the outcome.
    async fn attempt<Req, Resp, F, Fut>(
        &self,
        rpc: &Rpc<'_>,
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
        span.record("code", tracing::field::debug(code));
        span.record("duration_ms", started.elapsed().as_millis() as u64);
        outcome.map(tonic::Response::into_inner)
    }

    /// The crate's error for a status: an auth or transport error when the call never reached
    /// the service; the service's answer, with advice where the crate has some, when it did.
    pub(crate) fn status_error(&self, status: Status) -> Error {
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

//! One request to the REST API, retried: the token, the per-attempt timeout, the JSON body,
//! and the crate's one backoff ([`RetryPolicy`](crate::RetryPolicy): exponential with full
//! jitter, a budget and a most-attempts) on 408, 429, 5xx, BigQuery's `rateLimitExceeded` /
//! `backendError` and broken connections. Each retry is an `info` event under the target
//! `vertex_batch::bigquery` (the operation, the target, the attempt, what failed, the delay;
//! never a token) and is counted in [`BigQuery::retries`], at the one place both happen.
//! See <https://cloud.google.com/bigquery/docs/error-messages>.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use super::BigQuery;
use super::errors::{Op, parse_error_body, refused, retriable, transport};
use crate::error::Result;
use crate::storage::describe_connection;

/// One request: method, path below `/bigquery/v2/`, query parameters, JSON body.
pub(super) struct Call<'a> {
    pub(super) op: Op,
    /// What the request is about, for messages: `bq://p.d.t`, a dataset, a job.
    pub(super) target: &'a str,
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) query: Vec<(&'static str, String)>,
    pub(super) body: Option<Value>,
}

/// How one attempt ended, when it did not succeed.
enum Failure {
    /// The service answered with an error.
    Answered {
        code: u16,
        reason: String,
        message: String,
    },
    /// No answer: a connection that failed or broke, or no answer in time.
    Connection(String),
}

impl BigQuery {
    /// Sends `call` until it succeeds, fails in a way not worth retrying, or the retry policy
    /// is spent. Returns the answer's JSON (`Value::Null` for an empty body).
    pub(super) async fn send(&self, call: Call<'_>) -> Result<Value> {
        let policy = &self.inner.retry;
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let outcome = match policy.attempt_timeout() {
                Some(limit) => match tokio::time::timeout(limit, self.attempt(&call)).await {
                    Ok(outcome) => outcome?,
                    Err(_) => Err(Failure::Connection(format!(
                        "no answer within {limit:?} (the retry policy's attempt timeout)"
                    ))),
                },
                None => self.attempt(&call).await?,
            };
            let failure = match outcome {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let (worth, what) = match &failure {
                Failure::Answered {
                    code,
                    reason,
                    message,
                } => (
                    retriable(*code, reason),
                    format!("HTTP {code} {reason}: {message}"),
                ),
                Failure::Connection(what) => (true, what.clone()),
            };
            let delay = policy.backoff(attempt);
            if !worth || policy.gives_up(attempt, started.elapsed(), delay) {
                return Err(match failure {
                    Failure::Answered {
                        code,
                        reason,
                        message,
                    } => refused(call.op, call.target, code, reason, message),
                    Failure::Connection(what) => transport(&self.inner.endpoint, &what),
                });
            }
            self.count_retry();
            tracing::info!(
                target: "vertex_batch::bigquery",
                op = call.op.name(),
                target_name = call.target,
                attempt,
                error = %what,
                delay_ms = delay.as_millis() as u64,
                "retrying a BigQuery request",
            );
            attempt += 1;
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt. The outer `Result` is a failure no retry helps (no token); the inner one
    /// what the attempt gave.
    async fn attempt(&self, call: &Call<'_>) -> Result<std::result::Result<Value, Failure>> {
        let url = format!("{}{}", self.inner.api, call.path);
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), url)
            .query(&call.query);
        if let Some(tokens) = &self.inner.tokens {
            let header = match tokens.cached_header() {
                Some(header) => header,
                None => tokens.fetch().await?,
            };
            request = request.header(http::header::AUTHORIZATION, header);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return Ok(Err(Failure::Connection(describe_connection(&err)))),
        };
        let status = response.status();
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(err) => return Ok(Err(Failure::Connection(describe_connection(&err)))),
        };
        if !status.is_success() {
            let (code, reason, message) = parse_error_body(&bytes).unwrap_or_else(|| {
                (
                    status.as_u16(),
                    String::new(),
                    String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned(),
                )
            });
            let code = if code == 0 { status.as_u16() } else { code };
            return Ok(Err(Failure::Answered {
                code,
                reason,
                message,
            }));
        }
        if bytes.is_empty() {
            return Ok(Ok(Value::Null));
        }
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(Ok(value)),
            Err(err) => Err(crate::Error::internal(format!(
                "BigQuery answered {} for {} {} with a body that is not JSON: {err}",
                status.as_u16(),
                call.op.name(),
                call.target
            ))),
        }
    }
}

/// How long [`BigQuery::query`]'s polls of a running job wait: 50 ms, growing by half up to
/// 2 s.
pub(super) fn poll_delay(poll: u32) -> Duration {
    let millis = 50.0 * 1.5f64.powi(poll.min(20) as i32);
    Duration::from_millis(millis.min(2000.0) as u64)
}

//! When to try a call again, and how long to wait first.
//!
//! The defaults follow [AIP-194](https://google.aip.dev/194): reads (Get, List) and Delete are
//! retried on `UNAVAILABLE`; Cancel is retried only when the request never left the client (the
//! connection could not be made). `RESOURCE_EXHAUSTED` is retried only when asked for. Create,
//! where a repeat after a lost response could start a second paid job, is sent again only once a
//! lookup has shown that the first made nothing: see [`outcome_unknown`] and `call.rs`'s
//! `Resend::AfterLookup`. The same policy's attempts, budget and backoff bound every call.

use std::error::Error as _;
use std::time::Duration;

use tonic::{Code, Status};

use crate::Error;

/// How a client retries a failed call.
///
/// Exponential backoff with full jitter, starting at [`initial_backoff`](Self::with_initial_backoff)
/// and growing by [`multiplier`](Self::with_multiplier) up to [`max_backoff`](Self::with_max_backoff),
/// within an overall [`budget`](Self::with_budget). A delay the server asks for in a
/// `google.rpc.RetryInfo` detail is honoured (it replaces the computed backoff). Each attempt is
/// sent with a gRPC deadline of [`attempt_timeout`](Self::with_attempt_timeout).
///
/// The same policy, with the same backoff, retries Cloud Storage requests (feature `storage`:
/// `StorageBuilder::with_retry_policy`), where it bounds each request's attempts and budget
/// and its attempt timeout is how long a request (or a download's next byte) may take.
///
/// ```
/// use std::time::Duration;
/// use vertex_batch::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .with_initial_backoff(Duration::from_millis(200))
///     .with_budget(Duration::from_secs(10))
///     .with_retry_resource_exhausted(true);
/// assert_eq!(policy.max_backoff(), Duration::from_secs(60));
/// assert!(RetryPolicy::none().max_attempts() == 1);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    initial_backoff: Duration,
    multiplier: f64,
    max_backoff: Duration,
    budget: Duration,
    max_attempts: u32,
    attempt_timeout: Option<Duration>,
    retry_resource_exhausted: bool,
}

impl Default for RetryPolicy {
    /// 1 s backoff doubling up to 60 s, a 60 s budget, at most 10 attempts, 60 s per attempt,
    /// `RESOURCE_EXHAUSTED` not retried.
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_secs(1),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(60),
            budget: Duration::from_secs(60),
            max_attempts: 10,
            attempt_timeout: Some(Duration::from_secs(60)),
            retry_resource_exhausted: false,
        }
    }
}

/// Whether repeating a call can change the outcome (AIP-194).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Get, List, Delete: safe to repeat after any `UNAVAILABLE`.
    Idempotent,
    /// Cancel: repeat only if the request never left the client. (Create has a rule of its
    /// own, `Resend::AfterLookup`.)
    NonIdempotent,
}

impl RetryPolicy {
    /// A policy that never retries (one attempt), keeping the per-attempt deadline.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The first backoff (default 1 s).
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// How much each backoff grows (default 2.0; values below 1.0 count as 1.0).
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = super::growth::multiplier(multiplier);
        self
    }

    /// The largest backoff (default 60 s).
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// The overall time for all attempts and backoffs together (default 60 s). No new attempt
    /// starts once it is spent.
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The most attempts, the first one included (default 10; 0 counts as 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The gRPC deadline of each attempt (default 60 s); `None` sends none.
    pub fn with_attempt_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Also retry `RESOURCE_EXHAUSTED` (quota) on idempotent calls (default off: a quota error
    /// usually lasts longer than a retry budget).
    pub fn with_retry_resource_exhausted(mut self, retry: bool) -> Self {
        self.retry_resource_exhausted = retry;
        self
    }

    /// The first backoff.
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The largest backoff.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The overall budget.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// The most attempts.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The per-attempt deadline.
    pub fn attempt_timeout(&self) -> Option<Duration> {
        self.attempt_timeout
    }

    /// Whether `status`, the answer to a call of the given idempotency, may be retried.
    pub(crate) fn is_retryable(&self, status: &Status, idempotency: Idempotency) -> bool {
        if never_left_client(status) {
            return true;
        }
        match idempotency {
            Idempotency::NonIdempotent => false,
            Idempotency::Idempotent => match status.code() {
                Code::Unavailable => true,
                Code::ResourceExhausted => self.retry_resource_exhausted,
                _ => false,
            },
        }
    }

    /// How long to wait before attempt `attempt + 1` (attempts count from 1): the delay the
    /// server asked for in a RetryInfo detail, exactly; else the exponential backoff with full
    /// jitter.
    pub(crate) fn delay_before_retry(&self, attempt: u32, status: Option<&Status>) -> Duration {
        match status.and_then(server_retry_delay) {
            Some(delay) => delay,
            None => self.backoff(attempt),
        }
    }

    /// The backoff before attempt `attempt + 1` (attempts count from 1): exponential growth
    /// capped at max_backoff, with full jitter. The one backoff of the crate: gRPC calls and
    /// Cloud Storage requests (`src/storage/retry.rs`) both wait this long.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        jittered(self.exponential_backoff(attempt))
    }

    /// The one check of attempts and budget: after `attempt` attempts, `elapsed` since the
    /// first one started, whether a retry after `delay` is out of bounds.
    pub(crate) fn gives_up(&self, attempt: u32, elapsed: Duration, delay: Duration) -> bool {
        attempt >= self.max_attempts || elapsed.saturating_add(delay) >= self.budget
    }

    /// The backoff after attempt `attempt`, before jitter: exponential growth capped at
    /// max_backoff.
    fn exponential_backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(64) as i32;
        super::growth::grown(
            self.initial_backoff,
            self.multiplier.powi(exponent),
            self.max_backoff,
        )
    }
}

/// Full jitter: a uniformly random duration in `[0, backoff]`, so that many clients failing
/// together do not retry together.
fn jittered(backoff: Duration) -> Duration {
    backoff.mul_f64(random_unit())
}

/// A number in `[0, 1)` from the standard library's randomly seeded hasher; good enough for
/// jitter and not worth a dependency.
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let bits = RandomState::new().hash_one(std::time::Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The delay in the status's `google.rpc.RetryInfo` detail, if any.
fn server_retry_delay(status: &Status) -> Option<Duration> {
    use tonic_types::StatusExt;
    let info = status.get_details_retry_info()?;
    info.retry_delay
}

/// A failure after which the call may or may not have taken effect (a Create, its job): a
/// deadline, an unavailable service, a broken connection (a transport error: the request may
/// have left before it broke).
pub(crate) fn outcome_unknown(error: &Error) -> bool {
    error.is_transport()
        || matches!(
            error.code(),
            Some(
                Code::DeadlineExceeded
                    | Code::Unavailable
                    | Code::Unknown
                    | Code::Cancelled
                    | Code::Aborted
            )
        )
}

/// True when the request was never sent: the connection could not be made, so repeating it
/// cannot duplicate anything.
pub(crate) fn never_left_client(status: &Status) -> bool {
    let mut source = status.source();
    while let Some(error) = source {
        if error.is::<tonic::ConnectError>() {
            return true;
        }
        source = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap() {
        let policy = RetryPolicy::default();
        let delays: Vec<u64> = (1..=8)
            .map(|a| policy.exponential_backoff(a).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn server_retry_info_replaces_the_backoff() {
        use tonic_types::{ErrorDetails, StatusExt};
        let details = ErrorDetails::with_retry_info(Some(Duration::from_millis(1500)));
        let status = Status::with_error_details(Code::Unavailable, "slow down", details);
        assert_eq!(
            RetryPolicy::default().delay_before_retry(1, Some(&status)),
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn reads_retry_unavailable_and_creates_do_not() {
        let policy = RetryPolicy::default();
        let unavailable = Status::unavailable("down");
        assert!(policy.is_retryable(&unavailable, Idempotency::Idempotent));
        assert!(!policy.is_retryable(&unavailable, Idempotency::NonIdempotent));
        assert!(!policy.is_retryable(&Status::internal("x"), Idempotency::Idempotent));
        assert!(!policy.is_retryable(&Status::deadline_exceeded("x"), Idempotency::Idempotent));
    }

    #[test]
    fn resource_exhausted_is_opt_in() {
        let status = Status::resource_exhausted("quota");
        assert!(!RetryPolicy::default().is_retryable(&status, Idempotency::Idempotent));
        let opted = RetryPolicy::default().with_retry_resource_exhausted(true);
        assert!(opted.is_retryable(&status, Idempotency::Idempotent));
        assert!(!opted.is_retryable(&status, Idempotency::NonIdempotent));
    }

    #[test]
    fn jitter_stays_within_the_backoff() {
        for _ in 0..1000 {
            assert!(jittered(Duration::from_secs(2)) <= Duration::from_secs(2));
        }
    }

    #[test]
    fn odd_settings_are_clamped_not_panics() {
        let policy = RetryPolicy::default()
            .with_multiplier(f64::NAN)
            .with_max_attempts(0)
            .with_initial_backoff(Duration::MAX);
        assert_eq!(policy.max_attempts(), 1);
        assert_eq!(policy.exponential_backoff(50), Duration::from_secs(60));
    }
}

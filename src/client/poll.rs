//! The one polling loop, for [`JobClient::wait`]/[`JobClient::watch`] (a job until it ends)
//! and [`JobClient::delete`] (its long-running operation until done), and its schedule,
//! [`WaitOptions`]: polls at a growing interval.
//!
//! Errors while polling follow one rule: a poll that fails with `UNAVAILABLE` or a transport
//! error, after the call's own retries, is skipped, and the next poll (one interval later) tries
//! again: an endpoint restarting or a network blip does not end a wait of hours. Any other error
//! ends the polling with that error. Once the options' timeout has passed, the polling ends with
//! the timeout's error.
//!
//! Python's SDK polls every 5 s for the hours a batch job runs. A batch job's end is rarely urgent
//! to the second, so the interval here grows: frequent polls while a short job may finish, few
//! polls over a long one. For a job of 2 hours the defaults make about 250 Get calls
//! (a fixed 5 s poll makes 1,440) and notice the end at most 30 s late.

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::{Stream, stream};

#[cfg(doc)]
use crate::JobClient;
use crate::error::{Error, Result};

/// When and for how long [`JobClient::wait`] polls.
///
/// ```
/// use std::time::Duration;
/// use vertex_batch::WaitOptions;
///
/// let options = WaitOptions::default()
///     .with_initial_interval(Duration::from_secs(1))
///     .with_max_interval(Duration::from_secs(10))
///     .with_timeout(Duration::from_secs(3600));
/// let first: Vec<_> = options.intervals().take(4).map(|d| d.as_secs_f64()).collect();
/// assert_eq!(first, [1.0, 1.5, 2.25, 3.375]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct WaitOptions {
    initial_interval: Duration,
    multiplier: f64,
    max_interval: Duration,
    timeout: Option<Duration>,
}

impl Default for WaitOptions {
    /// Start at 2 s, grow by 1.5 per poll, at most 30 s between polls, no overall timeout.
    fn default() -> Self {
        WaitOptions {
            initial_interval: Duration::from_secs(2),
            multiplier: 1.5,
            max_interval: Duration::from_secs(30),
            timeout: None,
        }
    }
}

impl WaitOptions {
    /// The first interval between polls (default 2 s).
    pub fn with_initial_interval(mut self, interval: Duration) -> Self {
        self.initial_interval = interval;
        self
    }

    /// How much the interval grows after each poll (default 1.5; values below 1.0 count as 1.0).
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = super::growth::multiplier(multiplier);
        self
    }

    /// The largest interval between polls (default 30 s): also how late, at most, the end of a
    /// long job is noticed.
    pub fn with_max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval;
        self
    }

    /// Give up after this long with [`Error::WaitTimeout`](crate::Error::WaitTimeout), which
    /// carries the job's name and last state (default: wait until the job ends).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The largest interval between polls.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vertex_batch::WaitOptions;
    ///
    /// assert_eq!(WaitOptions::default().max_interval(), Duration::from_secs(30));
    /// ```
    pub fn max_interval(&self) -> Duration {
        self.max_interval
    }

    /// The overall timeout, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The intervals between successive polls, forever: `initial`, `initial × multiplier`, ...
    /// up to the maximum.
    pub fn intervals(&self) -> impl Iterator<Item = Duration> + use<> {
        let (max, multiplier) = (self.max_interval, self.multiplier);
        std::iter::successors(Some(self.initial_interval.min(max)), move |previous| {
            Some(super::growth::grown(*previous, multiplier, max))
        })
    }
}

/// Polls with `poll` on the schedule of `options` until an answer `is_done` accepts, as a
/// stream of every answer; the stream ends after the one that is done. See the module docs
/// for the rule on errors.
///
/// `first` is an answer already in hand (the delete's first operation): the stream does not
/// yield it, ends at once if it is done, and otherwise waits an interval before the first poll.
/// Without it, the first poll is at once. `timed_out` makes the error for a timeout from the
/// last answer, if any, and the time spent. `resource` (the job's or the operation's name) is
/// for the log, where each poll is a debug event with its number, the time since the start
/// and the answer as `describe` says it (and a skipped poll a warning).
pub(crate) fn poll_until_done<T, P, Fut, E>(
    resource: String,
    options: &WaitOptions,
    first: Option<T>,
    is_done: fn(&T) -> bool,
    describe: fn(&T) -> String,
    poll: P,
    timed_out: E,
) -> impl Stream<Item = Result<T>> + Send + use<T, P, Fut, E>
where
    T: Clone + Send,
    P: FnMut() -> Fut + Send,
    Fut: Future<Output = Result<T>> + Send,
    E: Fn(Option<&T>, Duration) -> Error + Send,
{
    /// Where the polling is.
    struct Polling<T, P, E> {
        resource: String,
        poll: P,
        timed_out: E,
        is_done: fn(&T) -> bool,
        describe: fn(&T) -> String,
        polls: u64,
        intervals: Box<dyn Iterator<Item = Duration> + Send>,
        started: Instant,
        deadline: Option<Instant>,
        last: Option<T>,
        /// Whether the next poll waits an interval first: after any poll, and when an answer
        /// was in hand from the start.
        wait_first: bool,
    }

    let started = Instant::now();
    let polling = Polling {
        resource,
        poll,
        timed_out,
        is_done,
        describe,
        polls: 0,
        intervals: Box::new(options.intervals()),
        started,
        deadline: options.timeout.and_then(|t| started.checked_add(t)),
        wait_first: first.is_some(),
        last: first,
    };
    let max_interval = options.max_interval;
    stream::try_unfold(polling, move |mut polling| async move {
        if polling.last.as_ref().is_some_and(polling.is_done) {
            return Ok(None);
        }
        loop {
            if polling.wait_first {
                let interval = polling.intervals.next().unwrap_or(max_interval);
                let now = Instant::now();
                match polling.deadline {
                    Some(deadline) if now >= deadline => {
                        let elapsed = polling.started.elapsed();
                        return Err((polling.timed_out)(polling.last.as_ref(), elapsed));
                    }
                    Some(deadline) => tokio::time::sleep(interval.min(deadline - now)).await,
                    None => tokio::time::sleep(interval).await,
                }
            }
            polling.wait_first = true;
            polling.polls += 1;
            match (polling.poll)().await {
                Ok(answer) => {
                    tracing::debug!(
                        resource = %polling.resource,
                        poll = polling.polls,
                        elapsed_ms = polling.started.elapsed().as_millis() as u64,
                        answer = %(polling.describe)(&answer),
                        "poll"
                    );
                    polling.last = Some(answer.clone());
                    return Ok(Some((answer, polling)));
                }
                Err(error) if poll_again_after(&error) => {
                    tracing::warn!(resource = %polling.resource, poll = polling.polls, %error, "poll failed; polling again");
                }
                Err(error) => return Err(error),
            }
        }
    })
}

/// The rule for errors while polling: a failed poll is skipped when its error is one an
/// endpoint restarting or a network blip gives. A server certificate this client refuses is
/// not one: waiting does not change it.
pub(crate) fn poll_again_after(error: &Error) -> bool {
    error.code() == Some(tonic::Code::Unavailable)
        || (error.is_transport() && !error.is_tls_certificate())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The polls a wait makes to follow a job that runs `length`, and how late it notices the end.
    fn polls_for(options: &WaitOptions, length: Duration) -> (usize, Duration) {
        let mut at = Duration::ZERO;
        let mut polls = 1; // the first Get, at once
        for interval in options.intervals() {
            if at >= length {
                break;
            }
            at += interval;
            polls += 1;
        }
        (polls, at - length)
    }

    #[test]
    fn a_two_hour_job_costs_far_fewer_polls_than_a_fixed_five_seconds() {
        let two_hours = Duration::from_secs(2 * 3600);
        let (polls, late) = polls_for(&WaitOptions::default(), two_hours);
        let fixed = WaitOptions::default()
            .with_initial_interval(Duration::from_secs(5))
            .with_multiplier(1.0);
        let (fixed_polls, _) = polls_for(&fixed, two_hours);
        assert_eq!(fixed_polls, 1441);
        assert!(polls < 260, "{polls} polls");
        assert!(late <= Duration::from_secs(30));
    }

    #[test]
    fn odd_settings_are_clamped_not_panics() {
        let options = WaitOptions::default()
            .with_multiplier(f64::INFINITY)
            .with_initial_interval(Duration::MAX)
            .with_max_interval(Duration::MAX);
        assert_eq!(options.intervals().nth(3), Some(Duration::MAX));
    }
}

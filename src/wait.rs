//! How `wait` follows a job until it ends: polls of Get at a growing interval.
//!
//! Python's SDK polls every 5 s for the hours a batch job runs. A batch job's end is rarely urgent
//! to the second, so the interval here grows: frequent polls while a short job may finish, few
//! polls over a long one. For a job of 2 hours the defaults make about 250 Get calls
//! (a fixed 5 s poll makes 1,440) and notice the end at most 30 s late.

use std::time::Duration;

/// When and for how long [`JobClient::wait`](crate::JobClient::wait) polls.
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
#[non_exhaustive]
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
        self.multiplier = if multiplier.is_finite() {
            multiplier.max(1.0)
        } else {
            1.0
        };
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

    /// The overall timeout, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The intervals between successive polls, forever: `initial`, `initial × multiplier`, ...
    /// up to the maximum.
    pub fn intervals(&self) -> impl Iterator<Item = Duration> + use<> {
        let (max, multiplier) = (self.max_interval, self.multiplier);
        std::iter::successors(Some(self.initial_interval.min(max)), move |previous| {
            Some(
                Duration::try_from_secs_f64(previous.as_secs_f64() * multiplier)
                    .map_or(max, |next| next.min(max)),
            )
        })
    }
}

impl crate::JobClient {
    /// Waits until the job has ended (SUCCEEDED, FAILED, CANCELLED, EXPIRED or
    /// PARTIALLY_SUCCEEDED) and returns it, whatever the end state: check it with
    /// [`BatchPredictionJob::has_succeeded`](crate::v1::BatchPredictionJob::has_succeeded), or
    /// turn a bad end into an error with
    /// [`BatchPredictionJob::check_succeeded`](crate::v1::BatchPredictionJob::check_succeeded).
    ///
    /// A PAUSED job has not ended: the wait goes on. Polls use the client's
    /// [`WaitOptions`]; a wait that times out is [`Error::WaitTimeout`](crate::Error::WaitTimeout)
    /// carrying the job's name and last state, and the job goes on.
    ///
    /// ```no_run
    /// # async fn run(client: vertex_batch::JobClient) -> vertex_batch::Result<()> {
    /// let job = client.wait("1234567890").await?.check_succeeded()?;
    /// println!("results in {:?}", job.output_location());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait(&self, name: &str) -> crate::Result<crate::v1::BatchPredictionJob> {
        let options = self.wait_options().clone();
        self.wait_with(name, &options, |_| {}).await
    }

    /// Like [`JobClient::wait`](crate::JobClient::wait), with its own options, calling
    /// `on_progress` with the job at the first poll and whenever its state or completion counts
    /// change.
    ///
    /// ```no_run
    /// # async fn run(client: vertex_batch::JobClient) -> vertex_batch::Result<()> {
    /// use std::time::Duration;
    /// use vertex_batch::WaitOptions;
    ///
    /// let options = WaitOptions::default().with_timeout(Duration::from_secs(6 * 3600));
    /// let job = client
    ///     .wait_with("1234567890", &options, |job| {
    ///         println!("{:?} {:?}", job.state(), job.progress());
    ///     })
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_with(
        &self,
        name: &str,
        options: &WaitOptions,
        mut on_progress: impl FnMut(&crate::v1::BatchPredictionJob),
    ) -> crate::Result<crate::v1::BatchPredictionJob> {
        use futures_util::TryStreamExt;
        let mut updates = std::pin::pin!(self.watch(name, options.clone()));
        let mut last = None;
        while let Some(job) = updates.try_next().await? {
            on_progress(&job);
            last = Some(job);
        }
        // watch() ends only after yielding the ended job, or with an error.
        last.ok_or_else(|| crate::Error::invalid("name", "the job could not be read"))
    }

    /// The job as it changes, as a stream: the job at the first poll, then each poll where its
    /// state or completion counts changed; the stream ends after the job has ended. A timeout
    /// ends it with [`Error::WaitTimeout`](crate::Error::WaitTimeout).
    ///
    /// A poll that fails with `UNAVAILABLE` after the client's own retries (the endpoint
    /// restarting, a network blip) does not end the watch: the next poll tries again.
    ///
    /// ```no_run
    /// # async fn run(client: vertex_batch::JobClient) -> vertex_batch::Result<()> {
    /// use futures_util::TryStreamExt;
    /// use vertex_batch::WaitOptions;
    ///
    /// let mut updates = std::pin::pin!(client.watch("1234567890", WaitOptions::default()));
    /// while let Some(job) = updates.try_next().await? {
    ///     println!("{:?}", job.state());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn watch(
        &self,
        name: &str,
        options: WaitOptions,
    ) -> impl futures_util::Stream<Item = crate::Result<crate::v1::BatchPredictionJob>> + Send + 'static
    {
        /// Where a watch is.
        struct Watch {
            client: crate::JobClient,
            name: String,
            invalid: Option<crate::Error>,
            intervals: Box<dyn Iterator<Item = Duration> + Send>,
            deadline: Option<std::time::Instant>,
            started: std::time::Instant,
            last: Option<crate::v1::BatchPredictionJob>,
            polled: bool,
        }

        let started = std::time::Instant::now();
        let mut watch = Watch {
            client: self.clone(),
            name: String::new(),
            invalid: None,
            intervals: Box::new(options.intervals()),
            deadline: options.timeout().and_then(|t| started.checked_add(t)),
            started,
            last: None,
            polled: false,
        };
        match self.job_name(name) {
            Ok(name) => watch.name = name.to_string(),
            Err(error) => watch.invalid = Some(error),
        }
        futures_util::stream::try_unfold(watch, |mut watch| async move {
            if let Some(error) = watch.invalid.take() {
                return Err(error);
            }
            let name = watch.name.clone();
            loop {
                if watch.last.as_ref().is_some_and(|job| job.has_ended()) {
                    return Ok(None);
                }
                if watch.polled {
                    let interval = watch.intervals.next().unwrap_or(Duration::from_secs(30));
                    let now = std::time::Instant::now();
                    if let Some(deadline) = watch.deadline {
                        if now >= deadline {
                            return Err(crate::Error::WaitTimeout {
                                job: name,
                                state: watch
                                    .last
                                    .as_ref()
                                    .map_or(crate::v1::JobState::Unspecified, |j| j.state()),
                                elapsed: watch.started.elapsed(),
                            });
                        }
                        tokio::time::sleep(interval.min(deadline - now)).await;
                    } else {
                        tokio::time::sleep(interval).await;
                    }
                }
                watch.polled = true;
                let job = match watch.client.get(&name).await {
                    Ok(job) => job,
                    Err(error)
                        if error.code() == Some(tonic::Code::Unavailable)
                            || matches!(error, crate::Error::Transport { .. }) =>
                    {
                        tracing::warn!(job = %name, %error, "poll failed; polling again");
                        continue;
                    }
                    Err(error) => return Err(error),
                };
                let changed = watch.last.as_ref().is_none_or(|last| {
                    last.state != job.state || last.completion_stats != job.completion_stats
                });
                watch.last = Some(job.clone());
                if changed {
                    return Ok(Some((job, watch)));
                }
            }
        })
    }
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

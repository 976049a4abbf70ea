//! Following a job until it ends: [`JobClient::wait`], [`JobClient::wait_with`] and
//! [`JobClient::watch`], polls of Get through the client's one polling loop (`poll.rs`, which
//! also says what a failed poll does).

use futures_util::future::{self, Either};
use futures_util::{Stream, TryStreamExt, stream};

use super::JobClient;
use super::poll::{WaitOptions, poll_until_done};
use crate::error::{Error, Result};
use crate::v1::{BatchPredictionJob, JobState};

impl JobClient {
    /// Waits until the job has ended (SUCCEEDED, FAILED, CANCELLED, EXPIRED or
    /// PARTIALLY_SUCCEEDED) and returns it, whatever the end state: check it with
    /// [`BatchPredictionJob::has_succeeded`], or
    /// turn a bad end into an error with
    /// [`BatchPredictionJob::check_succeeded`].
    ///
    /// A PAUSED job has not ended: the wait goes on. Polls use the client's
    /// [`WaitOptions`]; a wait that times out is [`Error::WaitTimeout`]
    /// carrying the job's name and last state, and the job goes on.
    ///
    /// ```no_run
    /// # async fn run(client: vertex_batch::JobClient) -> vertex_batch::Result<()> {
    /// let job = client.wait("1234567890").await?.check_succeeded()?;
    /// println!("results in {:?}", job.output_location());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait(&self, name: &str) -> Result<BatchPredictionJob> {
        let options = self.wait_options().clone();
        self.wait_with(name, &options, |_| {}).await
    }

    /// Like [`JobClient::wait`], with its own options, calling
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
        mut on_progress: impl FnMut(&BatchPredictionJob),
    ) -> Result<BatchPredictionJob> {
        let mut updates = std::pin::pin!(self.watch(name, options.clone()));
        let mut last = None;
        while let Some(job) = updates.try_next().await? {
            on_progress(&job);
            last = Some(job);
        }
        // watch() ends only after yielding the ended job, or with an error.
        last.ok_or_else(|| Error::internal(format!("the watch of {name} ended without the job")))
    }

    /// The job as it changes, as a stream: the job at the first poll, then each poll where its
    /// state or completion counts changed; the stream ends after the job has ended. A timeout
    /// ends it with [`Error::WaitTimeout`].
    ///
    /// A poll that fails with `UNAVAILABLE` or a transport error after the client's own retries
    /// (the endpoint restarting, a network blip) does not end the watch: the next poll tries
    /// again. Any other error ends it.
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
    ) -> impl Stream<Item = Result<BatchPredictionJob>> + Send + 'static {
        let name = match self.job_name(name) {
            Ok(name) => name.to_string(),
            Err(error) => return Either::Left(stream::once(future::ready(Err(error)))),
        };
        let client = self.clone();
        let resource = name.clone();
        let poll = {
            let name = name.clone();
            move || {
                let (client, name) = (client.clone(), name.clone());
                async move { client.get(&name).await }
            }
        };
        let timed_out = move |last: Option<&BatchPredictionJob>, elapsed| Error::WaitTimeout {
            job: name.clone(),
            state: last.map_or(JobState::Unspecified, |job| job.state()),
            elapsed,
        };
        let polls = poll_until_done(
            resource,
            &options,
            None,
            |job| job.has_ended(),
            |job| format!("{} ({})", job.state().short_name(), job.progress()),
            poll,
            timed_out,
        );
        // Only the polls where something changed.
        let mut seen: Option<BatchPredictionJob> = None;
        Either::Right(polls.try_filter(move |job| {
            let changed = seen.as_ref().is_none_or(|last| {
                last.state != job.state || last.completion_stats != job.completion_stats
            });
            if changed {
                seen = Some(job.clone());
            }
            future::ready(changed)
        }))
    }
}

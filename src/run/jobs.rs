//! One job per shard and round, created exactly once across restarts, and the calls a round
//! makes about it (both kinds of run): found as recorded or by its request id, created, polled
//! through the client's one polling loop, cancelled; each repeated while the service cannot be
//! reached (the polling rule), counted in the run's `unreachable`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::stream::{BoxStream, SelectAll};
use futures_util::{Future, StreamExt, TryStreamExt};

use super::layout::{RUN_LABEL, display_name};
use super::manifest::Shard;
use crate::JobFilter;
use crate::client::JobClient;
use crate::client::poll::{WaitOptions, poll_again_after, poll_until_done};
use crate::error::{Error, Result};
use crate::job::REQUEST_ID_LABEL;
use crate::params::GenerationConfig;
use crate::storage::ObjectUri;
use crate::v1::{BatchPredictionJob, JobState};

/// What every job of a run shares.
#[derive(Clone, Debug)]
pub(crate) struct JobTemplate {
    pub(crate) model: String,
    pub(crate) generation_config: GenerationConfig,
    pub(crate) run_id: String,
}

impl JobTemplate {
    /// The job for `shard` of `round`, writing under `output`, validated.
    pub(crate) fn job(
        &self,
        client: &JobClient,
        round: u8,
        index: usize,
        shard: &Shard,
        output: &ObjectUri,
    ) -> Result<BatchPredictionJob> {
        let mut builder = crate::v1::BatchPredictionJob::builder(self.model.clone())
            .with_display_name(display_name(&self.run_id, round, index))
            .with_inputs(shard.files.iter().map(|f| f.uri.clone()))
            .with_output(output.to_string())
            .with_label(RUN_LABEL, self.run_id.clone());
        if !self.generation_config.is_empty() {
            builder = builder.with_generation_config(self.generation_config.clone());
        }
        let mut job = builder.build(client.location())?;
        job.labels
            .insert(REQUEST_ID_LABEL.to_owned(), shard.request_id.clone());
        Ok(job)
    }
}

/// The job with `request_id` if an earlier process created it, else a new one: the lookup runs
/// before every Create, so a process killed between its Create and its manifest write leaves
/// one job, found here on the next start.
pub(crate) async fn find_or_create(
    client: &JobClient,
    job: BatchPredictionJob,
    request_id: &str,
) -> Result<(BatchPredictionJob, bool)> {
    let filter = JobFilter::new().with_label(REQUEST_ID_LABEL, request_id);
    let mut found = std::pin::pin!(client.list(filter));
    if let Some(job) = found.try_next().await? {
        tracing::info!(target: "vertex_batch::run::step", job = %job.name, request_id, "job found");
        return Ok((job, false));
    }
    let job = client.create_job(job).await?;
    tracing::info!(target: "vertex_batch::run::step", job = %job.name, request_id, "job created");
    Ok((job, true))
}

/// Whether rows a job ended without answering may be answered by another job: it expired,
/// was cancelled, only partly succeeded, succeeded without them, or failed for a reason that
/// passes (quota, an unavailable or internal error, a service agent being provisioned).
pub(crate) fn missing_rows_retriable(job: &BatchPredictionJob) -> bool {
    match job.state() {
        JobState::Failed => job.error.as_ref().is_some_and(|error| {
            matches!(error.code, 1 | 2 | 4 | 8 | 10 | 13 | 14)
                || error
                    .message
                    .to_ascii_lowercase()
                    .contains("service agents are being provisioned")
        }),
        _ => true,
    }
}

/// What the manifest's job of a shard turned out to be.
pub(crate) enum Found {
    Live(BatchPredictionJob),
    Ended(BatchPredictionJob),
    /// The service no longer has it.
    Lost(String),
}

impl Found {
    /// A job as found or made: ended, or live.
    pub(crate) fn of(job: BatchPredictionJob) -> Found {
        if job.has_ended() {
            Found::Ended(job)
        } else {
            Found::Live(job)
        }
    }
}

/// The polls of the jobs being waited on, as one stream of (shard, answer).
pub(crate) type Polls = SelectAll<BoxStream<'static, (usize, Result<BatchPredictionJob>)>>;

/// The calls a round makes about its jobs.
pub(crate) struct JobCalls<'a> {
    pub(crate) client: &'a JobClient,
    pub(crate) wait: &'a WaitOptions,
    /// Calls to Vertex AI sent again because the service could not be reached.
    pub(crate) unreachable: &'a Arc<AtomicU64>,
}

impl JobCalls<'_> {
    /// The job the manifest recorded as `name`, as it is now.
    pub(crate) async fn recorded(&self, name: String) -> Result<Found> {
        match self.patiently("get", || self.client.get(&name)).await {
            Ok(job) => Ok(Found::of(job)),
            Err(err) if err.is_not_found() => Ok(Found::Lost(name)),
            Err(err) => Err(err),
        }
    }

    /// The job with `request_id`, found or created (`find_or_create`).
    pub(crate) async fn find_or_create(
        &self,
        job: BatchPredictionJob,
        request_id: &str,
    ) -> Result<BatchPredictionJob> {
        let (job, _created) = self
            .patiently("create", || {
                find_or_create(self.client, job.clone(), request_id)
            })
            .await?;
        Ok(job)
    }

    /// Asks the service to cancel a job; false when the service could not be reached (the
    /// next poll asks again). A job that ended meanwhile or is gone counts as cancelled: the
    /// polls see what it became.
    pub(crate) async fn cancel(&self, name: &str) -> Result<bool> {
        match self.client.cancel(name).await {
            Ok(()) => Ok(true),
            Err(err)
                if err.is_not_found() || err.code() == Some(tonic::Code::FailedPrecondition) =>
            {
                Ok(true)
            }
            Err(err) if poll_again_after(&err) => {
                self.unreachable.fetch_add(1, Ordering::Relaxed);
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    /// The polls of one job (shard `index`) until it ends, through the client's polling loop.
    pub(crate) fn poll(
        &self,
        index: usize,
        name: &str,
    ) -> BoxStream<'static, (usize, Result<BatchPredictionJob>)> {
        let client = self.client.clone();
        let unreachable = self.unreachable.clone();
        let poll = {
            let name = name.to_owned();
            move || {
                let (client, name, unreachable) =
                    (client.clone(), name.clone(), unreachable.clone());
                async move {
                    let answer = client.get(&name).await;
                    if answer.as_ref().is_err_and(poll_again_after) {
                        unreachable.fetch_add(1, Ordering::Relaxed);
                    }
                    answer
                }
            }
        };
        let timed_out = name.to_owned();
        poll_until_done(
            name.to_owned(),
            self.wait,
            None,
            BatchPredictionJob::has_ended,
            |job| format!("{} ({})", job.state().short_name(), job.progress()),
            poll,
            move |_, _| Error::internal(format!("polling {timed_out} timed out")),
        )
        .map(move |answer| (index, answer))
        .boxed()
    }

    /// Repeats `call` while the service is unreachable (the polling rule), an interval of the
    /// run's wait options apart.
    async fn patiently<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut intervals = self.wait.intervals();
        loop {
            match call().await {
                Err(err) if poll_again_after(&err) => {
                    self.unreachable.fetch_add(1, Ordering::Relaxed);
                    let pause = intervals.next().unwrap_or_else(|| self.wait.max_interval());
                    tracing::warn!(target: "vertex_batch::run::step", %err, what, ?pause, "service unreachable; trying again");
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
    }
}

/// A job just found or created, as the manifest records it.
pub(crate) fn record_of(job: &BatchPredictionJob) -> super::manifest::JobRecord {
    super::manifest::JobRecord {
        name: job.name.clone(),
        state: job.state().as_str_name().to_owned(),
        ended: false,
        cancelled: None,
    }
}

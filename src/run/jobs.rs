//! One job per shard and round, created exactly once across restarts.

use futures_util::TryStreamExt;

use super::layout::{RUN_LABEL, display_name};
use super::manifest::Shard;
use crate::JobFilter;
use crate::client::JobClient;
use crate::error::Result;
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

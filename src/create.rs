//! Creating a job exactly once.
//!
//! A Create whose answer is lost (a deadline, a reset connection) may or may not have created
//! the job, and every batch job costs money. So each job carries a client-made request id in the
//! label [`REQUEST_ID_LABEL`]; after an ambiguous failure the client lists jobs by that label and
//! returns the one it finds, or sends the Create again when there is none. One call, one job.

use std::time::Instant;

use futures_util::TryStreamExt;
use tonic::Code;

use crate::call::{Routing, Rpc};
use crate::client::JobClient;
use crate::error::{Error, Result};
use crate::job::{BatchJobBuilder, REQUEST_ID_LABEL};
use crate::list::JobFilter;
use crate::retry::{Idempotency, RetryPolicy};
use crate::v1::{BatchPredictionJob, CreateBatchPredictionJobRequest};

impl JobClient {
    /// Validates and creates a batch prediction job in the client's location, exactly once.
    ///
    /// Everything the builder checks is checked before any call. A Create whose outcome is
    /// unknown is resolved by looking the job up by its request-id label: it never leaves two
    /// jobs for one call.
    ///
    /// ```no_run
    /// # async fn run(client: vertex_batch::JobClient) -> vertex_batch::Result<()> {
    /// use vertex_batch::{GenerationConfig, v1::BatchPredictionJob};
    /// let job = client
    ///     .create(
    ///         BatchPredictionJob::builder("gemini-2.0-flash-001")
    ///             .with_input("bq://my-project.my_dataset.prompts")
    ///             .with_output("bq://my-project.my_dataset")
    ///             .with_generation_config(GenerationConfig::new().with_temperature(0.2)),
    ///     )
    ///     .await?;
    /// println!("created {}", job.name);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create(&self, job: BatchJobBuilder) -> Result<BatchPredictionJob> {
        self.create_job(job.build(self.location())?).await
    }

    /// Creates a job from a `BatchPredictionJob` you built yourself (e.g. from a REST request
    /// body), exactly once like [`JobClient::create`]. The service validates it.
    pub async fn create_job(&self, mut job: BatchPredictionJob) -> Result<BatchPredictionJob> {
        let request_id = match job.labels.get(REQUEST_ID_LABEL) {
            Some(id) => id.clone(),
            None => {
                let id = new_request_id();
                job.labels.insert(REQUEST_ID_LABEL.to_owned(), id.clone());
                id
            }
        };
        let parent = self.location().to_string();
        let request = CreateBatchPredictionJobRequest {
            parent: parent.clone(),
            batch_prediction_job: Some(job),
        };
        let policy = self.retry_policy();
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let rpc = Rpc {
                method: "CreateBatchPredictionJob",
                routing: Routing::Parent(&parent),
                idempotency: Idempotency::NonIdempotent,
            };
            // One attempt at a time: the retries that are safe happen here, after the lookup.
            let once = RetryPolicy::none().with_attempt_timeout(policy.attempt_timeout());
            let error = match self
                .call(
                    rpc,
                    &once,
                    &self.raw(),
                    request.clone(),
                    |mut stub, r| async move { stub.create_batch_prediction_job(r).await },
                )
                .await
            {
                Ok(job) => return Ok(job),
                Err(error) => error,
            };
            if !outcome_unknown(&error) {
                return Err(error);
            }
            // Resend only once the job is known not to exist; never on a guess.
            loop {
                match self.find_by_request_id(&request_id).await {
                    Ok(Some(job)) => {
                        tracing::info!(job = %job.name, "a Create whose answer was lost had created the job");
                        return Ok(job);
                    }
                    Ok(None) => break,
                    Err(lookup) if !outcome_unknown(&lookup) => return Err(lookup),
                    Err(_) => {}
                }
                let delay = policy.delay_before_retry(attempt, None);
                if attempt >= policy.max_attempts() || started.elapsed() + delay >= policy.budget()
                {
                    // Still unknown: the error says so; the job, if it exists, carries the label.
                    return Err(error);
                }
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            let status = match &error {
                Error::Status { status, .. } => Some(status.as_ref()),
                _ => None,
            };
            let delay = policy.delay_before_retry(attempt, status);
            if attempt >= policy.max_attempts() || started.elapsed() + delay >= policy.budget() {
                return Err(error);
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// The job created with this request id, if one exists.
    async fn find_by_request_id(&self, request_id: &str) -> Result<Option<BatchPredictionJob>> {
        let filter = JobFilter::new().with_label(REQUEST_ID_LABEL, request_id);
        let mut jobs = std::pin::pin!(self.list(filter));
        jobs.try_next().await
    }
}

/// A failure after which the job may or may not exist: a deadline, an unavailable service, a
/// broken connection (a transport error: the request may have left before it broke).
fn outcome_unknown(error: &Error) -> bool {
    matches!(error, Error::Transport { .. })
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

/// 128 random bits as 32 hex digits: a valid label value, unique per Create.
fn new_request_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    let now = std::time::SystemTime::now();
    let high = RandomState::new().hash_one(now);
    let low = RandomState::new().hash_one((now, std::process::id()));
    format!("{high:016x}{low:016x}")
}

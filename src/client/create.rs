//! Creating a job exactly once.
//!
//! A Create whose answer is lost (a deadline, a reset connection) may or may not have created
//! the job, and every batch job costs money. So each job carries a client-made request id in the
//! label [`REQUEST_ID_LABEL`]; after an ambiguous failure the client lists jobs by that label and
//! returns the one it finds, or sends the Create again when there is none. One call, one job.
//!
//! That is the client's one retry loop (`call.rs`) with its [`Resend::AfterLookup`] rule; this
//! file gives it the lookup.

use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;

use super::JobClient;
use super::call::{Resend, Routing, Rpc};
use super::filter::JobFilter;
use crate::error::Result;
use crate::job::{BatchJobBuilder, REQUEST_ID_LABEL};
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
    /// body), exactly once like [`JobClient::create`]. The service validates it; this client
    /// checks only that it can be decoded: `model_parameters` nested deeper than
    /// [`MAX_DEPTH`](crate::params::MAX_DEPTH) is an error naming where, before any call.
    pub async fn create_job(&self, mut job: BatchPredictionJob) -> Result<BatchPredictionJob> {
        if let Some(parameters) = &job.model_parameters {
            crate::params::check_depth(parameters, "model_parameters")?;
        }
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
        let lookup = || -> BoxFuture<'_, Result<Option<BatchPredictionJob>>> {
            Box::pin(self.find_by_request_id(&request_id))
        };
        let rpc = Rpc {
            method: "CreateBatchPredictionJob",
            routing: Routing::Parent(&parent),
            resend: Resend::AfterLookup(&lookup),
        };
        self.call(rpc, &self.raw(), request, |mut stub, r| async move {
            stub.create_batch_prediction_job(r).await
        })
        .await
    }

    /// The job created with this request id, if one exists: how a Create whose answer was lost
    /// is resolved.
    async fn find_by_request_id(&self, request_id: &str) -> Result<Option<BatchPredictionJob>> {
        let filter = JobFilter::new().with_label(REQUEST_ID_LABEL, request_id);
        let mut jobs = std::pin::pin!(self.list(filter));
        let found = jobs.try_next().await?;
        if let Some(job) = &found {
            tracing::info!(job = %job.name, "a Create whose answer was lost had created the job");
        }
        Ok(found)
    }
}

/// 128 random bits as 32 hex digits: a valid label value, unique per Create.
fn new_request_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    let now = std::time::SystemTime::now();
    let high = RandomState::new().hash_one(now);
    let low = RandomState::new().hash_one((now, std::process::id()));
    format!("{high:016x}{low:016x}")
}

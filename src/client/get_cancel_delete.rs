//! Reading and ending one job: [`JobClient::get`], [`JobClient::cancel`] and
//! [`JobClient::delete`] (which follows the service's delete operation to its end through the
//! client's one polling loop, `poll.rs`).

use std::time::Duration;

use futures_util::TryStreamExt;

use super::JobClient;
use super::call::{Resend, Routing, Rpc};
use super::poll::{WaitOptions, poll_until_done};
use super::retry::Idempotency;
use crate::error::{Error, Result};
use crate::proto::google::longrunning::{GetOperationRequest, Operation, operation};
use crate::v1::{
    BatchPredictionJob, CancelBatchPredictionJobRequest, DeleteBatchPredictionJobRequest,
    GetBatchPredictionJobRequest,
};

impl JobClient {
    /// Gets a job by full name or bare id. Retried on `UNAVAILABLE`.
    ///
    /// ```no_run
    /// # async fn run(client: vertex_batch::JobClient) -> vertex_batch::Result<()> {
    /// let job = client.get("projects/my-project/locations/us-central1/batchPredictionJobs/123").await?;
    /// println!("{:?} {:?}", job.state(), job.progress());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get(&self, name: &str) -> Result<BatchPredictionJob> {
        let name = self.job_name(name)?.to_string();
        let rpc = Rpc {
            method: "GetBatchPredictionJob",
            routing: Routing::Name(&name),
            resend: Resend::Idempotency(Idempotency::Idempotent),
        };
        let request = GetBatchPredictionJobRequest { name: name.clone() };
        self.call(rpc, &self.raw(), request, |mut stub, r| async move {
            stub.get_batch_prediction_job(r).await
        })
        .await
    }

    /// Asks the service to cancel a job that is pending or running: it moves through CANCELLING
    /// to CANCELLED (use [`JobClient::wait`] to see it end). Cancelling a job that has ended is
    /// `FAILED_PRECONDITION`.
    ///
    /// ```no_run
    /// # async fn run(client: vertex_batch::JobClient) -> vertex_batch::Result<()> {
    /// client.cancel("1234567890").await?;
    /// let job = client.wait("1234567890").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn cancel(&self, name: &str) -> Result<()> {
        let name = self.job_name(name)?.to_string();
        let rpc = Rpc {
            method: "CancelBatchPredictionJob",
            routing: Routing::Name(&name),
            resend: Resend::Idempotency(Idempotency::NonIdempotent),
        };
        let request = CancelBatchPredictionJobRequest { name: name.clone() };
        self.call(rpc, &self.raw(), request, |mut stub, r| async move {
            stub.cancel_batch_prediction_job(r).await
        })
        .await
        .map(|_: ()| ())
    }

    /// Deletes a job that has ended, and waits for the service's delete operation to finish.
    /// Deleting a job that has not ended is `FAILED_PRECONDITION`: cancel it first.
    ///
    /// ```no_run
    /// # async fn run(client: vertex_batch::JobClient) -> vertex_batch::Result<()> {
    /// client.delete("1234567890").await?;
    /// assert!(client.get("1234567890").await.unwrap_err().is_not_found());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete(&self, name: &str) -> Result<()> {
        let name = self.job_name(name)?.to_string();
        let rpc = Rpc {
            method: "DeleteBatchPredictionJob",
            routing: Routing::Name(&name),
            resend: Resend::Idempotency(Idempotency::Idempotent),
        };
        let request = DeleteBatchPredictionJobRequest { name: name.clone() };
        let operation = self
            .call(rpc, &self.raw(), request, |mut stub, r| async move {
                stub.delete_batch_prediction_job(r).await
            })
            .await?;
        let operation = self.wait_for_operation(operation).await?;
        match operation.result {
            Some(operation::Result::Error(status)) => Err(Error::Status {
                status: Box::new(tonic::Status::new(
                    tonic::Code::from_i32(status.code),
                    status.message,
                )),
                hint: Some(format!("the delete operation of {name} failed")),
            }),
            _ => Ok(()),
        }
    }

    /// Polls a long-running operation until it is done, from the first answer about it.
    async fn wait_for_operation(&self, first: Operation) -> Result<Operation> {
        let name = first.name.clone();
        let poll = || self.get_operation(&name);
        // The schedule has no timeout, so this error is never made; it says what it would mean.
        let timed_out = |_: Option<&Operation>, elapsed: Duration| Error::Status {
            status: Box::new(tonic::Status::deadline_exceeded(format!(
                "operation {name} not done after {elapsed:?}"
            ))),
            hint: None,
        };
        let schedule = WaitOptions::default()
            .with_initial_interval(Duration::from_millis(500))
            .with_max_interval(Duration::from_secs(5));
        let polls = poll_until_done(
            name.clone(),
            &schedule,
            Some(first.clone()),
            |op| op.done,
            |op| if op.done { "done" } else { "not done" }.to_owned(),
            poll,
            timed_out,
        );
        let mut polls = std::pin::pin!(polls);
        let mut operation = first;
        while let Some(polled) = polls.try_next().await? {
            operation = polled;
        }
        Ok(operation)
    }

    /// One poll of a long-running operation.
    async fn get_operation(&self, name: &str) -> Result<Operation> {
        let rpc = Rpc {
            method: "GetOperation",
            routing: Routing::Name(name),
            resend: Resend::Idempotency(Idempotency::Idempotent),
        };
        let request = GetOperationRequest {
            name: name.to_owned(),
        };
        self.call(rpc, &self.operations(), request, |mut ops, r| async move {
            ops.get_operation(r).await
        })
        .await
    }
}

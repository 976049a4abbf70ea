//! Reading a job: has it ended, did it succeed, why did it fail, what is its name.
//!
//! These are inherent methods on the generated `BatchPredictionJob`, so no trait has to be
//! imported; its state comes from prost's own `state()`, which reads an unknown value as
//! `Unspecified`.

use crate::error::{Error, Result};
use crate::names::BatchPredictionJobName;
use crate::proto::google::rpc;
use crate::v1::BatchPredictionJob;

/// State, error and name, plainly.
///
/// ```
/// use vertex_batch::v1;
///
/// let job = v1::BatchPredictionJob {
///     name: "projects/my-project/locations/us-central1/batchPredictionJobs/42".into(),
///     state: v1::JobState::Succeeded.into(),
///     ..Default::default()
/// };
/// assert_eq!(job.state(), v1::JobState::Succeeded);
/// assert!(job.has_succeeded());
/// assert_eq!(job.job_name()?.job_id(), "42");
/// # Ok::<(), vertex_batch::Error>(())
/// ```
impl BatchPredictionJob {
    /// The job will not change state any more; see [`JobState::has_ended`](crate::v1::JobState::has_ended).
    ///
    /// ```
    /// # use vertex_batch::v1;
    /// let job = v1::BatchPredictionJob { state: v1::JobState::Expired.into(), ..Default::default() };
    /// assert!(job.has_ended());
    /// ```
    pub fn has_ended(&self) -> bool {
        self.state().has_ended()
    }

    /// The job ended in SUCCEEDED.
    ///
    /// ```
    /// # use vertex_batch::v1;
    /// let job = v1::BatchPredictionJob { state: v1::JobState::Running.into(), ..Default::default() };
    /// assert!(!job.has_succeeded());
    /// ```
    pub fn has_succeeded(&self) -> bool {
        self.state().has_succeeded()
    }

    /// Why the job failed, when it did (an empty status is no error).
    ///
    /// ```
    /// # use vertex_batch::v1;
    /// assert!(v1::BatchPredictionJob::default().job_error().is_none());
    /// ```
    pub fn job_error(&self) -> Option<&rpc::Status> {
        self.error
            .as_ref()
            .filter(|e| e.code != 0 || !e.message.is_empty())
    }

    /// The job's name, parsed.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a job the service has not named yet, or a name that is not a
    /// batch prediction job's.
    ///
    /// ```
    /// # use vertex_batch::v1;
    /// let job = v1::BatchPredictionJob {
    ///     name: "projects/example.com:my-project/locations/us-central1/batchPredictionJobs/7".into(),
    ///     ..Default::default()
    /// };
    /// assert_eq!(job.job_name()?.project(), "example.com:my-project");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn job_name(&self) -> Result<BatchPredictionJobName> {
        if self.name.is_empty() {
            return Err(Error::invalid(
                "name",
                "the job has no name yet: the service names a job when it creates it; use the \
                 job returned by create",
            ));
        }
        BatchPredictionJobName::parse(&self.name)
    }

    /// The job itself when it ended in SUCCEEDED.
    ///
    /// # Errors
    /// [`Error::JobEnded`] with its end state and error message (or, for a job still going, its
    /// state).
    ///
    /// ```
    /// use vertex_batch::proto::google::rpc;
    /// use vertex_batch::v1::{BatchPredictionJob, JobState};
    ///
    /// let failed = BatchPredictionJob {
    ///     name: "projects/p/locations/us-central1/batchPredictionJobs/1".into(),
    ///     state: JobState::Failed.into(),
    ///     error: Some(rpc::Status { code: 8, message: "quota exceeded".into(), details: vec![] }),
    ///     ..Default::default()
    /// };
    /// let err = failed.check_succeeded().unwrap_err();
    /// assert!(err.is_job_ended());
    /// assert!(err.to_string().ends_with("ended FAILED: quota exceeded"));
    /// ```
    pub fn check_succeeded(self) -> Result<Self> {
        if self.has_succeeded() {
            return Ok(self);
        }
        Err(Error::JobEnded {
            message: self.job_error().map(|e| e.message.clone()),
            state: self.state(),
            job: self.name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::JobState;

    #[test]
    fn job_state_reads_unknown_values_as_unspecified() {
        let mut job = BatchPredictionJob {
            state: 99,
            ..Default::default()
        };
        assert_eq!(job.state(), JobState::Unspecified);
        assert!(!job.has_ended());
        job.state = JobState::Cancelled.into();
        assert!(job.has_ended());
        assert!(!job.has_succeeded());
    }

    #[test]
    fn job_error_and_name() {
        let mut job = BatchPredictionJob::default();
        assert!(job.job_error().is_none());
        job.error = Some(rpc::Status::default());
        assert!(job.job_error().is_none(), "an empty status is no error");
        job.error = Some(rpc::Status {
            code: 3,
            message: "bad input".into(),
            details: vec![],
        });
        assert_eq!(
            job.job_error().map(|e| e.message.as_str()),
            Some("bad input")
        );
        let err = job.job_name().unwrap_err();
        assert!(err.to_string().contains("no name yet"), "{err}");
        job.name = "projects/1/locations/us/batchPredictionJobs/2".into();
        assert_eq!(job.job_name().unwrap().to_string(), job.name);
    }

    #[test]
    fn check_succeeded_keeps_a_succeeded_job_and_refuses_the_rest() {
        let job = BatchPredictionJob {
            name: "projects/p/locations/us/batchPredictionJobs/1".into(),
            state: JobState::Succeeded.into(),
            ..Default::default()
        };
        assert_eq!(job.clone().check_succeeded().unwrap(), job);
        let running = BatchPredictionJob {
            state: JobState::Running.into(),
            ..job
        };
        let err = running.check_succeeded().unwrap_err();
        assert!(err.is_job_ended());
        assert!(err.to_string().ends_with("ended RUNNING"), "{err}");
    }
}

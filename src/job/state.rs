//! Reading a job: has it ended, did it succeed, how far is it, where are its results.

use std::fmt;

use crate::error::{Error, Result};
use crate::names::BatchPredictionJobName;
use crate::proto::google::rpc;
use crate::v1::batch_prediction_job::output_config::Destination;
use crate::v1::batch_prediction_job::output_info::OutputLocation as InfoLocation;
use crate::v1::{BatchPredictionJob, JobState};

/// Helpers on [`JobState`].
///
/// A job has ended in SUCCEEDED, FAILED, CANCELLED, EXPIRED and PARTIALLY_SUCCEEDED (the
/// official SDKs each forget one of the last two). PAUSED has not ended: a paused job keeps its
/// progress and goes back to QUEUED when resumed, so a wait goes on through it. CANCELLING and
/// UPDATING are on their way to another state.
///
/// ```
/// use vertex_batch::JobStateExt;
/// use vertex_batch::v1::JobState;
///
/// assert!(JobState::Expired.has_ended());
/// assert!(JobState::PartiallySucceeded.has_ended());
/// assert!(!JobState::PartiallySucceeded.has_succeeded());
/// assert!(!JobState::Paused.has_ended());
/// assert_eq!(JobState::Succeeded.short_name(), "SUCCEEDED");
/// ```
pub trait JobStateExt {
    /// The job will not change state any more (SUCCEEDED, FAILED, CANCELLED, EXPIRED,
    /// PARTIALLY_SUCCEEDED).
    fn has_ended(&self) -> bool;
    /// The job ended in SUCCEEDED.
    fn has_succeeded(&self) -> bool;
    /// The state's name without the `JOB_STATE_` prefix, e.g. `RUNNING`.
    fn short_name(&self) -> &'static str;
}

impl JobStateExt for JobState {
    fn has_ended(&self) -> bool {
        matches!(
            self,
            JobState::Succeeded
                | JobState::Failed
                | JobState::Cancelled
                | JobState::Expired
                | JobState::PartiallySucceeded
        )
    }

    fn has_succeeded(&self) -> bool {
        *self == JobState::Succeeded
    }

    fn short_name(&self) -> &'static str {
        self.as_str_name().trim_start_matches("JOB_STATE_")
    }
}

/// Where a job's results are, as the service reports them once it has written them.
///
/// `Display` gives the URI: `gs://...` or `bq://...`.
///
/// ```
/// use vertex_batch::OutputLocation;
///
/// let out = OutputLocation::Gcs("gs://my-bucket/out/prediction-model-2025-01-01T00:00:00.000Z".into());
/// assert_eq!(out.to_string(), "gs://my-bucket/out/prediction-model-2025-01-01T00:00:00.000Z");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutputLocation {
    /// The Cloud Storage directory holding `predictions*.jsonl`, a `gs://` URI.
    Gcs(String),
    /// The BigQuery table holding the predictions, `bq://project.dataset.table`.
    BigQueryTable(String),
    /// The BigQuery dataset the predictions were written to, `bq://project.dataset`, when the
    /// table is not reported.
    BigQueryDataset(String),
    /// A Vertex AI multimodal dataset, `projects/P/locations/L/datasets/D`.
    VertexDataset(String),
}

impl OutputLocation {
    /// The location as a URI (or, for a Vertex dataset, a resource name).
    ///
    /// ```
    /// # use vertex_batch::OutputLocation;
    /// let out = OutputLocation::BigQueryTable("bq://my-project.ds.predictions_2025".into());
    /// assert_eq!(out.uri(), "bq://my-project.ds.predictions_2025");
    /// ```
    pub fn uri(&self) -> &str {
        match self {
            OutputLocation::Gcs(uri)
            | OutputLocation::BigQueryTable(uri)
            | OutputLocation::BigQueryDataset(uri)
            | OutputLocation::VertexDataset(uri) => uri,
        }
    }
}

impl fmt::Display for OutputLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.uri())
    }
}

/// How many of a job's instances are done, from its `completion_stats`.
///
/// ```
/// use vertex_batch::Progress;
///
/// let progress = Progress::default();
/// assert_eq!(progress.processed(), 0);
/// assert_eq!(progress.to_string(), "0 succeeded, 0 failed, 0 incomplete");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Progress {
    /// Instances predicted successfully.
    pub successful: u64,
    /// Instances that failed.
    pub failed: u64,
    /// Instances not yet processed; `None` when the service does not know (it reports -1).
    pub incomplete: Option<u64>,
}

impl Progress {
    /// Instances processed so far, successfully or not.
    ///
    /// ```
    /// # use vertex_batch::{BatchPredictionJobExt, v1};
    /// let job = v1::BatchPredictionJob {
    ///     completion_stats: Some(v1::CompletionStats { successful_count: 7, failed_count: 1, incomplete_count: 2, ..Default::default() }),
    ///     ..Default::default()
    /// };
    /// assert_eq!(job.progress().processed(), 8);
    /// ```
    pub fn processed(&self) -> u64 {
        self.successful.saturating_add(self.failed)
    }

    /// All instances, when the service knows how many are left.
    ///
    /// ```
    /// # use vertex_batch::{BatchPredictionJobExt, v1};
    /// let job = v1::BatchPredictionJob {
    ///     completion_stats: Some(v1::CompletionStats { successful_count: 7, failed_count: 1, incomplete_count: 2, ..Default::default() }),
    ///     ..Default::default()
    /// };
    /// assert_eq!(job.progress().total(), Some(10));
    /// ```
    pub fn total(&self) -> Option<u64> {
        self.incomplete.map(|n| n.saturating_add(self.processed()))
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} succeeded, {} failed, ", self.successful, self.failed)?;
        match self.incomplete {
            Some(n) => write!(f, "{n} incomplete"),
            None => f.write_str("unknown incomplete"),
        }
    }
}

/// Helpers on [`BatchPredictionJob`]: state, results, progress and error, plainly.
///
/// ```
/// use vertex_batch::{BatchPredictionJobExt, OutputLocation, v1};
/// use v1::batch_prediction_job::{OutputInfo, output_info};
///
/// let job = v1::BatchPredictionJob {
///     name: "projects/my-project/locations/us-central1/batchPredictionJobs/42".into(),
///     state: v1::JobState::Succeeded.into(),
///     output_info: Some(OutputInfo {
///         output_location: Some(output_info::OutputLocation::GcsOutputDirectory(
///             "gs://my-bucket/out/prediction-model-2025".into(),
///         )),
///         ..Default::default()
///     }),
///     ..Default::default()
/// };
/// assert!(job.has_succeeded());
/// assert_eq!(
///     job.output_location(),
///     Some(OutputLocation::Gcs("gs://my-bucket/out/prediction-model-2025".into()))
/// );
/// assert_eq!(job.job_name()?.job_id(), "42");
/// # Ok::<(), vertex_batch::Error>(())
/// ```
pub trait BatchPredictionJobExt {
    /// The job's state; an unknown value reads as `Unspecified`.
    fn state(&self) -> JobState;
    /// The job will not change state any more; see [`JobStateExt::has_ended`].
    fn has_ended(&self) -> bool;
    /// The job ended in SUCCEEDED.
    fn has_succeeded(&self) -> bool;
    /// Where the results are, once the service has said: the Cloud Storage directory made
    /// under the output prefix, or the BigQuery table or dataset. `None` before then.
    fn output_location(&self) -> Option<OutputLocation>;
    /// Counts of instances done, failed and left.
    fn progress(&self) -> Progress;
    /// Why the job failed, when it did.
    fn job_error(&self) -> Option<&rpc::Status>;
    /// The job's name, parsed. An error for a job the service has not named yet.
    fn job_name(&self) -> Result<BatchPredictionJobName>;
}

impl BatchPredictionJobExt for BatchPredictionJob {
    fn state(&self) -> JobState {
        JobState::try_from(self.state).unwrap_or(JobState::Unspecified)
    }

    fn has_ended(&self) -> bool {
        BatchPredictionJobExt::state(self).has_ended()
    }

    fn has_succeeded(&self) -> bool {
        BatchPredictionJobExt::state(self).has_succeeded()
    }

    fn output_location(&self) -> Option<OutputLocation> {
        let info = self.output_info.as_ref()?;
        let table = non_empty(&info.bigquery_output_table);
        match &info.output_location {
            Some(InfoLocation::GcsOutputDirectory(dir)) => {
                non_empty(dir).map(|d| OutputLocation::Gcs(d.to_owned()))
            }
            Some(InfoLocation::BigqueryOutputDataset(dataset)) => {
                let dataset = non_empty(dataset)?;
                let dataset = if dataset.starts_with("bq://") {
                    dataset.to_owned()
                } else {
                    format!("bq://{dataset}")
                };
                Some(match table {
                    Some(table) => OutputLocation::BigQueryTable(format!("{dataset}.{table}")),
                    None => OutputLocation::BigQueryDataset(dataset),
                })
            }
            Some(InfoLocation::VertexMultimodalDatasetName(name)) => {
                non_empty(name).map(|n| OutputLocation::VertexDataset(n.to_owned()))
            }
            // Only the table is reported: it lives in the dataset the job was told to use.
            None => {
                let table = table?;
                let Some(Destination::BigqueryDestination(dest)) = self
                    .output_config
                    .as_ref()
                    .and_then(|c| c.destination.as_ref())
                else {
                    return None;
                };
                match dest.output_uri.matches('.').count() {
                    1 => Some(OutputLocation::BigQueryTable(format!(
                        "{}.{table}",
                        dest.output_uri
                    ))),
                    2 => Some(OutputLocation::BigQueryTable(dest.output_uri.clone())),
                    _ => None,
                }
            }
        }
    }

    fn progress(&self) -> Progress {
        let Some(stats) = &self.completion_stats else {
            return Progress::default();
        };
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Progress {
            successful: count(stats.successful_count),
            failed: count(stats.failed_count),
            incomplete: u64::try_from(stats.incomplete_count).ok(),
        }
    }

    fn job_error(&self) -> Option<&rpc::Status> {
        self.error
            .as_ref()
            .filter(|e| e.code != 0 || !e.message.is_empty())
    }

    fn job_name(&self) -> Result<BatchPredictionJobName> {
        if self.name.is_empty() {
            return Err(Error::invalid(
                "name",
                "the job has no name yet: the service names a job when it creates it; use the \
                 job returned by create",
            ));
        }
        BatchPredictionJobName::parse(&self.name)
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::BigQueryDestination;
    use crate::v1::CompletionStats;
    use crate::v1::batch_prediction_job::{OutputConfig, OutputInfo};

    const ALL: [JobState; 12] = [
        JobState::Unspecified,
        JobState::Queued,
        JobState::Pending,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelling,
        JobState::Cancelled,
        JobState::Paused,
        JobState::Expired,
        JobState::Updating,
        JobState::PartiallySucceeded,
    ];

    #[test]
    fn ended_states_are_exactly_the_five() {
        let ended: Vec<&str> = ALL
            .iter()
            .filter(|s| s.has_ended())
            .map(|s| s.short_name())
            .collect();
        assert_eq!(
            ended,
            [
                "SUCCEEDED",
                "FAILED",
                "CANCELLED",
                "EXPIRED",
                "PARTIALLY_SUCCEEDED"
            ]
        );
        let succeeded: Vec<JobState> = ALL.into_iter().filter(|s| s.has_succeeded()).collect();
        assert_eq!(succeeded, [JobState::Succeeded]);
        assert_eq!(JobState::Paused.short_name(), "PAUSED");
        assert_eq!(JobState::Unspecified.short_name(), "UNSPECIFIED");
    }

    #[test]
    fn job_state_reads_unknown_values_as_unspecified() {
        let mut job = BatchPredictionJob {
            state: 99,
            ..Default::default()
        };
        assert_eq!(BatchPredictionJobExt::state(&job), JobState::Unspecified);
        assert!(!job.has_ended());
        job.state = JobState::Cancelled.into();
        assert!(job.has_ended());
        assert!(!job.has_succeeded());
    }

    fn with_info(info: OutputInfo) -> BatchPredictionJob {
        BatchPredictionJob {
            output_info: Some(info),
            ..Default::default()
        }
    }

    #[test]
    fn output_locations_are_plain_uris() {
        assert_eq!(BatchPredictionJob::default().output_location(), None);
        let dataset = with_info(OutputInfo {
            output_location: Some(InfoLocation::BigqueryOutputDataset(
                "bq://my-project.prediction_ds".into(),
            )),
            bigquery_output_table: String::new(),
        });
        assert_eq!(
            dataset.output_location().map(|l| l.to_string()),
            Some("bq://my-project.prediction_ds".into())
        );
        let table = with_info(OutputInfo {
            output_location: Some(InfoLocation::BigqueryOutputDataset(
                "my-project.prediction_ds".into(),
            )),
            bigquery_output_table: "predictions_2025".into(),
        });
        assert_eq!(
            table.output_location(),
            Some(OutputLocation::BigQueryTable(
                "bq://my-project.prediction_ds.predictions_2025".into()
            ))
        );
        let vertex = with_info(OutputInfo {
            output_location: Some(InfoLocation::VertexMultimodalDatasetName(
                "projects/p/locations/l/datasets/d".into(),
            )),
            bigquery_output_table: String::new(),
        });
        assert!(matches!(
            vertex.output_location(),
            Some(OutputLocation::VertexDataset(_))
        ));
        let empty_dir = with_info(OutputInfo {
            output_location: Some(InfoLocation::GcsOutputDirectory(String::new())),
            bigquery_output_table: String::new(),
        });
        assert_eq!(empty_dir.output_location(), None);
    }

    #[test]
    fn a_lone_table_is_placed_in_the_configured_dataset() {
        let mut job = with_info(OutputInfo {
            output_location: None,
            bigquery_output_table: "predictions_1".into(),
        });
        assert_eq!(job.output_location(), None);
        job.output_config = Some(OutputConfig {
            predictions_format: "bigquery".into(),
            destination: Some(Destination::BigqueryDestination(BigQueryDestination {
                output_uri: "bq://my-project.ds".into(),
            })),
        });
        assert_eq!(
            job.output_location(),
            Some(OutputLocation::BigQueryTable(
                "bq://my-project.ds.predictions_1".into()
            ))
        );
    }

    #[test]
    fn progress_reads_completion_stats() {
        assert_eq!(
            BatchPredictionJob::default().progress(),
            Progress::default()
        );
        let job = BatchPredictionJob {
            completion_stats: Some(CompletionStats {
                successful_count: 90,
                failed_count: 3,
                incomplete_count: -1,
                successful_forecast_point_count: 0,
            }),
            ..Default::default()
        };
        let progress = job.progress();
        assert_eq!(
            (progress.successful, progress.failed, progress.incomplete),
            (90, 3, None)
        );
        assert_eq!(progress.total(), None);
        assert_eq!(
            progress.to_string(),
            "90 succeeded, 3 failed, unknown incomplete"
        );
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
}

//! Where a job's results are, as the service reports them once it has written them.

use std::fmt;

use crate::names::split_bigquery_path;
use crate::v1::BatchPredictionJob;
use crate::v1::batch_prediction_job::output_config::Destination;
use crate::v1::batch_prediction_job::output_info::OutputLocation as InfoLocation;

/// Where a job's results are: [`BatchPredictionJob::output_location`].
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

impl BatchPredictionJob {
    /// Where the results are, once the service has said: the Cloud Storage directory made
    /// under the output prefix, or the BigQuery table or dataset. `None` before then.
    ///
    /// ```
    /// use vertex_batch::{OutputLocation, v1};
    /// use v1::batch_prediction_job::{OutputInfo, output_info};
    ///
    /// let job = v1::BatchPredictionJob {
    ///     output_info: Some(OutputInfo {
    ///         output_location: Some(output_info::OutputLocation::GcsOutputDirectory(
    ///             "gs://my-bucket/out/prediction-model-2025".into(),
    ///         )),
    ///         ..Default::default()
    ///     }),
    ///     ..Default::default()
    /// };
    /// assert_eq!(
    ///     job.output_location(),
    ///     Some(OutputLocation::Gcs("gs://my-bucket/out/prediction-model-2025".into()))
    /// );
    /// ```
    pub fn output_location(&self) -> Option<OutputLocation> {
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
                let path = dest.output_uri.strip_prefix("bq://")?;
                // The project may be domain-scoped (`example.com:my-project`): count the parts
                // after it, not the dots.
                match split_bigquery_path(path).len() {
                    2 => Some(OutputLocation::BigQueryTable(format!(
                        "{}.{table}",
                        dest.output_uri
                    ))),
                    3 => Some(OutputLocation::BigQueryTable(dest.output_uri.clone())),
                    _ => None,
                }
            }
        }
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::BigQueryDestination;
    use crate::v1::batch_prediction_job::{OutputConfig, OutputInfo};

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

    fn configured(output_uri: &str) -> BatchPredictionJob {
        let mut job = with_info(OutputInfo {
            output_location: None,
            bigquery_output_table: "predictions_1".into(),
        });
        job.output_config = Some(OutputConfig {
            predictions_format: "bigquery".into(),
            destination: Some(Destination::BigqueryDestination(BigQueryDestination {
                output_uri: output_uri.into(),
            })),
        });
        job
    }

    #[test]
    fn a_lone_table_is_placed_in_the_configured_dataset() {
        let mut job = configured("bq://my-project.ds");
        assert_eq!(
            job.output_location(),
            Some(OutputLocation::BigQueryTable(
                "bq://my-project.ds.predictions_1".into()
            ))
        );
        job.output_config = None;
        assert_eq!(job.output_location(), None);
    }

    #[test]
    fn a_lone_table_finds_a_domain_scoped_dataset() {
        assert_eq!(
            configured("bq://example.com:my-project.ds").output_location(),
            Some(OutputLocation::BigQueryTable(
                "bq://example.com:my-project.ds.predictions_1".into()
            ))
        );
        assert_eq!(
            configured("bq://example.com:my-project.ds.t").output_location(),
            Some(OutputLocation::BigQueryTable(
                "bq://example.com:my-project.ds.t".into()
            ))
        );
        // A project alone says nothing of the dataset the service made.
        assert_eq!(
            configured("bq://example.com:my-project").output_location(),
            None
        );
    }
}

//! Jobs that read a BigQuery table and write one (feature `bigquery`, on an emulator given a
//! BigQuery endpoint: [`EmulatorBuilder::with_bigquery_endpoint`](super::EmulatorBuilder::with_bigquery_endpoint),
//! `--bigquery-endpoint`, e.g. bqemulator's). Without an endpoint a BigQuery job reads nothing
//! and writes nothing, as before.
//!
//! What the job checks and writes, each with its public source:
//! - The input table has a `request` column, JSON or STRING, holding a
//!   `GenerateContentRequest`; its other columns are copied to the output table, where
//!   `response` and `status` are reserved ("Batch inference from BigQuery",
//!   cloud.google.com/vertex-ai/generative-ai/docs/multimodal/batch-prediction-from-bigquery).
//!   An input with a `status` or `response` column fails the job.
//! - The output table's columns: the input's other columns, then `status` (empty on
//!   success), `processed_time` (TIMESTAMP), `request` (JSON), `response` (JSON): the output
//!   table of GoogleCloudPlatform/generative-ai
//!   `gemini/use-cases/video-analysis/video_analysis_with_youtube_data_api_and_batch_prediction.ipynb`.
//!   A failed row has its status and `{}` as its response, as a file's line does
//!   ([`super::echo`]).
//! - The input and output datasets must be in the job's region, and a multi-region dataset
//!   (`US`, `EU`) is not supported for input (the reference page "Batch prediction for
//!   Gemini", REST, `INPUT_URI`: "Multi-region datasets are not supported"). An
//!   output dataset or table that does not exist is created (in the job's region); rows are
//!   appended to one that exists and has the service's columns.
//!
//! Rows go through [`JobRows`], as a file's lines do: the same answers, the same row faults
//! and expiry. The tables are processed once, starting when the job is first seen past the end
//! of its running time, on a detached thread of its own with a runtime of its own and a
//! BigQuery client made for it; the state's lock is not held meanwhile, so Get and List of
//! every job answer while a big table is written. Until the thread has set the outcome the job
//! is RUNNING, as a service job stays RUNNING while it writes its output and ends only once
//! the output is written. The jobs of a process take turns ([`ONE_AT_A_TIME`]): bqemulator
//! breaks under two reads at once. A thread that cannot be started, or that panics, fails the job
//! (INTERNAL): it never stays RUNNING for good. A cancel while the job writes stops it before
//! its next `insertAll` batch (so does the emulator dropping the job, when it is dropped
//! itself); the rows written before stay in the output table, as the
//! service keeps what a cancelled job already wrote ("Any files already outputted by the job
//! are not deleted": cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.batchPredictionJobs/cancel).
//! (A `gs://` job's files, local ones, are still processed under the lock:
//! [`super::gcs_folder`].)

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use futures_util::TryStreamExt;
use serde_json::{Value, json};

use super::echo;
use super::gcs_folder::FolderOutcome;
use super::job_rows::JobRows;
use super::lifecycle::status;
use super::row_faults::RowFaults;
use super::truth::Truth;
use crate::bigquery::{BigQuery, BigQueryBuilder, Column, Row, TableUri};
use crate::proto::google::rpc;
use crate::v1::BatchPredictionJob;
use crate::v1::batch_prediction_job::input_config::Source;

/// Held by the thread of the job whose tables are being processed: one job's tables at a
/// time in a process, whatever emulator it belongs to, while the others stay RUNNING. Every
/// emulator in a process may be pointed at one bqemulator (the tests' is shared), whose one
/// DuckDB connection does not serve two reads at once: with three jobs' threads reading their
/// inputs together, `tabledata.list` failed (`'NoneType' object has no attribute 'schema'`)
/// and bqemulator then answered nothing.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Rows sent per `insertAll` request.
const INSERT_BATCH: usize = 500;

/// The columns the job adds after the input's own, in the service's order.
fn service_columns() -> [Column; 4] {
    [
        Column::new("status", "STRING"),
        Column::new("processed_time", "TIMESTAMP"),
        Column::new("request", "JSON"),
        Column::new("response", "JSON"),
    ]
}

/// One BigQuery job's tables, processed once.
#[derive(Debug, Clone)]
pub(crate) struct TableJob {
    bigquery: BigQueryBuilder,
    faults: RowFaults,
    truth: Truth,
    seq: u64,
    /// The job's region, which its datasets must be in.
    location: String,
    /// The row count after which the job expires (a fault), taken when it was created.
    expire_after: Option<u64>,
    /// Set once, by the processing thread (or by a failure to start it).
    outcome: Arc<OnceLock<FolderOutcome>>,
    /// Set by the call of [`TableJob::outcome`] that starts the processing thread.
    started: Arc<AtomicBool>,
    /// Set when the job is cancelled, or dropped with its emulator: the writer stops before
    /// its next batch.
    stopped: Arc<AtomicBool>,
    /// The emulator's copy holds it, the thread's does not: when the emulator drops the job
    /// (it was shut down and dropped), the writer stops, so that no thread goes on writing
    /// for a job nobody can see.
    owner: Option<Arc<StopOnDrop>>,
}

/// Sets its flag when dropped.
#[derive(Debug)]
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

impl TableJob {
    /// The tables of `job`, created `seq`-th in `location`, when the emulator has a BigQuery
    /// endpoint and the job reads a table; takes the one-shot expiry then.
    pub(crate) fn new(
        bigquery: Option<&BigQueryBuilder>,
        faults: &RowFaults,
        truth: Truth,
        seq: u64,
        location: &str,
        job: &BatchPredictionJob,
    ) -> Option<Self> {
        let bigquery = bigquery?;
        input_table(job)?;
        let stopped = Arc::<AtomicBool>::default();
        Some(TableJob {
            bigquery: bigquery.clone(),
            faults: faults.clone(),
            truth,
            seq,
            location: location.to_owned(),
            expire_after: faults.take_expiry(),
            outcome: Arc::default(),
            started: Arc::default(),
            owner: Some(Arc::new(StopOnDrop(stopped.clone()))),
            stopped,
        })
    }

    /// The outcome of the job once its tables are processed; `None` while they are. The first
    /// call starts processing them on a thread of its own and answers `None` (so the caller
    /// that starts it sees the job RUNNING whatever the thread's speed); it returns at once.
    /// `output` is the job's output dataset (`bq://project.dataset`) and table, as its
    /// `output_info` names them; `ended` is when its running time ended, every row's
    /// `processed_time`.
    pub(crate) fn outcome(
        &self,
        job: &BatchPredictionJob,
        output: Option<(String, String)>,
        ended: SystemTime,
    ) -> Option<&FolderOutcome> {
        if let Some(outcome) = self.outcome.get() {
            return Some(outcome);
        }
        if !self.started.swap(true, Ordering::AcqRel) {
            self.start(job.clone(), output, ended);
        }
        None
    }

    /// Tells a job that is writing its output table to stop before its next batch (it was
    /// cancelled). The rows already written stay.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    /// Processes the tables on a detached thread that owns what it needs (this job's clone
    /// and `job`'s), then sets the outcome. A thread that cannot be started fails the job.
    fn start(&self, job: BatchPredictionJob, output: Option<(String, String)>, ended: SystemTime) {
        let mut this = self.clone();
        this.owner = None;
        let spawned = std::thread::Builder::new()
            .name(format!("emulator-table-job-{}", self.seq))
            .spawn(move || {
                let outcome = settle(|| this.run(&job, output, ended));
                // Only this thread sets it once started.
                let _ = this.outcome.set(outcome);
            });
        if let Err(err) = spawned {
            let _ = self.outcome.set(FolderOutcome::Failed(internal(&format!(
                "could not start a thread for the job: {err}"
            ))));
        }
    }

    /// Processes the tables on a runtime of the calling thread's own, in its turn.
    fn run(
        &self,
        job: &BatchPredictionJob,
        output: Option<(String, String)>,
        ended: SystemTime,
    ) -> Result<FolderOutcome, rpc::Status> {
        // A thread that panicked in its turn has set its job's outcome (`settle`): the lock
        // guards nothing but the turn.
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        self.check_stopped()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| internal(&format!("could not start a runtime for the job: {err}")))?;
        runtime.block_on(self.process(job, output, ended))
    }

    async fn process(
        &self,
        job: &BatchPredictionJob,
        output: Option<(String, String)>,
        ended: SystemTime,
    ) -> Result<FolderOutcome, rpc::Status> {
        let client = self
            .bigquery
            .clone()
            .build()
            .map_err(|err| internal(&err.to_string()))?;
        let input_uri = input_table(job).unwrap_or_default();
        let input: TableUri = input_uri
            .parse()
            .map_err(|err: crate::Error| invalid(&err.to_string()))?;

        let input_location = client
            .dataset_location(input.project(), input.dataset())
            .await
            .map_err(|err| failed(&err, "the input dataset"))?;
        if is_multi_region(&input_location) {
            return Err(invalid(&format!(
                "The input dataset {}.{} is in the multi-region {input_location}: multi-region \
                 datasets are not supported for input; copy the table to a dataset in {}",
                input.project(),
                input.dataset(),
                self.location
            )));
        }
        self.check_region(&input_location, "input", input.project(), input.dataset())?;
        let info = client
            .table(&input)
            .await
            .map_err(|err| failed(&err, "the input table"))?;
        match info
            .column("request")
            .map(Column::canonical_type)
            .as_deref()
        {
            Some("JSON" | "STRING") => {}
            Some(other) => {
                return Err(invalid(&format!(
                    "The input table {input} has a `request` column of type {other}: it must \
                     be JSON or STRING, holding a GenerateContentRequest"
                )));
            }
            None => {
                return Err(invalid(&format!(
                    "The input table {input} has no `request` column: a batch job reads each \
                     row's GenerateContentRequest from a JSON or STRING column named `request`"
                )));
            }
        }
        if let Some(reserved) = ["status", "response"]
            .into_iter()
            .find(|name| info.column(name).is_some())
        {
            return Err(invalid(&format!(
                "The input table {input} has a `{reserved}` column: `status` and `response` \
                 are reserved for the output table; rename it"
            )));
        }

        let Some((dataset_uri, table)) = output else {
            return Err(invalid(
                "the emulator writes a BigQuery input's rows to a BigQuery table only: give \
                 the job a bigquery_destination",
            ));
        };
        let dataset_path = dataset_uri.trim_start_matches("bq://");
        let parts = crate::names::split_bigquery_path(dataset_path);
        let [project, dataset] = parts.as_slice() else {
            return Err(internal(&format!("`{dataset_uri}` is not a dataset")));
        };
        let output = TableUri::new(*project, *dataset, table.as_str())
            .map_err(|err| invalid(&err.to_string()))?;
        match client.dataset_location(project, dataset).await {
            Ok(location) => self.check_region(&location, "output", project, dataset)?,
            Err(err) if err.is_not_found() => client
                .create_dataset(project, dataset, &self.location)
                .await
                .map_err(|err| failed(&err, "the output dataset"))?,
            Err(err) => return Err(failed(&err, "the output dataset")),
        }
        let columns: Vec<Column> = info
            .columns
            .iter()
            .filter(|column| column.name != "request")
            .cloned()
            .chain(service_columns())
            .collect();
        match client.table(&output).await {
            Ok(existing) => {
                if let Some(missing) = service_columns()
                    .iter()
                    .find(|column| existing.column(&column.name).is_none())
                {
                    return Err(invalid(&format!(
                        "The output table {output} exists without a `{}` column: give the \
                         job a new table, or one with the input's columns and status, \
                         processed_time, request, response",
                        missing.name
                    )));
                }
            }
            Err(err) if err.is_not_found() => {
                client
                    .create_table(&output, &columns)
                    .await
                    .map_err(|err| failed(&err, "the output table"))?;
            }
            Err(err) => return Err(failed(&err, "the output table")),
        }

        self.write_rows(&client, job, &input, &output, ended).await
    }

    /// Reads the input's rows, answers them and writes them to `output`.
    async fn write_rows(
        &self,
        client: &BigQuery,
        job: &BatchPredictionJob,
        input: &TableUri,
        output: &TableUri,
        ended: SystemTime,
    ) -> Result<FolderOutcome, rpc::Status> {
        let processed_time = echo::processed_time(ended);
        let create_time = prost_types::Timestamp::from(ended).to_string();
        let rows = JobRows {
            model_version: super::validate::model_id(&job.model),
            processed_time: &processed_time,
            create_time: &create_time,
            truth: self.truth,
            faults: &self.faults,
            seq: self.seq,
        };
        let (mut successful, mut failed_rows, mut incomplete) = (0, 0, 0);
        let mut index: u64 = 0;
        let mut batch: Vec<Row> = Vec::with_capacity(INSERT_BATCH);
        let mut read = client.rows(input);
        while let Some(mut row) = read
            .try_next()
            .await
            .map_err(|err| failed(&err, "the input table"))?
        {
            let this = index;
            index += 1;
            if self.expire_after.is_some_and(|after| this >= after) {
                incomplete += 1;
                continue;
            }
            let request = match row.remove("request").unwrap_or(Value::Null) {
                // A STRING column holds the request's JSON text.
                Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
                other => other,
            };
            let prediction = rows.row_of_request(&request, this);
            if prediction.is_ok() {
                successful += 1;
            } else {
                failed_rows += 1;
            }
            let response = match &prediction.response {
                Some(response) => serde_json::to_value(response)
                    .map_err(|err| internal(&format!("a response did not serialise: {err}")))?,
                None => json!({}),
            };
            row.insert("status".to_owned(), Value::String(prediction.status));
            row.insert(
                "processed_time".to_owned(),
                Value::String(processed_time.clone()),
            );
            row.insert(
                "request".to_owned(),
                echo::reserialised(&prediction.request),
            );
            row.insert("response".to_owned(), response);
            batch.push(row);
            if batch.len() == INSERT_BATCH {
                self.insert(client, output, &mut batch).await?;
            }
        }
        self.insert(client, output, &mut batch).await?;
        Ok(FolderOutcome::Processed {
            successful,
            failed: failed_rows,
            incomplete,
            written: true,
            expired: self.expire_after.is_some_and(|after| index > after),
        })
    }

    async fn insert(
        &self,
        client: &BigQuery,
        output: &TableUri,
        batch: &mut Vec<Row>,
    ) -> Result<(), rpc::Status> {
        self.check_stopped()?;
        client
            .insert_rows(output, batch)
            .await
            .map_err(|err| failed(&err, "the output table"))?;
        batch.clear();
        Ok(())
    }

    /// The job goes on unless it was cancelled or dropped. Its outcome then is never shown
    /// (the job is CANCELLED, or gone), but it ends the thread.
    fn check_stopped(&self) -> Result<(), rpc::Status> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(status(
                tonic::Code::Cancelled,
                "the job was cancelled (or dropped with its emulator) while it wrote its \
                 output table; the rows written before stay in it",
            ));
        }
        Ok(())
    }

    /// A dataset of the job in `location`, or the job fails saying where it should be.
    fn check_region(
        &self,
        location: &str,
        which: &str,
        project: &str,
        dataset: &str,
    ) -> Result<(), rpc::Status> {
        if location.eq_ignore_ascii_case(&self.location) {
            return Ok(());
        }
        Err(invalid(&format!(
            "The {which} dataset {project}.{dataset} is in {location}, not in the job's region \
             {}: a batch job reads and writes BigQuery datasets in its own region",
            self.location
        )))
    }
}

/// What `work` gave as the job's outcome: its error fails the job, and so does a panic
/// (INTERNAL), so that a job never stays RUNNING for a thread that died.
fn settle(work: impl FnOnce() -> Result<FolderOutcome, rpc::Status>) -> FolderOutcome {
    match std::panic::catch_unwind(AssertUnwindSafe(work)) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(error)) => FolderOutcome::Failed(error),
        Err(_) => FolderOutcome::Failed(internal(
            "the emulator's thread for the job panicked while it processed the tables",
        )),
    }
}

/// The `bq://` table a job reads, when it reads one.
fn input_table(job: &BatchPredictionJob) -> Option<&str> {
    match job.input_config.as_ref()?.source.as_ref()? {
        Source::BigquerySource(bq) => Some(bq.input_uri.as_str()),
        _ => None,
    }
}

/// BigQuery's multi-regions: `US`, `EU` (regions have a hyphen: `us-central1`).
fn is_multi_region(location: &str) -> bool {
    !location.contains('-')
}

fn invalid(message: &str) -> rpc::Status {
    status(tonic::Code::InvalidArgument, message)
}

fn internal(message: &str) -> rpc::Status {
    status(tonic::Code::Internal, message)
}

/// A BigQuery failure about `what` as the job's error: NOT_FOUND for what does not exist,
/// INTERNAL for the rest (the emulator's BigQuery failed).
fn failed(err: &crate::Error, what: &str) -> rpc::Status {
    let code = if err.is_not_found() {
        tonic::Code::NotFound
    } else if err.is_invalid_input() {
        tonic::Code::InvalidArgument
    } else {
        tonic::Code::Internal
    };
    status(code, &format!("{what}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_regions_are_the_ones_without_a_hyphen() {
        assert!(is_multi_region("US"));
        assert!(is_multi_region("EU"));
        assert!(!is_multi_region("us-central1"));
        assert!(!is_multi_region("europe-west4"));
    }

    #[test]
    fn the_writer_stops_when_the_emulator_drops_the_job_or_it_is_cancelled() {
        let bigquery = BigQuery::builder().with_endpoint("http://127.0.0.1:9");
        let job = BatchPredictionJob {
            input_config: Some(crate::v1::batch_prediction_job::InputConfig {
                source: Some(Source::BigquerySource(crate::v1::BigQuerySource {
                    input_uri: "bq://p.d.t".into(),
                })),
                ..Default::default()
            }),
            ..Default::default()
        };
        let make = || {
            TableJob::new(
                Some(&bigquery),
                &RowFaults::default(),
                Truth::default(),
                1,
                "us-central1",
                &job,
            )
            .unwrap()
        };
        let kept = make();
        let mut thread_copy = kept.clone();
        thread_copy.owner = None;
        assert!(thread_copy.check_stopped().is_ok());
        drop(kept);
        let stopped = thread_copy.check_stopped().unwrap_err();
        assert_eq!(stopped.code, tonic::Code::Cancelled as i32);

        let cancelled = make();
        let copy = cancelled.clone();
        cancelled.stop();
        assert!(copy.check_stopped().is_err(), "a cancel reaches the copy");
    }

    #[test]
    fn a_panic_while_processing_fails_the_job_and_an_error_fails_it_with_that_error() {
        let panicked = settle(|| panic!("a bug in processing"));
        match panicked {
            FolderOutcome::Failed(error) => {
                assert_eq!(error.code, tonic::Code::Internal as i32);
                assert!(error.message.contains("panicked"), "{}", error.message);
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        let refused = settle(|| Err(invalid("no `request` column")));
        assert!(
            matches!(&refused, FolderOutcome::Failed(e) if e.message == "no `request` column"),
            "{refused:?}"
        );
        let done = settle(|| {
            Ok(FolderOutcome::Processed {
                successful: 1,
                failed: 0,
                incomplete: 0,
                written: true,
                expired: false,
            })
        });
        assert_eq!(done.state(), crate::v1::JobState::Succeeded);
    }
}

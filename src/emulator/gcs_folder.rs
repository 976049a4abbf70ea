//! A local folder standing in for Cloud Storage, `gs://bucket/path` = `ROOT/bucket/path`, and
//! what a job does with the emulator's objects (that folder, or memory: [`ObjectStore`]).
//!
//! A job whose input is `gs://` really reads its JSONL objects and, when its destination is
//! `gs://` too, writes `predictions.jsonl` in its output directory: one row per non-blank input
//! line, in input order, each written as the service writes it ([`super::echo`]), with the row
//! faults the emulator was given ([`RowFaults`]). With objects in memory, a job reads the store
//! only when its input's bucket exists there (something was uploaded to it); otherwise it keeps
//! the synthetic 100 rows of an emulator without storage. The work happens once, the first time
//! the job is seen ended (job states are computed from the clock on every read, so there is no
//! background task to do it earlier); every later read reuses the result. Objects stream line by
//! line in constant memory, but the call that first sees the job ended does the work while the
//! emulator's job table is locked, so other calls wait for it: fine for test-sized inputs.

use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use super::answer;
use super::echo;
use super::lifecycle::status;
use super::row_faults::{RowFate, RowFaults};
use super::storage::{ObjectStore, StoreError};
use crate::batch_file::{Line, MAX_LINE_BYTES, read_line};
use crate::error::size_text;
use crate::proto::google::rpc;
use crate::v1::batch_prediction_job::OutputInfo;
use crate::v1::batch_prediction_job::input_config::Source;
use crate::v1::batch_prediction_job::output_config::Destination;
use crate::v1::{BatchPredictionJob, CompletionStats, JobState};

/// The file a job writes in its output directory, as the service names it.
const PREDICTIONS_FILE: &str = "predictions.jsonl";

/// The folder that stands in for `gs://`.
#[derive(Debug, Clone)]
pub(crate) struct GcsFolder {
    root: Arc<PathBuf>,
}

impl GcsFolder {
    pub(crate) fn new(root: PathBuf) -> Self {
        GcsFolder {
            root: Arc::new(root),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The local path of `uri`, or why it has none. Segments that would leave the root (`..`)
    /// are refused: a client must not reach files outside the folder.
    pub(crate) fn local_path(&self, uri: &str) -> Result<PathBuf, String> {
        let Some(path) = uri.strip_prefix("gs://") else {
            return Err(format!(
                "`{uri}` is not a Cloud Storage URI: expected `gs://bucket/object`"
            ));
        };
        let mut local = self.root.to_path_buf();
        for segment in path.split('/').filter(|segment| !segment.is_empty()) {
            let mut components = Path::new(segment).components();
            match (components.next(), components.next()) {
                (Some(Component::Normal(_)), None) if !segment.contains('\\') => {
                    local.push(segment)
                }
                _ => {
                    return Err(format!(
                        "`{uri}`: the segment `{segment}` is not an object name the emulator's \
                         local gs:// folder can map"
                    ));
                }
            }
        }
        if local == *self.root {
            return Err(format!(
                "`{uri}` names no bucket: expected `gs://bucket/object`"
            ));
        }
        Ok(local)
    }
}

/// What reading and writing a job's files gave.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FolderOutcome {
    /// Input lines got rows: `successful` answers, `failed` refused or faulted rows,
    /// `incomplete` rows never run because the job expired (`expired`); `written` when
    /// predictions.jsonl was written (the destination is `gs://`).
    Processed {
        successful: i64,
        failed: i64,
        incomplete: i64,
        written: bool,
        expired: bool,
    },
    /// The job could not run: an input file is missing, a format is not jsonl, a write failed.
    Failed(rpc::Status),
}

impl FolderOutcome {
    /// The end state: EXPIRED when the job was made to expire part way; SUCCEEDED when some
    /// row succeeded, as the service ends a job whose failed rows are only counted; FAILED when
    /// none did or the job could not run.
    pub(crate) fn state(&self) -> JobState {
        match self {
            FolderOutcome::Processed { expired: true, .. } => JobState::Expired,
            FolderOutcome::Processed { successful, .. } if *successful > 0 => JobState::Succeeded,
            _ => JobState::Failed,
        }
    }

    /// Sets the ended `job`'s counts, error and output location. `output_info` is where the
    /// results are.
    pub(crate) fn apply(&self, job: &mut BatchPredictionJob, output_info: Option<OutputInfo>) {
        match self {
            FolderOutcome::Failed(error) => {
                job.error = Some(error.clone());
                job.completion_stats = Some(CompletionStats::default());
            }
            FolderOutcome::Processed {
                successful,
                failed,
                incomplete,
                written,
                expired,
            } => {
                job.completion_stats = Some(CompletionStats {
                    successful_count: *successful,
                    failed_count: *failed,
                    incomplete_count: *incomplete,
                    ..CompletionStats::default()
                });
                if *expired {
                    job.error = Some(status(
                        tonic::Code::DeadlineExceeded,
                        &format!(
                            "the job expired after exporting {} of {} rows (emulator fault \
                             expire_after_rows); the rows it exported are in its output",
                            successful + failed,
                            successful + failed + incomplete
                        ),
                    ));
                } else if *successful == 0 {
                    let message = if *failed == 0 {
                        "the input files hold no requests: each line must be \
                         {\"request\": {\"contents\": [...]}}"
                            .to_string()
                    } else {
                        format!(
                            "all {failed} requests failed: the status column of the output \
                             says why for each"
                        )
                    };
                    job.error = Some(status(tonic::Code::InvalidArgument, &message));
                }
                if *successful > 0 || *written {
                    job.output_info = output_info;
                }
            }
        }
    }
}

/// The status of a row failed with a transient 429, as the service writes it.
const TRANSIENT_STATUS: &str = r#"Too Many Requests: {"error": {"code": 429, "message": "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.", "status": "RESOURCE_EXHAUSTED"}}"#;

/// The status of a row failed with a permanent 400, as the service writes it.
const PERMANENT_STATUS: &str = r#"Bad Request: {"error": {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"}}"#;

/// One job's files, processed once.
#[derive(Debug, Clone)]
pub(crate) struct FolderJob {
    store: ObjectStore,
    faults: RowFaults,
    /// The job's creation order, for the row fault draws.
    seq: u64,
    /// Rows exported before the job expires, when it is the job made to expire.
    expire_after: Option<u64>,
    outcome: Arc<OnceLock<FolderOutcome>>,
}

impl FolderJob {
    /// The files of `job`, created `seq`-th. Takes the one-shot expiry when the job reads the
    /// store.
    pub(crate) fn new(
        store: ObjectStore,
        faults: RowFaults,
        seq: u64,
        job: &BatchPredictionJob,
    ) -> Self {
        let reads = reads_store(&store, job);
        FolderJob {
            expire_after: if reads { faults.take_expiry() } else { None },
            store,
            faults,
            seq,
            outcome: Arc::default(),
        }
    }

    /// The outcome of `job`'s files, processing them now if this is the first call. `None` for a
    /// job whose input is not in the store (BigQuery jobs are left as they were). `output_dir` is
    /// the job's `gs://` output directory, when its destination is Cloud Storage; `ended` is
    /// when it ended, every row's processed_time.
    pub(crate) fn outcome(
        &self,
        job: &BatchPredictionJob,
        output_dir: Option<&str>,
        ended: SystemTime,
    ) -> Option<&FolderOutcome> {
        if let Some(outcome) = self.outcome.get() {
            return Some(outcome);
        }
        if !reads_store(&self.store, job) {
            return None;
        }
        let input = job.input_config.as_ref()?;
        let Some(Source::GcsSource(gcs)) = &input.source else {
            return None;
        };
        Some(self.outcome.get_or_init(|| {
            self.process(job, &input.instances_format, &gcs.uris, output_dir, ended)
                .unwrap_or_else(FolderOutcome::Failed)
        }))
    }

    fn process(
        &self,
        job: &BatchPredictionJob,
        format: &str,
        uris: &[String],
        output_dir: Option<&str>,
        ended: SystemTime,
    ) -> Result<FolderOutcome, rpc::Status> {
        let invalid = |message: String| status(tonic::Code::InvalidArgument, &message);
        if format != "jsonl" {
            return Err(invalid(format!(
                "the emulator's gs:// storage reads only jsonl input; this job's \
                 instances_format is `{format}`"
            )));
        }
        if let Some(Destination::GcsDestination(_)) = job
            .output_config
            .as_ref()
            .and_then(|config| config.destination.as_ref())
        {
            let format = job
                .output_config
                .as_ref()
                .map_or("", |config| config.predictions_format.as_str());
            if format != "jsonl" {
                return Err(invalid(format!(
                    "the emulator's gs:// storage writes only jsonl predictions; this job's \
                     predictions_format is `{format}`"
                )));
            }
        }
        // Every input must be there before anything is written, as the service checks its
        // inputs before it starts.
        let mut inputs = Vec::with_capacity(uris.len());
        for uri in uris {
            let (bucket, name) = split(uri).map_err(invalid)?;
            match self.store.meta(bucket, name) {
                Ok(_) => {}
                Err(StoreError { code: 404, .. }) => {
                    let local = self
                        .store
                        .folder_backend()
                        .and_then(|folder| folder.local_path(uri).ok())
                        .map(|path| {
                            format!(
                                " (the emulator's local gs:// folder has no {})",
                                path.display()
                            )
                        })
                        .unwrap_or_default();
                    return Err(status(
                        tonic::Code::NotFound,
                        &format!(
                            "Input file {uri} does not exist: No such object: {bucket}/{name}{local}"
                        ),
                    ));
                }
                Err(err) => return Err(invalid(format!("{uri}: {}", err.message))),
            }
            inputs.push((uri, bucket, name));
        }

        let mut output = match output_dir {
            Some(dir) => {
                let uri = format!("{}/{PREDICTIONS_FILE}", dir.trim_end_matches('/'));
                let (bucket, name) = split(&uri).map_err(invalid)?;
                let writer = self
                    .store
                    .writer(bucket, name, "application/jsonl")
                    .map_err(|err| write_failed(&uri, &io::Error::other(err.message)))?;
                Some((io::BufWriter::new(writer), uri))
            }
            None => None,
        };

        let model_version = super::validate::model_id(&job.model);
        let processed_time = echo::processed_time(ended);
        let create_time = prost_types::Timestamp::from(ended).to_string();
        let (mut successful, mut failed, mut incomplete) = (0, 0, 0);
        let mut row_index: u64 = 0;
        let mut line = Vec::new();
        for (uri, bucket, name) in inputs {
            let read_failed = |err: String| {
                status(
                    tonic::Code::Internal,
                    &format!("could not read the input file {uri}: {err}"),
                )
            };
            let mut reader = self
                .store
                .reader(bucket, name)
                .map_err(|err| read_failed(err.message))?;
            let mut line_number = 0;
            loop {
                line_number += 1;
                match read_line(&mut reader, &mut line, MAX_LINE_BYTES)
                    .map_err(|err| read_failed(err.to_string()))?
                {
                    Line::End => break,
                    Line::TooLong => return Err(too_long(uri, line_number)),
                    Line::Read => {}
                }
                let trimmed = line.trim_ascii();
                if trimmed.is_empty() {
                    continue;
                }
                let index = row_index;
                row_index += 1;
                if self.expire_after.is_some_and(|after| index >= after) {
                    incomplete += 1;
                    continue;
                }
                let mut row = answer::row(trimmed, model_version, &processed_time);
                if row.is_ok() {
                    match self.faults.fate(self.seq, index) {
                        RowFate::Answered => {}
                        RowFate::Transient => {
                            row.response = None;
                            row.status = TRANSIENT_STATUS.to_owned();
                        }
                        RowFate::Permanent => {
                            row.response = None;
                            row.status = PERMANENT_STATUS.to_owned();
                        }
                    }
                }
                if let Some(response) = &mut row.response {
                    response.create_time = Some(create_time.clone());
                    response.response_id = Some(response_id(self.seq, index));
                }
                if row.is_ok() {
                    successful += 1;
                } else {
                    failed += 1;
                }
                if let Some((out, uri)) = &mut output {
                    let response = row
                        .response
                        .as_ref()
                        .map(serde_json::to_value)
                        .transpose()
                        .map_err(|err| write_failed(uri, &io::Error::from(err)))?;
                    let text = echo::line(
                        &row.status,
                        &processed_time,
                        &row.request,
                        response.as_ref(),
                    );
                    out.write_all(text.as_bytes())
                        .and_then(|()| out.write_all(b"\n"))
                        .map_err(|err| write_failed(uri, &err))?;
                }
            }
        }
        let written = match output {
            Some((out, uri)) => {
                let writer = out
                    .into_inner()
                    .map_err(|err| write_failed(&uri, err.error()))?;
                writer
                    .commit()
                    .map_err(|err| write_failed(&uri, &io::Error::other(err.message)))?;
                true
            }
            None => false,
        };
        Ok(FolderOutcome::Processed {
            successful,
            failed,
            incomplete,
            written,
            expired: self.expire_after.is_some_and(|after| row_index > after),
        })
    }
}

/// How many requests `job`'s input holds (its non-blank lines), so that progress counts them
/// from the start; 0 when the input cannot be read (the job will fail when it ends, saying
/// why). `None` for a job that does not read the store.
pub(crate) fn input_rows(store: &ObjectStore, job: &BatchPredictionJob) -> Option<i64> {
    if !reads_store(store, job) {
        return None;
    }
    let input = job.input_config.as_ref()?;
    let Some(Source::GcsSource(gcs)) = &input.source else {
        return None;
    };
    if input.instances_format != "jsonl" {
        return Some(0);
    }
    let count = |uri: &String| -> Option<i64> {
        let (bucket, name) = split(uri).ok()?;
        let mut reader = store.reader(bucket, name).ok()?;
        let (mut line, mut rows) = (Vec::new(), 0);
        loop {
            match read_line(&mut reader, &mut line, MAX_LINE_BYTES).ok()? {
                Line::End => return Some(rows),
                Line::TooLong => return None,
                Line::Read => rows += i64::from(!line.trim_ascii().is_empty()),
            }
        }
    };
    Some(gcs.uris.iter().map(count).sum::<Option<i64>>().unwrap_or(0))
}

/// Whether `job` reads the store: its input is `gs://`, and with objects in memory, its first
/// input's bucket exists there.
fn reads_store(store: &ObjectStore, job: &BatchPredictionJob) -> bool {
    let Some(Source::GcsSource(gcs)) = job.input_config.as_ref().and_then(|c| c.source.as_ref())
    else {
        return false;
    };
    if store.folder_backend().is_some() {
        return true;
    }
    gcs.uris
        .first()
        .and_then(|uri| split(uri).ok())
        .is_some_and(|(bucket, _)| store.has_bucket(bucket))
}

/// `gs://bucket/name` as `(bucket, name)`.
pub(crate) fn split(uri: &str) -> Result<(&str, &str), String> {
    uri.strip_prefix("gs://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(bucket, name)| !bucket.is_empty() && !name.is_empty())
        .ok_or_else(|| {
            format!("`{uri}` is not a Cloud Storage object: expected `gs://bucket/object`")
        })
}

/// A response id that differs for every row of every job, like the service's.
fn response_id(seq: u64, row: u64) -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&seq.to_be_bytes());
    bytes[8..].copy_from_slice(&row.to_be_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A line no request fits in: the job fails rather than read it into memory.
fn too_long(uri: &str, line_number: u64) -> rpc::Status {
    status(
        tonic::Code::InvalidArgument,
        &format!(
            "line {line_number} of the input file {uri} is longer than the limit of {} a \
             line may have",
            size_text(MAX_LINE_BYTES)
        ),
    )
}

fn write_failed(uri: &str, err: &io::Error) -> rpc::Status {
    status(
        tonic::Code::Internal,
        &format!("could not write {uri} in the emulator's local gs:// folder: {err}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_map_under_the_root_and_never_leave_it() {
        let folder = GcsFolder::new(PathBuf::from("/srv/gcs"));
        assert_eq!(
            folder.local_path("gs://bucket/dir/prompts.jsonl").unwrap(),
            PathBuf::from("/srv/gcs/bucket/dir/prompts.jsonl")
        );
        assert_eq!(
            folder.local_path("gs://bucket/out/").unwrap(),
            PathBuf::from("/srv/gcs/bucket/out")
        );
        for bad in [
            "gs://bucket/../../etc/passwd",
            "gs://bucket/./x",
            "gs://",
            "s3://b/x",
            "gs://b/a\\b",
        ] {
            assert!(folder.local_path(bad).is_err(), "{bad}");
        }
    }
}

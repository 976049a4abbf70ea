//! A local folder standing in for Cloud Storage, `gs://bucket/path` = `ROOT/bucket/path`.
//!
//! With one, a job whose input is `gs://` really reads its JSONL files and, when its destination
//! is `gs://` too, writes `predictions.jsonl` in its output directory: one row per non-blank
//! input line, in input order. The work happens once, the first time the job is seen ended
//! (job states are computed from the clock on every read, so there is no background task to do
//! it earlier); every later read reuses the result. Files stream line by line in constant
//! memory, but the call that first sees the job ended does the work while the emulator's job
//! table is locked, so other calls wait for it: fine for test-sized inputs.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use prost_types::Timestamp;

use super::answer;
use super::lifecycle::status;
use super::validate::model_id;
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
    /// Every input line got a row: `successful` answers, `failed` refused lines; `written` when
    /// predictions.jsonl was written (the destination is `gs://`).
    Processed {
        successful: i64,
        failed: i64,
        written: bool,
    },
    /// The job could not run: an input file is missing, a format is not jsonl, a write failed.
    Failed(rpc::Status),
}

impl FolderOutcome {
    /// The end state: SUCCEEDED when some row succeeded, as the service ends a job whose failed
    /// rows are only counted; FAILED when none did or the job could not run.
    pub(crate) fn state(&self) -> JobState {
        match self {
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
                written,
            } => {
                job.completion_stats = Some(CompletionStats {
                    successful_count: *successful,
                    failed_count: *failed,
                    incomplete_count: 0,
                    ..CompletionStats::default()
                });
                if *successful == 0 {
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

/// One job's files, processed once.
#[derive(Debug, Clone)]
pub(crate) struct FolderJob {
    folder: GcsFolder,
    outcome: Arc<OnceLock<FolderOutcome>>,
}

impl FolderJob {
    pub(crate) fn new(folder: GcsFolder) -> Self {
        FolderJob {
            folder,
            outcome: Arc::default(),
        }
    }

    /// The outcome of `job`'s files, processing them now if this is the first call. `None` for a
    /// job whose input is not `gs://` (BigQuery jobs are left as they were). `output_dir` is the
    /// job's `gs://` output directory, when its destination is Cloud Storage; `ended` is when it
    /// ended, every row's processed_time.
    pub(crate) fn outcome(
        &self,
        job: &BatchPredictionJob,
        output_dir: Option<&str>,
        ended: SystemTime,
    ) -> Option<&FolderOutcome> {
        let input = job.input_config.as_ref()?;
        let Some(Source::GcsSource(gcs)) = &input.source else {
            return None;
        };
        Some(self.outcome.get_or_init(|| {
            self.process(job, &input.instances_format, &gcs.uris, output_dir, ended)
                .unwrap_or_else(FolderOutcome::Failed)
        }))
    }

    /// How many requests `job`'s input holds (its non-blank lines), so that progress counts
    /// them from the start; 0 when the input cannot be read (the job will fail when it ends,
    /// saying why). `None` for a job whose input is not `gs://`.
    pub(crate) fn rows(&self, job: &BatchPredictionJob) -> Option<i64> {
        let input = job.input_config.as_ref()?;
        let Some(Source::GcsSource(gcs)) = &input.source else {
            return None;
        };
        if input.instances_format != "jsonl" {
            return Some(0);
        }
        let count = |uri: &String| -> Option<i64> {
            let path = self.folder.local_path(uri).ok()?;
            let mut reader = BufReader::new(File::open(path).ok()?);
            let (mut line, mut rows) = (Vec::new(), 0);
            loop {
                match read_line(&mut reader, &mut line, MAX_LINE_BYTES).ok()? {
                    Line::End => return Some(rows),
                    Line::TooLong => return None,
                    Line::Read => rows += i64::from(!line.trim_ascii().is_empty()),
                }
            }
        };
        let rows = gcs.uris.iter().map(count).sum::<Option<i64>>();
        Some(rows.unwrap_or(0))
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
                "the emulator's local gs:// folder reads only jsonl input; this job's \
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
                    "the emulator's local gs:// folder writes only jsonl predictions; this job's \
                     predictions_format is `{format}`"
                )));
            }
        }
        // Every input must be there before anything is written, as the service checks its
        // inputs before it starts.
        let mut inputs = Vec::with_capacity(uris.len());
        for uri in uris {
            let path = self.folder.local_path(uri).map_err(invalid)?;
            if !path.is_file() {
                return Err(status(
                    tonic::Code::NotFound,
                    &format!(
                        "Input file {uri} does not exist: No such object: {} (the emulator's \
                         local gs:// folder has no {})",
                        uri.trim_start_matches("gs://"),
                        path.display()
                    ),
                ));
            }
            inputs.push((uri, path));
        }

        let mut output = match output_dir {
            Some(dir) => {
                let dir_path = self.folder.local_path(dir).map_err(invalid)?;
                let path = dir_path.join(PREDICTIONS_FILE);
                let file = std::fs::create_dir_all(&dir_path)
                    .and_then(|()| File::create(&path))
                    .map_err(|err| write_failed(&format!("{dir}/{PREDICTIONS_FILE}"), &err))?;
                Some((BufWriter::new(file), format!("{dir}/{PREDICTIONS_FILE}")))
            }
            None => None,
        };

        // The model id a response names.
        let model_version = model_id(&job.model);
        let processed_time = Timestamp::from(ended).to_string();
        let (mut successful, mut failed) = (0, 0);
        let mut line = Vec::new();
        for (uri, path) in inputs {
            let read_failed = |err: io::Error| {
                status(
                    tonic::Code::Internal,
                    &format!("could not read the input file {uri}: {err}"),
                )
            };
            let mut reader = BufReader::new(File::open(path).map_err(read_failed)?);
            let mut line_number = 0;
            loop {
                line_number += 1;
                match read_line(&mut reader, &mut line, MAX_LINE_BYTES).map_err(read_failed)? {
                    Line::End => break,
                    Line::TooLong => return Err(too_long(uri, line_number)),
                    Line::Read => {}
                }
                let trimmed = line.trim_ascii();
                if trimmed.is_empty() {
                    continue;
                }
                let row = answer::row(trimmed, model_version, &processed_time);
                if row.is_ok() {
                    successful += 1;
                } else {
                    failed += 1;
                }
                if let Some((out, uri)) = &mut output {
                    serde_json::to_writer(&mut *out, &row)
                        .map_err(io::Error::from)
                        .and_then(|()| out.write_all(b"\n"))
                        .map_err(|err| write_failed(uri, &err))?;
                }
            }
        }
        let written = match output {
            Some((mut out, uri)) => {
                out.flush().map_err(|err| write_failed(&uri, &err))?;
                true
            }
            None => false,
        };
        Ok(FolderOutcome::Processed {
            successful,
            failed,
            written,
        })
    }
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

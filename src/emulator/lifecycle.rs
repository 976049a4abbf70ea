//! A stored job and its state at any instant, derived from its create time and durations.

use std::time::{Duration, SystemTime};

use prost_types::Timestamp;

use super::gcs_folder::{FolderJob, FolderOutcome};
use super::outcome::Outcome;
use crate::proto::google::rpc;
use crate::v1::batch_prediction_job::OutputInfo;
use crate::v1::batch_prediction_job::output_config::Destination;
use crate::v1::batch_prediction_job::output_info::OutputLocation;
use crate::v1::{BatchPredictionJob, CompletionStats, JobState};

/// How many rows a job has when the emulator has no files to count them in (no local gs://
/// folder, or a BigQuery input): completion_stats count them.
pub(crate) const ROWS_PER_JOB: i64 = 100;

/// The longest a phase lasts: longer durations (`--queued-secs 9223372036854775807`) are
/// taken as this, about a thousand years, which any time the emulator keeps can be added to.
pub(crate) const MAX_PHASE: Duration = Duration::from_secs(1_000 * 365 * 24 * 3600);

/// `time` plus `phase`, saturating: a phase never ends past [`MAX_PHASE`] after `time`, and
/// the sum never overflows (it panicked in `SystemTime`'s `+`).
pub(crate) fn later(time: SystemTime, phase: Duration) -> SystemTime {
    let phase = phase.min(MAX_PHASE);
    time.checked_add(phase).unwrap_or(time)
}

/// How long each phase of a job lasts, fixed when the job is created.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Durations {
    pub(crate) queued: Duration,
    pub(crate) running: Duration,
    pub(crate) cancelling: Duration,
}

/// A job as the emulator keeps it: what the client sent, plus when things happened.
#[derive(Debug, Clone)]
pub(crate) struct StoredJob {
    /// What Create answered: the submitted job with name, ids and create time filled in.
    pub(crate) created_as: BatchPredictionJob,
    pub(crate) created: SystemTime,
    pub(crate) durations: Durations,
    pub(crate) outcome: Outcome,
    pub(crate) cancel_requested: Option<SystemTime>,
    /// With a local gs:// folder: the job's files, read and written once it is seen ended.
    pub(crate) folder: Option<FolderJob>,
    /// With a BigQuery endpoint, for a job over a table: its tables, read and written on a
    /// thread of their own from when it is first seen past its running time; it stays RUNNING
    /// until they are written.
    #[cfg(feature = "bigquery")]
    pub(crate) table: Option<super::table_job::TableJob>,
    /// The rows completion_stats count from the start: the input's requests when the folder
    /// holds them, else [`ROWS_PER_JOB`].
    pub(crate) rows: i64,
    /// The job stays queued until it is cancelled (a fault: `Emulator::stick_next_jobs`).
    pub(crate) stuck: bool,
}

/// Where a job is in its life at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Pending,
    Running {
        started: SystemTime,
    },
    Cancelling {
        started: Option<SystemTime>,
    },
    Cancelled {
        started: Option<SystemTime>,
        ended: SystemTime,
    },
    Ended {
        started: SystemTime,
        ended: SystemTime,
    },
}

impl StoredJob {
    fn started_at(&self) -> SystemTime {
        later(self.created, self.durations.queued)
    }

    fn natural_end(&self) -> SystemTime {
        later(self.started_at(), self.durations.running)
    }

    fn phase(&self, now: SystemTime) -> Phase {
        if self.stuck {
            return match self.cancel_requested {
                None => Phase::Pending,
                Some(requested) => {
                    let cancelled = requested + self.durations.cancelling;
                    if now < cancelled {
                        Phase::Cancelling { started: None }
                    } else {
                        Phase::Cancelled {
                            started: None,
                            ended: cancelled,
                        }
                    }
                }
            };
        }
        let started = self.started_at();
        let ended = self.natural_end();
        if let Some(requested) = self.cancel_requested {
            // A cancel is only accepted before the job has ended (see `has_ended`): before its
            // natural end, or while a job over a table writes its output (`writing`).
            let started = (started <= requested).then_some(started);
            let cancelled = later(requested, self.durations.cancelling);
            return if now < cancelled {
                Phase::Cancelling { started }
            } else {
                Phase::Cancelled {
                    started,
                    ended: cancelled,
                }
            };
        }
        if now < started {
            Phase::Pending
        } else if now < ended || self.writing(ended) {
            Phase::Running { started }
        } else {
            Phase::Ended { started, ended }
        }
    }

    /// The job has reached a final state (SUCCEEDED, FAILED, CANCELLED, EXPIRED, PARTIALLY_SUCCEEDED).
    pub(crate) fn has_ended(&self, now: SystemTime) -> bool {
        matches!(
            self.phase(now),
            Phase::Cancelled { .. } | Phase::Ended { .. }
        )
    }

    /// Asks the job to cancel at `now`; a second ask changes nothing. A job over a table that
    /// is writing its output stops before its next batch of rows, and the rows it wrote stay
    /// in the output table (the job is CANCELLING, then CANCELLED, whatever the writer does).
    pub(crate) fn cancel(&mut self, now: SystemTime) {
        self.cancel_requested.get_or_insert(now);
        #[cfg(feature = "bigquery")]
        if let Some(table) = &self.table {
            table.stop();
        }
    }

    /// The state at `now`, without building the whole message (for filters).
    pub(crate) fn state(&self, now: SystemTime) -> JobState {
        self.state_in(self.phase(now))
    }

    /// The state in `phase`: one phase read for both the state and the message, so that a
    /// table job's outcome set in between cannot make them disagree.
    fn state_in(&self, phase: Phase) -> JobState {
        match phase {
            Phase::Pending => JobState::Pending,
            Phase::Running { .. } => JobState::Running,
            Phase::Cancelling { .. } => JobState::Cancelling,
            Phase::Cancelled { .. } => JobState::Cancelled,
            Phase::Ended { ended, .. } => match self.outcome {
                Outcome::Succeeded => self
                    .folder_outcome(ended)
                    .map_or(JobState::Succeeded, FolderOutcome::state),
                Outcome::Failed { .. } => JobState::Failed,
                Outcome::PartiallySucceeded => JobState::PartiallySucceeded,
                Outcome::Expired => JobState::Expired,
            },
        }
    }

    /// The job as Get answers it at `now`.
    pub(crate) fn render(&self, now: SystemTime) -> BatchPredictionJob {
        let mut job = self.created_as.clone();
        let phase = self.phase(now);
        job.state = self.state_in(phase) as i32;
        let (started, changed) = match phase {
            Phase::Pending => (None, self.created),
            Phase::Running { started } => {
                job.completion_stats = Some(self.progress(started, now));
                (Some(started), started)
            }
            Phase::Cancelling { started } => {
                (started, self.cancel_requested.unwrap_or(self.created))
            }
            Phase::Cancelled { started, ended } => {
                job.end_time = Some(ended.into());
                job.error = Some(status(
                    tonic::Code::Cancelled,
                    "the job was cancelled at the user's request",
                ));
                let done = started.map_or(0, |s| self.progress(s, ended).successful_count);
                job.completion_stats = Some(CompletionStats {
                    successful_count: done,
                    incomplete_count: self.rows - done,
                    ..CompletionStats::default()
                });
                (started, ended)
            }
            Phase::Ended { started, ended } => {
                job.end_time = Some(ended.into());
                self.finish(&mut job, ended);
                (Some(started), ended)
            }
        };
        job.start_time = started.map(Timestamp::from);
        job.update_time = Some(changed.into());
        job
    }

    /// Rows done so far while running, in proportion to the running time elapsed, so that a
    /// client watching progress sees the counts grow.
    fn progress(&self, started: SystemTime, now: SystemTime) -> CompletionStats {
        let elapsed = now
            .duration_since(started)
            .unwrap_or_default()
            .as_secs_f64();
        let total = self.durations.running.as_secs_f64();
        let fraction = if total > 0.0 {
            (elapsed / total).min(1.0)
        } else {
            1.0
        };
        let done = (self.rows as f64 * fraction).floor() as i64;
        CompletionStats {
            successful_count: done,
            incomplete_count: self.rows - done,
            ..CompletionStats::default()
        }
    }

    /// A job over a BigQuery table, past its running time (`ended`), that is still writing
    /// its output table: it is RUNNING until the table is written. The first call starts the
    /// writing ([`TableJob::outcome`](super::table_job::TableJob::outcome)).
    #[cfg(feature = "bigquery")]
    fn writing(&self, ended: SystemTime) -> bool {
        self.table.is_some()
            && self.outcome == Outcome::Succeeded
            && self.folder_outcome(ended).is_none()
    }

    #[cfg(not(feature = "bigquery"))]
    fn writing(&self, _ended: SystemTime) -> bool {
        false
    }

    /// What the job's files or tables gave, for a job that succeeds on the emulator's side and
    /// reads a local gs:// folder (processed on the first call) or a BigQuery table (`None`
    /// while it is written, see `writing`).
    fn folder_outcome(&self, ended: SystemTime) -> Option<&FolderOutcome> {
        if self.outcome != Outcome::Succeeded {
            return None;
        }
        #[cfg(feature = "bigquery")]
        if let Some(table) = &self.table {
            let output = self
                .output_info()
                .and_then(|info| match info.output_location {
                    Some(OutputLocation::BigqueryOutputDataset(dataset)) => {
                        Some((dataset, info.bigquery_output_table))
                    }
                    _ => None,
                });
            return table.outcome(&self.created_as, output, ended);
        }
        let folder = self.folder.as_ref()?;
        let output_dir = self
            .output_info()
            .and_then(|info| match info.output_location {
                Some(OutputLocation::GcsOutputDirectory(dir)) => Some(dir),
                _ => None,
            });
        folder.outcome(&self.created_as, output_dir.as_deref(), ended)
    }

    fn finish(&self, job: &mut BatchPredictionJob, ended: SystemTime) {
        if let Some(outcome) = self.folder_outcome(ended) {
            outcome.apply(job, self.output_info());
            return;
        }
        let rows = self.rows;
        let (successful_count, failed_count, incomplete_count) = match &self.outcome {
            Outcome::Succeeded => (rows, 0, 0),
            Outcome::Failed { message } => {
                job.error = Some(status(tonic::Code::Internal, message));
                (0, rows, 0)
            }
            Outcome::PartiallySucceeded => {
                // A tenth of the rows, and at least one.
                let failed = (rows / 10).max(1).min(rows);
                job.partial_failures = vec![status(
                    tonic::Code::InvalidArgument,
                    &format!(
                        "{failed} rows failed: their requests were malformed (see the status \
                         column of the output)"
                    ),
                )];
                (rows - failed, failed, 0)
            }
            Outcome::Expired => {
                job.error = Some(status(
                    tonic::Code::DeadlineExceeded,
                    "the job expired before it could run to the end",
                ));
                (0, 0, rows)
            }
        };
        job.completion_stats = Some(CompletionStats {
            successful_count,
            failed_count,
            incomplete_count,
            ..CompletionStats::default()
        });
        if successful_count > 0 {
            job.output_info = self.output_info();
        }
    }

    fn output_info(&self) -> Option<OutputInfo> {
        let stamp = Timestamp::from(self.created).to_string();
        let destination = self
            .created_as
            .output_config
            .as_ref()?
            .destination
            .as_ref()?;
        Some(match destination {
            Destination::GcsDestination(gcs) => OutputInfo {
                output_location: Some(OutputLocation::GcsOutputDirectory(format!(
                    "{}/{}",
                    gcs.output_uri_prefix.trim_end_matches('/'),
                    super::echo::output_folder(self.created)
                ))),
                ..OutputInfo::default()
            },
            Destination::BigqueryDestination(bq) => {
                let safe_stamp: String = stamp
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                let path = bq.output_uri.trim_start_matches("bq://");
                // A domain-scoped project (`example.com:my-project`) has dots of its own.
                let parts = crate::names::split_bigquery_path(path);
                let (dataset, table) = match parts.as_slice() {
                    [project] => (
                        format!("bq://{project}.prediction_model_{safe_stamp}"),
                        "predictions".to_string(),
                    ),
                    [project, dataset] => (
                        format!("bq://{project}.{dataset}"),
                        format!("predictions_{safe_stamp}"),
                    ),
                    [project, dataset, table, ..] => {
                        (format!("bq://{project}.{dataset}"), table.to_string())
                    }
                    [] => return None,
                };
                OutputInfo {
                    bigquery_output_table: table,
                    output_location: Some(OutputLocation::BigqueryOutputDataset(dataset)),
                }
            }
            Destination::VertexMultimodalDatasetDestination(_) => return None,
        })
    }
}

/// A google.rpc.Status as jobs carry them in `error` and `partial_failures`.
pub(crate) fn status(code: tonic::Code, message: &str) -> rpc::Status {
    rpc::Status {
        code: code as i32,
        message: message.to_string(),
        details: Vec::new(),
    }
}

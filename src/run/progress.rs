//! [`RunProgress`]: where a run is, for progress bars across its jobs.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::v1::JobState;

/// What a run is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunPhase {
    /// Reading the input and uploading it as shards (round 0), or the rows to try again.
    Staging,
    /// Creating jobs and waiting for them, reading each job's output as it ends.
    Running,
    /// Every job has ended; the results are ready.
    Done,
}

/// A snapshot of a run, given to the [`with_progress`](super::BatchRun::with_progress) callback
/// after each step and each round of polls.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunProgress {
    /// What the run is doing.
    pub phase: RunPhase,
    /// The round: 0 sends every request, later rounds the ones to try again.
    pub round: u8,
    /// Requests in the input (counted so far while round 0 is staging).
    pub rows: u64,
    /// Requests staged in this round so far, and their bytes.
    pub staged_rows: u64,
    /// Bytes uploaded in this round so far.
    pub staged_bytes: u64,
    /// Requests answered: collected from ended jobs, plus those running jobs report done.
    pub answered: u64,
    /// Requests failed so far (some may be tried again in a later round).
    pub failed: u64,
    /// Output lines joined to no row so far because they echoed another request than the one
    /// staged for their row ([`RunSummary::mismatched_lines`](super::RunSummary::mismatched_lines)).
    pub mismatched: u64,
    /// The jobs of this round by state, as last seen.
    pub jobs: BTreeMap<JobState, u64>,
    /// Jobs of this round not yet created.
    pub jobs_waiting: u64,
    /// The jobs of this round not yet ended, each with its state and age.
    pub live_jobs: Vec<JobProgress>,
}

/// A job not yet ended, in a [`RunProgress`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobProgress {
    /// Its shard in the round.
    pub shard: usize,
    /// Its resource name.
    pub name: String,
    /// Its state as last seen.
    pub state: JobState,
    /// How long it has existed.
    pub age: std::time::Duration,
}

impl RunProgress {
    pub(crate) fn new() -> Self {
        RunProgress {
            phase: RunPhase::Staging,
            round: 0,
            rows: 0,
            staged_rows: 0,
            staged_bytes: 0,
            answered: 0,
            failed: 0,
            mismatched: 0,
            jobs: BTreeMap::new(),
            jobs_waiting: 0,
            live_jobs: Vec::new(),
        }
    }
}

/// The callback a run reports to.
pub(crate) type ProgressFn = Arc<dyn Fn(&RunProgress) + Send + Sync>;

//! One round: create its jobs (at most so many not yet ended), wait for them through the
//! client's one polling loop, and read each job's output as it ends.
//!
//! Waiting follows the client's rule for errors while polling (`client/poll.rs`): a poll that
//! fails with `UNAVAILABLE` or a broken connection is skipped and tried again an interval
//! later, so an outage of Vertex AI is waited out; creating and cancelling follow the same
//! rule. Stuck work has deadlines: a job still queued after the queue deadline is cancelled
//! (its rows go to the next round, or are reported with code 408 when none is left), and once
//! the run's deadline passes the run ends as an end asked for does: live jobs are cancelled,
//! no job is created, what was answered is kept. A job of the manifest the service no longer
//! has is resolved from its outputs in Cloud Storage.
//!
//! The loop itself (`run_jobs`) is both kinds of run's: it calls a [`RoundSteps`] for what
//! differs (a file run reads each job's output into the join; a run over tables notes where
//! its output table is, `tables/rounds.rs`).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use tokio::time::Instant;

use super::builder::RunConfig;
use super::driver::Ctx;
use super::jobs::{Found, JobCalls, JobTemplate, Polls, missing_rows_retriable, record_of};
use super::manifest::{Manifest, ManifestFile};
use super::progress::{JobProgress, RunPhase, RunProgress};
use super::results::{MissingReasons, RunSummary};
use super::rows::{JobRows, RowTable, Tally};
use super::spool::LineSpool;
use super::status::http_code_of_grpc;
use crate::error::Result;
use crate::job::OutputLocation;
use crate::storage::ObjectUri;
use crate::v1::{BatchPredictionJob, JobState};

/// Why a run is ending before its work is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Ended for good on purpose ([`BatchRun::end`](super::BatchRun::end)).
    ByUser,
    /// The run's deadline passed.
    Deadline,
}

impl Ending {
    /// The code and message of a row the end left unanswered.
    pub(crate) fn reason(self, what: &str) -> (u16, String) {
        match self {
            Ending::ByUser => (499, format!("the run was ended: {what}")),
            Ending::Deadline => (504, format!("the run's deadline passed: {what}")),
        }
    }
}

/// Everything the rounds share.
pub(crate) struct RunState<'a> {
    pub(crate) ctx: &'a Ctx,
    pub(crate) file: ManifestFile,
    pub(crate) manifest: Manifest,
    pub(crate) table: RowTable,
    pub(crate) spool: LineSpool,
    pub(crate) tally: Tally,
    pub(crate) missing: MissingReasons,
    pub(crate) progress: RunProgress,
    pub(crate) summary: RunSummary,
    /// When the run's deadline passes.
    pub(crate) deadline: Option<Instant>,
    pub(crate) ending: Option<Ending>,
}

/// A job being waited on (both kinds of run).
pub(crate) struct LiveJob {
    pub(crate) job: BatchPredictionJob,
    pub(crate) first_seen: Instant,
    /// Why the run cancelled it, once it did: the code and message of its rows left undone.
    pub(crate) cancelled: Option<(u16, String)>,
}

impl RunState<'_> {
    pub(crate) fn report(&self) {
        self.ctx.report(&self.progress);
    }

    /// Creates the round's jobs, at most `max_running_jobs` not yet ended, and reads each one's
    /// output as it ends.
    pub(crate) async fn run_round(&mut self, round: u8) -> Result<()> {
        let r = usize::from(round);
        let shard_count = self.manifest.rounds[r].shards.len();
        if self.missing.len() <= r {
            self.missing.resize(r + 1, Vec::new());
        }
        self.missing[r] = vec![(500, String::new()); shard_count];
        self.progress.phase = RunPhase::Running;
        self.progress.round = round;
        // Boxed: the loop's future is large, and lives on the heap rather than in the run's.
        Box::pin(run_jobs(self, round)).await.map(drop)
    }

    /// The calls about the run's jobs.
    fn jobs(&self) -> JobCalls<'_> {
        JobCalls {
            client: &self.ctx.client,
            wait: &self.ctx.config.wait,
            unreachable: &self.ctx.unreachable,
        }
    }

    pub(crate) async fn save_manifest(&mut self) -> Result<()> {
        self.ctx.lease.check(self.ctx.config.layout.staging())?;
        self.file.save(&self.ctx.storage, &self.manifest).await
    }

    fn job_rows(&self, round: u8, index: usize) -> JobRows {
        let shard = &self.manifest.rounds[usize::from(round)].shards[index];
        JobRows {
            round,
            shard: index as u32,
            first: shard.first_row,
            last: shard.last_row,
            group: shard.group,
        }
    }

    /// Reads the output files under `dir` into the join; rows not found are missing with
    /// `reason`, to be sent again when `retriable`.
    async fn collect(
        &mut self,
        round: u8,
        index: usize,
        dir: &ObjectUri,
        retriable: bool,
        reason: (u16, String),
    ) -> Result<()> {
        let rows = self.job_rows(round, index);
        let mut tally = Tally::default();
        let started = std::time::Instant::now();
        self.summary.output_bytes += self
            .ctx
            .rows()
            .collect(dir, rows, &mut self.table, &mut self.spool, &mut tally)
            .await?;
        self.summary.collecting_time += started.elapsed();
        self.table.close_job(rows, retriable, &mut tally);
        self.tally.add(tally);
        self.missing[usize::from(round)][index] = reason;
        Ok(())
    }

    fn show_jobs(
        &mut self,
        states: &[Option<JobState>],
        live: &BTreeMap<usize, LiveJob>,
        waiting: usize,
    ) {
        let done = self.table.counts();
        let now = (self.ctx.clock)();
        show_jobs(&mut self.progress, states, live, waiting, done, now);
        self.progress.mismatched = self.tally.mismatched;
        self.report();
    }
}

/// Cancels a live job (of either kind of run) still queued past the queue `deadline` at
/// `now`, unless the run cancelled it already; gives the code and message of its rows left
/// undone (408: they go to the next round), once cancelled.
pub(crate) async fn past_queue_deadline(
    jobs: &JobCalls<'_>,
    deadline: Duration,
    entry: &LiveJob,
    now: SystemTime,
) -> Result<Option<(u16, String)>> {
    let job = &entry.job;
    if entry.cancelled.is_some() || age(job, entry.first_seen, now) < deadline {
        return Ok(None);
    }
    let queued = matches!(
        job.state(),
        JobState::Queued | JobState::Pending | JobState::Unspecified
    );
    if !queued {
        return Ok(None);
    }
    tracing::warn!(
        target: "vertex_batch::run::step",
        job = %job.name, ?deadline, "job still queued after the queue deadline; cancelling it"
    );
    if !jobs.cancel(&job.name).await? {
        return Ok(None);
    }
    Ok(Some((
        408,
        format!(
            "job {} was still queued after the queue deadline ({}); the run cancelled it",
            job.name,
            duration_text(deadline)
        ),
    )))
}

/// What a kind of run (files, tables) does at each step of a round; [`run_jobs`] is the one
/// loop over them.
pub(crate) trait RoundSteps {
    /// What the round keeps of a shard once its job ended, or was never created.
    type Ended;
    fn jobs(&self) -> JobCalls<'_>;
    fn config(&self) -> &RunConfig;
    /// The time of day by the run's clock.
    fn now(&self) -> SystemTime;
    fn manifest(&self) -> &Manifest;
    fn manifest_mut(&mut self) -> &mut Manifest;
    /// Writes the manifest, the lease checked first.
    async fn save_manifest(&mut self) -> Result<()>;
    /// Fails once the run no longer holds its lease.
    fn check_lease(&self) -> Result<()>;
    /// Why the run is ending, once it is.
    fn ending(&mut self) -> &mut Option<Ending>;
    /// When the run's deadline passes.
    fn deadline(&self) -> Option<Instant>;
    /// The job of a shard as it is to be created, validated, its request id among its labels.
    fn new_job(&self, round: u8, index: usize) -> Result<BatchPredictionJob>;
    /// An ended job; `cancelled`: why the run cancelled it, when it did.
    async fn job_ended(
        &mut self,
        round: u8,
        index: usize,
        job: &BatchPredictionJob,
        cancelled: Option<(u16, String)>,
    ) -> Result<Self::Ended>;
    /// A job of the manifest the service no longer has.
    async fn job_lost(&mut self, round: u8, index: usize, name: &str) -> Result<Self::Ended>;
    /// A shard whose job the run's end kept from being created.
    fn never_created(&mut self, round: u8, index: usize, ending: Ending) -> Result<Self::Ended>;
    /// Counts a job cancelled at the queue deadline.
    fn past_queue_deadline(&mut self);
    fn show(
        &mut self,
        states: &[Option<JobState>],
        live: &BTreeMap<usize, LiveJob>,
        waiting: usize,
    );

    /// The job of shard `index` of `round`: as recorded, found by its request id, or created
    /// (and recorded before anything else happens).
    async fn job_of(&mut self, round: u8, index: usize) -> Result<Found> {
        let shard = &self.manifest().rounds[usize::from(round)].shards[index];
        if let Some(record) = &shard.job {
            let name = record.name.clone();
            return self.jobs().recorded(name).await;
        }
        let request_id = shard.request_id.clone();
        let job = self.new_job(round, index)?;
        self.check_lease()?;
        let job = self.jobs().find_or_create(job, &request_id).await?;
        self.manifest_mut().rounds[usize::from(round)].shards[index].job = Some(record_of(&job));
        self.save_manifest().await?;
        Ok(Found::of(job))
    }

    /// Records in the manifest why the run cancelled the job of shard `index`, so that a
    /// process started again reports its rows the same way.
    async fn record_cancel(
        &mut self,
        round: u8,
        index: usize,
        reason: (u16, String),
    ) -> Result<()> {
        if self.manifest_mut().record_cancel(round, index, reason) {
            self.save_manifest().await?;
        }
        Ok(())
    }

    /// Records that the job of shard `index` (named `name`) ended in `state`.
    async fn record_end(&mut self, round: u8, index: usize, name: &str, state: &str) -> Result<()> {
        if self.manifest_mut().record_end(round, index, name, state) {
            self.save_manifest().await?;
        }
        Ok(())
    }
}

/// Whether the rows an ended job wrote nothing for go to the next round, and the code and
/// message they get otherwise: why the run cancelled it (`cancelled`, or as the manifest
/// recorded it: at the queue deadline they go again, at an end they do not), else what the job
/// ended as.
pub(crate) fn why_missing(
    manifest: &Manifest,
    round: u8,
    index: usize,
    job: &BatchPredictionJob,
    cancelled: Option<(u16, String)>,
) -> (bool, (u16, String)) {
    let cancelled = cancelled.or_else(|| {
        manifest.rounds[usize::from(round)].shards[index]
            .job
            .as_ref()
            .and_then(|record| record.cancelled.clone())
    });
    let retriable = match &cancelled {
        Some((code, _)) => *code == 408,
        None => missing_rows_retriable(job),
    };
    (retriable, cancelled.unwrap_or_else(|| missing_reason(job)))
}

/// Runs `round`'s jobs to their end, at most `max_running_jobs` not yet ended (both kinds of
/// run): each shard's job found or created in shard order and polled; a job still queued past
/// the queue deadline cancelled; once the run is ending (its deadline passed, or an end asked
/// for) live jobs cancelled and no job created. Gives what the round kept of each shard.
pub(crate) async fn run_jobs<S: RoundSteps>(
    state: &mut S,
    round: u8,
) -> Result<Vec<Option<S::Ended>>> {
    let r = usize::from(round);
    let count = state.manifest().rounds[r].shards.len();
    let mut ended: Vec<Option<S::Ended>> = (0..count).map(|_| None).collect();
    let mut states: Vec<Option<JobState>> = vec![None; count];
    let mut live: BTreeMap<usize, LiveJob> = BTreeMap::new();
    let mut polls = Polls::new();
    let mut next = 0;
    // Shards from here on get no job (the run is ending).
    let mut end_at = count;
    loop {
        if let Some(ending) = *state.ending() {
            // No job is created once the run is ending (jobs are made in shard order, so those
            // made are the first ones).
            let made = state.manifest().rounds[r]
                .shards
                .iter()
                .take_while(|shard| shard.job.is_some())
                .count();
            let keep = made.max(next);
            for (index, shard) in ended.iter_mut().enumerate().take(end_at).skip(keep) {
                *shard = Some(state.never_created(round, index, ending)?);
            }
            end_at = end_at.min(keep);
        }
        while live.len() < state.config().max_running_jobs && next < end_at {
            let index = next;
            next += 1;
            match state.job_of(round, index).await? {
                Found::Ended(job) => {
                    states[index] = Some(job.state());
                    ended[index] = Some(state.job_ended(round, index, &job, None).await?);
                }
                Found::Live(job) => {
                    states[index] = Some(job.state());
                    polls.push(state.jobs().poll(index, &job.name));
                    live.insert(
                        index,
                        LiveJob {
                            job,
                            first_seen: Instant::now(),
                            cancelled: None,
                        },
                    );
                }
                Found::Lost(name) => {
                    ended[index] = Some(state.job_lost(round, index, &name).await?);
                }
            }
        }
        if let Some(ending) = *state.ending() {
            // The live jobs are cancelled.
            for (index, job) in live.iter_mut().filter(|(_, job)| job.cancelled.is_none()) {
                if state.jobs().cancel(&job.job.name).await? {
                    let reason = ending.reason(&format!(
                        "its job {} was cancelled before this row was answered",
                        job.job.name
                    ));
                    job.cancelled = Some(reason.clone());
                    state.record_cancel(round, *index, reason).await?;
                }
            }
        }
        state.show(&states, &live, end_at.saturating_sub(next));
        if live.is_empty() && next >= end_at {
            return Ok(ended);
        }
        let answer = match (state.deadline(), *state.ending()) {
            (Some(deadline), None) => tokio::select! {
                answer = polls.next() => answer,
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(target: "vertex_batch::run::step", "the run's deadline passed; ending it");
                    *state.ending() = Some(Ending::Deadline);
                    continue;
                }
            },
            _ => polls.next().await,
        };
        let Some((index, answer)) = answer else {
            // Every poll ended without its job's end: cannot happen, but never wait forever.
            return Err(crate::Error::internal("the run lost track of its jobs"));
        };
        match answer {
            Ok(job) => {
                states[index] = Some(job.state());
                if job.has_ended() {
                    let reason = live.remove(&index).and_then(|job| job.cancelled);
                    ended[index] = Some(state.job_ended(round, index, &job, reason).await?);
                } else if let Some(entry) = live.get_mut(&index) {
                    entry.job = job;
                    let (deadline, now) = (state.config().queue_deadline, state.now());
                    let queued = past_queue_deadline(&state.jobs(), deadline, entry, now).await?;
                    if let Some(reason) = queued {
                        state.past_queue_deadline();
                        entry.cancelled = Some(reason.clone());
                        state.record_cancel(round, index, reason).await?;
                    }
                }
            }
            Err(err) if err.is_not_found() => {
                if let Some(gone) = live.remove(&index) {
                    ended[index] = Some(state.job_lost(round, index, &gone.job.name).await?);
                }
            }
            Err(err) => return Err(err),
        }
    }
}

impl RoundSteps for RunState<'_> {
    /// The job's output is read into the join as it ends: nothing is kept.
    type Ended = ();

    fn jobs(&self) -> JobCalls<'_> {
        RunState::jobs(self)
    }

    fn config(&self) -> &RunConfig {
        &self.ctx.config
    }

    fn now(&self) -> SystemTime {
        (self.ctx.clock)()
    }

    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn ending(&mut self) -> &mut Option<Ending> {
        &mut self.ending
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    fn past_queue_deadline(&mut self) {
        self.summary.jobs_past_queue_deadline += 1;
    }

    fn show(
        &mut self,
        states: &[Option<JobState>],
        live: &BTreeMap<usize, LiveJob>,
        waiting: usize,
    ) {
        self.show_jobs(states, live, waiting);
    }

    fn new_job(&self, round: u8, index: usize) -> Result<BatchPredictionJob> {
        let ctx = self.ctx;
        let shard = &self.manifest.rounds[usize::from(round)].shards[index];
        let output = ctx.config.layout.output_prefix(round, index)?;
        let template = JobTemplate {
            model: ctx.config.model.clone(),
            generation_config: ctx.config.generation_config.clone(),
            run_id: self.manifest.run_id.clone(),
        };
        template.job(&ctx.client, round, index, shard, &output)
    }

    fn manifest_mut(&mut self) -> &mut Manifest {
        &mut self.manifest
    }

    async fn save_manifest(&mut self) -> Result<()> {
        RunState::save_manifest(self).await
    }

    fn check_lease(&self) -> Result<()> {
        self.ctx.lease.check(self.ctx.config.layout.staging())
    }

    /// Reads an ended job's output into the join and records the end. `cancelled`: why the
    /// run cancelled it, when it did.
    async fn job_ended(
        &mut self,
        round: u8,
        index: usize,
        job: &BatchPredictionJob,
        cancelled: Option<(u16, String)>,
    ) -> Result<()> {
        let dir = match job.output_location() {
            Some(OutputLocation::Gcs(dir)) => format!("{}/", dir.trim_end_matches('/')).parse()?,
            _ => self.ctx.config.layout.output_prefix(round, index)?,
        };
        let (retriable, reason) = why_missing(&self.manifest, round, index, job, cancelled);
        self.collect(round, index, &dir, retriable, reason).await?;
        tracing::info!(
            target: "vertex_batch::run::step",
            job = %job.name, state = job.state().as_str_name(), "job output read"
        );
        self.record_end(round, index, &job.name, job.state().as_str_name())
            .await
    }

    /// A job of the manifest the service no longer has: its rows are read from whatever it
    /// wrote under its output prefix, and the rest go to the next round.
    async fn job_lost(&mut self, round: u8, index: usize, name: &str) -> Result<()> {
        tracing::warn!(
            target: "vertex_batch::run::step",
            job = %name, "the service no longer has this job; reading its outputs from Cloud Storage"
        );
        self.summary.jobs_lost += 1;
        let dir = self.ctx.config.layout.output_prefix(round, index)?;
        let reason = (
            500,
            format!("no output line for this request: job {name} no longer exists"),
        );
        self.collect(round, index, &dir, true, reason).await?;
        self.record_end(round, index, name, "LOST").await
    }

    /// A shard whose job the run's end kept from being created.
    fn never_created(&mut self, round: u8, index: usize, ending: Ending) -> Result<()> {
        let rows = self.job_rows(round, index);
        self.missing[usize::from(round)][index] = ending.reason("this row's job was never created");
        let mut tally = Tally::default();
        self.table.close_job(rows, false, &mut tally);
        Ok(())
    }
}

/// A round's jobs in `progress` (both kinds of run): how many in each state, the live ones
/// with their ages at `now`, how many wait for a slot, and the rows answered and failed: `done`
/// (of jobs already read) and what the live jobs say of theirs.
pub(crate) fn show_jobs(
    progress: &mut RunProgress,
    states: &[Option<JobState>],
    live: &BTreeMap<usize, LiveJob>,
    waiting: usize,
    done: (u64, u64),
    now: SystemTime,
) {
    let mut jobs = BTreeMap::new();
    for state in states.iter().flatten() {
        *jobs.entry(*state).or_insert(0) += 1;
    }
    let (mut answered, mut failed) = done;
    let mut live_jobs = Vec::with_capacity(live.len());
    for (index, entry) in live {
        let done = entry.job.progress();
        answered += done.successful;
        failed += done.failed;
        live_jobs.push(JobProgress {
            shard: *index,
            name: entry.job.name.clone(),
            state: entry.job.state(),
            age: age(&entry.job, entry.first_seen, now),
        });
    }
    progress.jobs = jobs;
    progress.live_jobs = live_jobs;
    progress.jobs_waiting = waiting as u64;
    progress.answered = answered;
    progress.failed = failed;
}

/// How long a job has existed: since its `create_time` by the run's clock (`now`), or since
/// this process first saw it when that is longer (a clock behind the service's).
fn age(job: &BatchPredictionJob, first_seen: Instant, now: SystemTime) -> Duration {
    let created = job
        .create_time
        .as_ref()
        .and_then(|t| SystemTime::try_from(*t).ok())
        .and_then(|created| now.duration_since(created).ok())
        .unwrap_or_default();
    created.max(first_seen.elapsed())
}

/// The code and message of the rows a job ended without.
pub(crate) fn missing_reason(job: &BatchPredictionJob) -> (u16, String) {
    let state = job.state();
    let code = match (&job.error, state) {
        (Some(error), _) if error.code != 0 => http_code_of_grpc(error.code),
        (_, JobState::Expired) => 504,
        (_, JobState::Cancelled) => 499,
        _ => 500,
    };
    let mut message = format!(
        "no output line for this request in job {}, which ended {}",
        job.name,
        state.as_str_name().trim_start_matches("JOB_STATE_")
    );
    if let Some(error) = job.error.as_ref().filter(|e| !e.message.is_empty()) {
        message.push_str(": ");
        message.push_str(&error.message);
    }
    (code, message)
}

/// A deadline as a person reads it: `72 h`, `90 min`, `45 s`.
fn duration_text(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{:?}", duration)
    }
}

//! One round of a run over tables: one job per shard (its input a shard table, its output a
//! table beside it), at most so many not yet ended, each found by its request id before it is
//! created and recorded in the manifest once it is. The loop is a file run's
//! (`run/rounds.rs`'s `run_jobs`: the client's polling loop and its rule for errors, the queue
//! and run deadlines, an end); this file gives its steps for tables. Nothing of a job's output
//! is read here: when a job ends, the round notes where its output table is and what its
//! missing rows get, for the SQL of the next round and of the results (`sql.rs`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use tokio::time::Instant;

use super::driver::TableState;
use super::sql::{Sent, SentShard};
use crate::bigquery::TableUri;
use crate::error::Result;
use crate::job::{OutputLocation, REQUEST_ID_LABEL};
use crate::run::RunPhase;
use crate::run::builder::RunConfig;
use crate::run::jobs::JobCalls;
use crate::run::layout::{RUN_LABEL, display_name};
use crate::run::manifest::Manifest;
use crate::run::rounds::{Ending, LiveJob, RoundSteps, run_jobs, show_jobs, why_missing};
use crate::v1::{BatchPredictionJob, JobState};

impl TableState<'_> {
    /// Runs `round`'s jobs to their end (`run/rounds.rs`'s loop, with the queue and run
    /// deadlines and an end as a file run has them); gives what the SQL needs of each.
    pub(crate) async fn run_round(&mut self, round: u8) -> Result<Sent> {
        self.progress.phase = RunPhase::Running;
        self.progress.round = round;
        // Boxed: the loop's future is large, and lives on the heap rather than in the run's.
        let ended = Box::pin(run_jobs(self, round)).await?;
        Ok(Sent {
            round,
            shards: ended.into_iter().flatten().collect(),
        })
    }

    /// The calls about the run's jobs.
    fn jobs(&self) -> JobCalls<'_> {
        JobCalls {
            client: &self.ctx.client,
            wait: &self.ctx.config.wait,
            unreachable: &self.ctx.unreachable,
        }
    }

    async fn shard(
        &self,
        round: u8,
        index: usize,
        output: TableUri,
        missing_retriable: bool,
        missing: (u16, String),
    ) -> Result<SentShard> {
        // A job that failed before writing anything has no table.
        let output = self.ctx.bq.table(&output).await?.map(|_| output);
        Ok(SentShard {
            index,
            input: self.ctx.layout.shard(round, index)?,
            output,
            job: true,
            missing_retriable,
            missing,
        })
    }

    fn show(
        &mut self,
        states: &[Option<JobState>],
        live: &BTreeMap<usize, LiveJob>,
        waiting: usize,
    ) {
        // No job's rows are read here: the live jobs' counts are all there is.
        let now = (self.ctx.clock)();
        show_jobs(&mut self.progress, states, live, waiting, (0, 0), now);
        self.ctx.report(&self.progress);
    }
}

impl RoundSteps for TableState<'_> {
    /// Where the job's output table is and what its missing rows get.
    type Ended = SentShard;

    fn jobs(&self) -> JobCalls<'_> {
        TableState::jobs(self)
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

    fn never_created(&mut self, round: u8, index: usize, ending: Ending) -> Result<SentShard> {
        Ok(SentShard {
            index,
            input: self.ctx.layout.shard(round, index)?,
            output: None,
            job: false,
            missing_retriable: false,
            missing: ending.reason("this row's job was never created"),
        })
    }

    fn past_queue_deadline(&mut self) {
        self.jobs_past_queue_deadline += 1;
    }

    fn show(
        &mut self,
        states: &[Option<JobState>],
        live: &BTreeMap<usize, LiveJob>,
        waiting: usize,
    ) {
        TableState::show(self, states, live, waiting);
    }

    fn new_job(&self, round: u8, index: usize) -> Result<BatchPredictionJob> {
        let ctx = self.ctx;
        let shard = &self.manifest.rounds[usize::from(round)].shards[index];
        let input = ctx.layout.shard(round, index)?;
        let output = ctx.layout.output(round, index)?;
        let mut builder = BatchPredictionJob::builder(ctx.config.model.clone())
            .with_display_name(display_name(&self.manifest.run_id, round, index))
            .with_input(input.to_string())
            .with_output(output.to_string())
            .with_label(RUN_LABEL, self.manifest.run_id.clone());
        if !ctx.config.generation_config.is_empty() {
            builder = builder.with_generation_config(ctx.config.generation_config.clone());
        }
        let mut job = builder.build(ctx.client.location())?;
        job.labels
            .insert(REQUEST_ID_LABEL.to_owned(), shard.request_id.clone());
        Ok(job)
    }

    fn manifest_mut(&mut self) -> &mut Manifest {
        &mut self.manifest
    }

    async fn save_manifest(&mut self) -> Result<()> {
        TableState::save_manifest(self).await
    }

    fn check_lease(&self) -> Result<()> {
        self.ctx.lease.check(self.ctx.config.layout.staging())
    }

    /// An ended job: where its output table is, and what its rows with no output row get.
    /// `cancelled`: why the run cancelled it, when it did.
    async fn job_ended(
        &mut self,
        round: u8,
        index: usize,
        job: &BatchPredictionJob,
        cancelled: Option<(u16, String)>,
    ) -> Result<SentShard> {
        let named = match job.output_location() {
            Some(OutputLocation::BigQueryTable(table)) => table.parse::<TableUri>().ok(),
            _ => None,
        };
        let output = match named {
            Some(table) => table,
            None => self.ctx.layout.output(round, index)?,
        };
        let (retriable, reason) = why_missing(&self.manifest, round, index, job, cancelled);
        let shard = self.shard(round, index, output, retriable, reason).await?;
        self.record_end(round, index, &job.name, job.state().as_str_name())
            .await?;
        Ok(shard)
    }

    /// A job of the manifest the service no longer has: what it wrote (if anything) counts,
    /// and the rest go to the next round.
    async fn job_lost(&mut self, round: u8, index: usize, name: &str) -> Result<SentShard> {
        tracing::warn!(
            target: "vertex_batch::run::step",
            job = %name, "the service no longer has this job; reading its output table"
        );
        self.lost += 1;
        let output = self.ctx.layout.output(round, index)?;
        let reason = (
            500,
            format!("no output row for this request: job {name} no longer exists"),
        );
        let shard = self.shard(round, index, output, true, reason).await?;
        self.record_end(round, index, name, "LOST").await?;
        Ok(shard)
    }
}

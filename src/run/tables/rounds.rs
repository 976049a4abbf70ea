//! One round of a run over tables: one job per shard (its input a shard table, its output a
//! table beside it), at most so many not yet ended, each found by its request id before it is
//! created and recorded in the manifest once it is; waited on through the client's one
//! polling loop and its rule for errors (`run/jobs.rs`'s calls, shared with file runs), with
//! the queue and run deadlines and an end as a file run has them (`run/rounds.rs`, whose rules
//! for cancelling are shared). Nothing of a job's output is read here: when a job ends, the round notes where its output table is and what its missing rows get, for the SQL
//! of the next round and of the results (`sql.rs`).

use std::collections::BTreeMap;

use futures_util::StreamExt;
use tokio::time::Instant;

use super::driver::TableState;
use super::sql::{Sent, SentShard};
use crate::bigquery::TableUri;
use crate::error::{Error, Result};
use crate::job::{OutputLocation, REQUEST_ID_LABEL};
use crate::run::RunPhase;
use crate::run::jobs::{Found, JobCalls, Polls, missing_rows_retriable, record_of};
use crate::run::layout::{RUN_LABEL, display_name};
use crate::run::rounds::{Ending, LiveJob, missing_reason, past_queue_deadline, show_jobs};
use crate::v1::{BatchPredictionJob, JobState};

impl TableState<'_> {
    /// Runs `round`'s jobs to their end; gives what the SQL needs of each. A job still queued
    /// past the queue deadline is cancelled (its rows go to the next round); once the run is
    /// ending (its deadline passed, or an end asked for) live jobs are cancelled and no job is
    /// created, as in a file run (`run/rounds.rs`).
    pub(crate) async fn run_round(&mut self, round: u8) -> Result<Sent> {
        let ctx = self.ctx;
        let r = usize::from(round);
        let count = self.manifest.rounds[r].shards.len();
        let mut ended: Vec<Option<SentShard>> = vec![None; count];
        let mut states: Vec<Option<JobState>> = vec![None; count];
        let mut live: BTreeMap<usize, LiveJob> = BTreeMap::new();
        let mut polls = Polls::new();
        let mut next = 0;
        // Shards from here on get no job (the run is ending).
        let mut end_at = count;
        self.progress.phase = RunPhase::Running;
        self.progress.round = round;
        loop {
            if let Some(ending) = self.ending {
                // No job is created once the run is ending (jobs are made in shard order, so
                // those made are the first ones).
                let made = self.manifest.rounds[r]
                    .shards
                    .iter()
                    .take_while(|shard| shard.job.is_some())
                    .count();
                let keep = made.max(next);
                for (index, shard) in ended.iter_mut().enumerate().take(end_at).skip(keep) {
                    *shard = Some(SentShard {
                        index,
                        input: ctx.layout.shard(round, index)?,
                        output: None,
                        missing_retriable: false,
                        missing: ending.reason("this row's job was never created"),
                    });
                }
                end_at = end_at.min(keep);
            }
            while live.len() < ctx.config.max_running_jobs && next < end_at {
                let index = next;
                next += 1;
                match self.job_of(round, index).await? {
                    Found::Ended(job) => {
                        states[index] = Some(job.state());
                        ended[index] = Some(self.job_ended(round, index, &job, None).await?);
                    }
                    Found::Live(job) => {
                        states[index] = Some(job.state());
                        polls.push(self.jobs().poll(index, &job.name));
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
                        ended[index] = Some(self.job_lost(round, index, &name).await?);
                    }
                }
            }
            if let Some(ending) = self.ending {
                // The live jobs are cancelled.
                for (index, job) in live.iter_mut().filter(|(_, job)| job.cancelled.is_none()) {
                    if self.jobs().cancel(&job.job.name).await? {
                        let reason = ending.reason(&format!(
                            "its job {} was cancelled before this row was answered",
                            job.job.name
                        ));
                        job.cancelled = Some(reason.clone());
                        self.record_cancel(round, *index, reason).await?;
                    }
                }
            }
            self.show(&states, &live, end_at.saturating_sub(next));
            if live.is_empty() && next >= end_at {
                break;
            }
            let answer = match (self.deadline, self.ending) {
                (Some(deadline), None) => tokio::select! {
                    answer = polls.next() => answer,
                    () = tokio::time::sleep_until(deadline) => {
                        tracing::warn!(target: "vertex_batch::run::step", "the run's deadline passed; ending it");
                        self.ending = Some(Ending::Deadline);
                        continue;
                    }
                },
                _ => polls.next().await,
            };
            let Some((index, answer)) = answer else {
                return Err(Error::internal("the run lost track of its jobs"));
            };
            match answer {
                Ok(job) if job.has_ended() => {
                    states[index] = Some(job.state());
                    let reason = live.remove(&index).and_then(|job| job.cancelled);
                    ended[index] = Some(self.job_ended(round, index, &job, reason).await?);
                }
                Ok(job) => {
                    states[index] = Some(job.state());
                    if let Some(entry) = live.get_mut(&index) {
                        entry.job = job;
                        let (jobs, now) = (self.jobs(), (ctx.clock)());
                        let queued =
                            past_queue_deadline(&jobs, ctx.config.queue_deadline, entry, now);
                        if let Some(reason) = queued.await? {
                            self.jobs_past_queue_deadline += 1;
                            entry.cancelled = Some(reason.clone());
                            self.record_cancel(round, index, reason).await?;
                        }
                    }
                }
                Err(err) if err.is_not_found() => {
                    if let Some(gone) = live.remove(&index) {
                        ended[index] = Some(self.job_lost(round, index, &gone.job.name).await?);
                    }
                }
                Err(err) => return Err(err),
            }
        }
        Ok(Sent {
            round,
            shards: ended.into_iter().flatten().collect(),
        })
    }

    /// Records in the manifest why the run cancelled the job of shard `index`, so that a
    /// process started again reports its rows the same way.
    async fn record_cancel(
        &mut self,
        round: u8,
        index: usize,
        reason: (u16, String),
    ) -> Result<()> {
        if self.manifest.record_cancel(round, index, reason) {
            self.save_manifest().await?;
        }
        Ok(())
    }

    /// The calls about the run's jobs.
    fn jobs(&self) -> JobCalls<'_> {
        JobCalls {
            client: &self.ctx.client,
            wait: &self.ctx.config.wait,
            unreachable: &self.ctx.unreachable,
        }
    }

    /// The job of shard `index` of `round`: as recorded, found by its request id, or created.
    async fn job_of(&mut self, round: u8, index: usize) -> Result<Found> {
        let ctx = self.ctx;
        let shard = &self.manifest.rounds[usize::from(round)].shards[index];
        if let Some(record) = &shard.job {
            return self.jobs().recorded(record.name.clone()).await;
        }
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
        let request_id = shard.request_id.clone();
        ctx.lease.check(ctx.config.layout.staging())?;
        let job = self.jobs().find_or_create(job, &request_id).await?;
        self.manifest.rounds[usize::from(round)].shards[index].job = Some(record_of(&job));
        self.save_manifest().await?;
        Ok(Found::of(job))
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
        let cancelled = cancelled.or_else(|| {
            self.manifest.rounds[usize::from(round)].shards[index]
                .job
                .as_ref()
                .and_then(|record| record.cancelled.clone())
        });
        // Rows of a job cancelled at its queue deadline go again; those of an end do not.
        let retriable = match &cancelled {
            Some((code, _)) => *code == 408,
            None => missing_rows_retriable(job),
        };
        let reason = cancelled.unwrap_or_else(|| missing_reason(job));
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
            missing_retriable,
            missing,
        })
    }

    async fn record_end(&mut self, round: u8, index: usize, name: &str, state: &str) -> Result<()> {
        if self.manifest.record_end(round, index, name, state) {
            self.save_manifest().await?;
        }
        Ok(())
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

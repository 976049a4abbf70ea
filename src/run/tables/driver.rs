//! A run over tables, top-down: check the input (`check.rs`), take the lease, read the manifest
//! (or make round 0's rows and shards in BigQuery and write it), run each round
//! (`rounds.rs`), make each follow-up round's rows in SQL from what the last one left, write
//! the results table, record the end in the manifest, then drop the run's scratch tables.
//! Every statement that makes a table is `CREATE TABLE IF NOT EXISTS` over tables that no
//! longer change, and every job is looked up by its request id before it is created, so a
//! process killed at any step and started again makes no second job for a shard and round and
//! the same tables.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{StreamExt, TryStreamExt};
use tokio::time::Instant;

use super::Tables;
use super::bq::{Bq, number};
use super::check::{self, Checked};
use super::layout::TableLayout;
use super::plan;
use super::sql::{Sent, Source};
use crate::bigquery::{BigQuery, TableUri};
use crate::client::JobClient;
use crate::error::{Error, Result};
use crate::run::builder::{BatchRun, Clock, RunConfig};
use crate::run::driver::{nothing_to_end, settings, take_lease, until_stopped};
use crate::run::fingerprint::Fingerprint;
use crate::run::isolate::RowGroup;
use crate::run::layout::request_id;
use crate::run::lease::Lease;
use crate::run::manifest::{Manifest, ManifestFile, Round, Shard, ShardFile, TablesDone};
use crate::run::progress::ProgressFn;
use crate::run::rounds::Ending;
use crate::run::{RunPhase, RunProgress, RunSummary};
use crate::storage::Storage;

/// How many scratch tables are dropped at once.
const DROPS_AT_ONCE: usize = 8;

/// What every step of a run over tables reads.
pub(crate) struct TableCtx {
    pub(crate) client: JobClient,
    pub(crate) storage: Storage,
    pub(crate) bq: Bq,
    pub(crate) config: RunConfig,
    pub(crate) progress: Option<ProgressFn>,
    pub(crate) lease: Lease,
    pub(crate) clock: Clock,
    pub(crate) layout: TableLayout,
    pub(crate) source: Source,
    pub(crate) results: TableUri,
    /// Calls to Vertex AI sent again because the service could not be reached.
    pub(crate) unreachable: Arc<AtomicU64>,
}

impl TableCtx {
    pub(crate) fn report(&self, progress: &RunProgress) {
        if let Some(report) = &self.progress {
            report(progress);
        }
    }
}

/// What the rounds share.
pub(crate) struct TableState<'a> {
    pub(crate) ctx: &'a TableCtx,
    pub(crate) file: ManifestFile,
    pub(crate) manifest: Manifest,
    pub(crate) progress: RunProgress,
    /// Jobs of the manifest the service no longer had.
    pub(crate) lost: u64,
    /// Jobs cancelled, still queued at the queue deadline.
    pub(crate) jobs_past_queue_deadline: u64,
    /// When the run's deadline passes.
    pub(crate) deadline: Option<Instant>,
    pub(crate) ending: Option<Ending>,
}

impl TableState<'_> {
    pub(crate) async fn save_manifest(&mut self) -> Result<()> {
        self.ctx.lease.check(self.ctx.config.layout.staging())?;
        self.file.save(&self.ctx.storage, &self.manifest).await
    }
}

/// Runs `run` over `tables`: checked first, the lease taken next and released last.
pub(crate) async fn run(run: BatchRun, bigquery: BigQuery, tables: Tables) -> Result<RunSummary> {
    let BatchRun {
        client,
        storage,
        config,
        progress,
        stop,
        clock,
    } = run;
    let region = client.location().location().to_owned();
    if client.location().is_global() {
        return Err(Error::invalid(
            "location",
            "global: the global endpoint serves no BigQuery batch jobs; use a region (the \
             datasets' region)",
        ));
    }
    // The model and settings are checked as a job's before anything is read.
    crate::v1::BatchPredictionJob::builder(config.model.clone())
        .with_input(tables.input.to_string())
        .with_output(tables.results.to_string())
        .with_generation_config(config.generation_config.clone())
        .build(client.location())?;
    let bq = Bq {
        client: bigquery,
        project: tables.results.project().to_owned(),
        location: region,
    };
    let checked = check::inputs(&bq, &tables).await?;
    let fingerprint = {
        let mut hash = Fingerprint::new();
        hash.write_str(&checked.fingerprint);
        format!("{:016x}", hash.finish())
    };
    let run_id = config.layout.run_id(&fingerprint);
    check::results_table(&bq, &tables.results, &run_id).await?;

    let mut stop = stop;
    let lease = take_lease(&storage, &config, stop.as_mut()).await?;
    let ctx = TableCtx {
        client,
        storage,
        bq,
        progress,
        lease,
        clock,
        layout: TableLayout::new(tables.results.clone(), &run_id),
        source: checked.source.clone(),
        results: tables.results,
        unreachable: Arc::default(),
        config,
    };
    let result = until_stopped(
        &ctx.config,
        stop,
        drive(&ctx, &checked, fingerprint, run_id),
    )
    .await;
    ctx.lease.release().await;
    result
}

async fn drive(
    ctx: &TableCtx,
    checked: &Checked,
    fingerprint: String,
    run_id: String,
) -> Result<RunSummary> {
    let config = &ctx.config;
    let started = Instant::now();
    // Tables have no files.
    let settings = settings(config, 0)?;
    let buckets = plan::buckets(checked.rows, config.max_requests_per_job);
    let mut progress = RunProgress::new();
    progress.rows = checked.rows;
    let (file, existing) = ManifestFile::load(&ctx.storage, config.layout.manifest()?).await?;
    if config.end && existing.is_none() {
        return Err(nothing_to_end(config));
    }
    let mut state = TableState {
        ctx,
        file,
        manifest: Manifest::new(
            run_id.clone(),
            checked.rows,
            fingerprint.clone(),
            settings.clone(),
        ),
        progress,
        lost: 0,
        jobs_past_queue_deadline: 0,
        deadline: config.run_deadline.and_then(|d| started.checked_add(d)),
        ending: None,
    };
    match existing {
        Some(manifest) => {
            manifest.check_same(checked.rows, &fingerprint, &settings, state.file.uri())?;
            tracing::info!(target: "vertex_batch::run::step", run = %manifest.run_id, "run resumed");
            state.manifest = manifest;
            if let Some(done) = state.manifest.tables_done.clone() {
                // Its end was reached: the results table stands, its tables are dropped.
                return state.finish(&done, checked.rows, true).await;
            }
        }
        None => {
            state.progress.phase = RunPhase::Staging;
            ctx.report(&state.progress);
            let rows = ctx.layout.rows(0)?;
            ctx.bq.run(ctx.source.first_rows(&rows, buckets)).await?;
            let shards = state.stage(0, &rows).await?;
            state.manifest.rounds.push(Round {
                number: 0,
                rows: checked.rows,
                shards,
            });
            state.save_manifest().await?;
        }
    }

    state.ending = state.manifest.ended.as_ref().map(|_| Ending::ByUser);
    if config.end && state.manifest.end_now() {
        state.save_manifest().await?;
        state.ending = Some(Ending::ByUser);
    }

    let last_round = config
        .retry_rounds
        .max(state.manifest.rounds.len().saturating_sub(1) as u8);
    let mut sent: Vec<Sent> = Vec::new();
    for round in 0..=last_round {
        if round > 0 && state.manifest.rounds.len() <= usize::from(round) {
            // An ending run stages no more rounds.
            let Some(last) = sent.last().filter(|_| state.ending.is_none()) else {
                break;
            };
            let rows = ctx.layout.rows(round)?;
            state.progress.phase = RunPhase::Staging;
            state.progress.round = round;
            ctx.report(&state.progress);
            ctx.bq
                .run(ctx.source.retry_rows(last, &rows, buckets))
                .await?;
            let count = number(&ctx.bq.row(Source::count(&rows)).await?, "n");
            if count == 0 {
                // Nothing to try again: the run ended with the last round.
                state.progress.round = round - 1;
                break;
            }
            let shards = state.stage(round, &rows).await?;
            state.manifest.rounds.push(Round {
                number: round,
                rows: count,
                shards,
            });
            state.save_manifest().await?;
        }
        sent.push(state.run_round(round).await?);
    }

    // The results table: made last, and again by a run started again before its tables
    // were dropped.
    ctx.bq
        .run(ctx.source.results(&sent, &ctx.results, &run_id))
        .await?;
    let facts = ctx.bq.row(ctx.source.round_facts(&sent)).await?;
    let done = TablesDone {
        rounds: sent.len() as u8,
        jobs: state
            .manifest
            .rounds
            .iter()
            .take(sent.len())
            .map(|round| round.shards.iter().filter(|s| s.job.is_some()).count() as u64)
            .sum(),
        jobs_lost: state.lost,
        jobs_past_queue_deadline: state.jobs_past_queue_deadline,
        repeated_lines: number(&facts, "repeated"),
        unexpected_lines: number(&facts, "unexpected"),
        missing_rows: number(&facts, "missing"),
    };
    if state.ending == Some(Ending::Deadline) {
        // Past its deadline the run is not at its end: started again, it goes on with a new
        // deadline, from its tables.
        return state.finish(&done, checked.rows, false).await;
    }
    // Recorded before any table goes: from here on the run's end needs none of them.
    state.manifest.tables_done = Some(done.clone());
    state.save_manifest().await?;
    state.finish(&done, checked.rows, true).await
}

impl TableState<'_> {
    /// The end of a run whose results table is written: its scratch tables dropped when `end`
    /// (again, for a run started again after its end), and its summary.
    async fn finish(&mut self, done: &TablesDone, rows: u64, end: bool) -> Result<RunSummary> {
        let ctx = self.ctx;
        if ctx.bq.table(&ctx.results).await?.is_none() {
            return Err(Error::invalid(
                "staging",
                format!(
                    "{}: this run ended and dropped its tables, and its results table {} is \
                     gone since; use another staging prefix to run it again",
                    self.file.uri(),
                    ctx.results
                ),
            ));
        }
        if end {
            self.drop_tables().await?;
        }
        let facts = ctx.bq.row(Source::result_facts(&ctx.results)).await?;
        let mut summary = RunSummary {
            rows: number(&facts, "rows_total"),
            answered: number(&facts, "answered"),
            rounds: done.rounds,
            jobs: done.jobs,
            repeated_lines: done.repeated_lines,
            unexpected_lines: done.unexpected_lines,
            missing_rows: done.missing_rows,
            service_unreachable: ctx.unreachable.load(Ordering::Relaxed),
            jobs_lost: done.jobs_lost,
            jobs_past_queue_deadline: done.jobs_past_queue_deadline,
            ended: match self.ending {
                Some(Ending::Deadline) => Some(
                    "its deadline passed (started again, the run goes on with a new deadline)"
                        .to_owned(),
                ),
                _ => self.manifest.ended.clone(),
            },
            lease_taken_over: ctx.lease.taken_over(),
            ..RunSummary::default()
        };
        summary.failed = summary.rows.saturating_sub(summary.answered);
        summary.usage.prompt_token_count = number(&facts, "prompt_tokens");
        summary.usage.candidates_token_count = number(&facts, "candidates_tokens");
        summary.usage.thoughts_token_count = number(&facts, "thoughts_tokens");
        summary.usage.total_token_count = number(&facts, "total_tokens");
        for row in ctx.bq.rows(Source::failed_by_code(&ctx.results)).await? {
            let code = u16::try_from(number(&row, "code")).unwrap_or(0);
            *summary.failed_by_code.entry(code).or_insert(0) += number(&row, "n");
        }
        if summary.rows != rows {
            return Err(Error::internal(format!(
                "{} holds {} rows for {rows} input rows",
                ctx.results, summary.rows
            )));
        }
        self.progress.phase = RunPhase::Done;
        ctx.report(&self.progress);
        Ok(summary)
    }

    /// Drops every scratch table of the run (those already gone are fine), a few at a time.
    async fn drop_tables(&self) -> Result<()> {
        let ctx = self.ctx;
        let shards: Vec<usize> = self
            .manifest
            .rounds
            .iter()
            .map(|round| round.shards.len())
            .collect();
        let tables = ctx.layout.scratch(&shards)?;
        ctx.lease.check(ctx.config.layout.staging())?;
        futures_util::stream::iter(tables.iter().map(|table| ctx.bq.drop_table(table)))
            .buffer_unordered(DROPS_AT_ONCE)
            .try_collect::<()>()
            .await?;
        tracing::info!(
            target: "vertex_batch::run::step",
            tables = tables.len(), "the run's scratch tables dropped"
        );
        Ok(())
    }
}

impl TableState<'_> {
    /// Makes the shards of `round` from its rows table, each a range of buckets under the job
    /// limit; gives them as the manifest records them.
    async fn stage(&mut self, round: u8, rows: &TableUri) -> Result<Vec<Shard>> {
        let ctx = self.ctx;
        let sizes: Vec<(u64, u64)> = ctx
            .bq
            .rows(Source::bucket_sizes(rows))
            .await?
            .iter()
            .map(|row| (number(row, "vertex_batch_bucket"), number(row, "n")))
            .collect();
        let ranges = plan::shards(&sizes, ctx.config.max_requests_per_job)?;
        let mut shards = Vec::with_capacity(ranges.len());
        for (index, range) in ranges.iter().enumerate() {
            let table = ctx.layout.shard(round, index)?;
            ctx.bq
                .run(ctx.source.shard(rows, &table, range.first, range.last))
                .await?;
            shards.push(Shard {
                files: vec![ShardFile {
                    uri: table.to_string(),
                    rows: range.rows,
                    bytes: 0,
                    first_row: range.first,
                }],
                rows: range.rows,
                first_row: range.first,
                last_row: range.last,
                request_id: request_id(&self.manifest.run_id, round, index),
                job: None,
                // The service's import reads the table itself: no line is checked apart.
                group: RowGroup::Importable,
            });
            self.progress.staged_rows += range.rows;
            ctx.report(&self.progress);
        }
        Ok(shards)
    }
}

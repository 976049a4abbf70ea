//! The run itself, top-down: check the settings, take the lease, read the manifest (or stage
//! round 0 and write it), then run each round (`rounds.rs`), staging each follow-up round from
//! what the last one left (`restage.rs`), and give the results.
//!
//! Every step that creates something is recorded in the manifest before the next one starts,
//! and every job is looked up by its request id before it is created; the rest (the join) is
//! rebuilt from the outputs, which do not change once a job has ended. So a process killed
//! anywhere and started again makes no second job for a shard and round, and the results it
//! gives are those of an uninterrupted run. The lease keeps a second process off the run while
//! the first one lives.
//!
//! Where to add a run step: a step between rounds goes in [`drive`]'s loop; a step per job in
//! `rounds.rs` (`job_of` creates or finds, `job_ended` collects); anything that names an
//! object or a label in `layout.rs`.

use futures_util::{Stream, StreamExt};

use super::RunRequest;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::builder::{BatchRun, Clock, RunConfig, StopSignal};
use super::files::FileRows;
use super::fingerprint::Fingerprint;
use super::isolate::{Apart, ImportCheck, RowGroup};
use super::label::{stage_line, stage_scanned_line};
use super::layout::request_id;
use super::lease::Lease;
use super::manifest::{Manifest, ManifestFile, Round, Settings};
use super::progress::{ProgressFn, RunPhase, RunProgress};
use super::results::{RunResults, RunSummary};
use super::rounds::{Ending, RunState};
use super::rows::{RowTable, Tally};
use super::spool::{KeyReader, KeyWriter, LineSpool, ScratchDir};
use super::stage::RoundWriter;
use super::unique::KeyHashes;
use crate::client::JobClient;
use crate::error::{Error, Result};
use crate::scan::{Root, Scanner};
use crate::storage::Storage;

/// How often staging reports progress, in rows.
const STAGING_REPORT_EVERY: u64 = 10_000;

/// What every step of a run reads.
pub(crate) struct Ctx {
    pub(crate) client: JobClient,
    pub(crate) storage: Storage,
    pub(crate) config: RunConfig,
    pub(crate) progress: Option<ProgressFn>,
    pub(crate) lease: Lease,
    pub(crate) clock: Clock,
    /// Calls to Vertex AI sent again because the service could not be reached.
    pub(crate) unreachable: Arc<AtomicU64>,
    /// The storage client's count of resent requests when the run started (lease included).
    pub(crate) storage_retries_before: u64,
}

impl Ctx {
    /// The run's rows, where they live between its input and its results.
    pub(crate) fn rows(&self) -> FileRows<'_> {
        FileRows {
            storage: &self.storage,
            config: &self.config,
        }
    }

    pub(crate) fn report(&self, progress: &RunProgress) {
        if let Some(report) = &self.progress {
            report(progress);
        }
    }
}

fn stopped(config: &RunConfig, reason: impl Into<String>) -> Error {
    Error::RunStopped {
        staging: config.layout.staging().to_string(),
        reason: reason.into(),
    }
}

/// Takes the run's lease (both kinds of run); a stop asked for while waiting for it ends the
/// wait.
pub(crate) async fn take_lease(
    storage: &Storage,
    config: &RunConfig,
    stop: Option<&mut StopSignal>,
) -> Result<Lease> {
    let lease_uri = config.layout.lease()?;
    let take = Lease::take(
        storage,
        &lease_uri,
        config.layout.staging(),
        config.lease,
        &config.wait,
    );
    match stop {
        Some(stop) => tokio::select! {
            lease = take => lease,
            () = stop => Err(stopped(config, "it was asked to stop")),
        },
        None => take.await,
    }
}

/// `work` to its end, unless `stop` asks the run to stop first (both kinds of run).
pub(crate) async fn until_stopped<T>(
    config: &RunConfig,
    stop: Option<StopSignal>,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match stop {
        Some(stop) => tokio::select! {
            result = work => result,
            () = stop => Err(stopped(config, "it was asked to stop")),
        },
        None => work.await,
    }
}

/// The settings a run's manifest records, which a run started again must match (both kinds
/// of run; tables have no files, so no `max_bytes_per_file`).
pub(crate) fn settings(config: &RunConfig, max_bytes_per_file: u64) -> Result<Settings> {
    Ok(Settings {
        model: config.model.clone(),
        generation_config: if config.generation_config.is_empty() {
            serde_json::Value::Null
        } else {
            config.generation_config.to_json()?
        },
        max_requests_per_job: config.max_requests_per_job,
        max_bytes_per_file,
    })
}

/// The refusal of an end where nothing was started (both kinds of run).
pub(crate) fn nothing_to_end(config: &RunConfig) -> Error {
    Error::invalid(
        "staging",
        format!(
            "{}: no run is staged there to end (nothing was started with this staging prefix)",
            config.layout.staging()
        ),
    )
}

/// Runs `run`: the lease is taken first and released last, whatever happens between.
pub(crate) async fn run<S>(run: BatchRun, requests: S) -> Result<RunResults>
where
    S: Stream<Item = Result<RunRequest>> + Send,
{
    let BatchRun {
        client,
        storage,
        config,
        progress,
        stop,
        clock,
    } = run;
    // The model and settings are checked before anything is read or written.
    crate::v1::BatchPredictionJob::builder(config.model.clone())
        .with_input(config.layout.staging().join("check.jsonl")?.to_string())
        .with_output(config.layout.staging().to_string())
        .with_generation_config(config.generation_config.clone())
        .build(client.location())?;
    let storage_retries_before = storage.retries();
    let mut stop = stop;
    let lease = take_lease(&storage, &config, stop.as_mut()).await?;
    let ctx = Ctx {
        client,
        storage,
        config,
        progress,
        lease,
        clock,
        unreachable: Arc::default(),
        storage_retries_before,
    };
    let result = until_stopped(&ctx.config, stop, drive(&ctx, requests)).await;
    ctx.lease.release().await;
    result
}

async fn drive<S>(ctx: &Ctx, requests: S) -> Result<RunResults>
where
    S: Stream<Item = Result<RunRequest>> + Send,
{
    let config = &ctx.config;
    let started = tokio::time::Instant::now();
    let settings = settings(config, config.max_bytes_per_file)?;
    let (mut file, existing) = ManifestFile::load(&ctx.storage, config.layout.manifest()?).await?;
    if config.end && existing.is_none() {
        return Err(nothing_to_end(config));
    }
    let work_dir = config.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = ScratchDir::new(&work_dir, "scratch")?;
    let mut progress = RunProgress::new();
    let mut summary = RunSummary::default();

    // Round 0: every request, read once; uploaded unless an earlier process staged it.
    let mut writer = match existing {
        Some(_) => None,
        None => Some(ctx.rows().writer(0)?),
    };
    let staging_started = std::time::Instant::now();
    let input = read_input(ctx, requests, writer.as_mut(), &scratch, &mut progress).await?;
    let run_id = config.layout.run_id(&input.fingerprint);
    let mut manifest = match existing {
        Some(manifest) => {
            manifest.check_same(input.rows, &input.fingerprint, &settings, file.uri())?;
            check_same_apart(&manifest, &input.apart, file.uri())?;
            tracing::info!(target: "vertex_batch::run::step", run = %manifest.run_id, "run resumed");
            manifest
        }
        None => {
            let writer = writer
                .take()
                .ok_or_else(|| Error::internal("no staging where there is no manifest"))?;
            let (shards, bytes) = writer.finish(|shard| request_id(&run_id, 0, shard)).await?;
            summary.staged_bytes += bytes;
            summary.staging_time += staging_started.elapsed();
            progress.staged_bytes = bytes;
            ctx.report(&progress);
            let mut manifest = Manifest::new(run_id, input.rows, input.fingerprint, settings);
            manifest.rounds.push(Round {
                number: 0,
                rows: input.rows,
                shards,
            });
            ctx.lease.check(config.layout.staging())?;
            file.save(&ctx.storage, &manifest).await?;
            manifest
        }
    };
    let mut ending = manifest.ended.as_ref().map(|_| Ending::ByUser);
    if config.end && manifest.end_now() {
        file.save(&ctx.storage, &manifest).await?;
        ending = Some(Ending::ByUser);
    }

    progress.rows = input.rows;
    let mut state = RunState {
        ctx,
        file,
        manifest,
        table: if config.unchecked_join {
            RowTable::new(input.hashes, input.apart).without_check()
        } else {
            RowTable::new(input.hashes, input.apart)
        },
        spool: LineSpool::create(scratch.file("lines"))?,
        tally: Tally::default(),
        missing: Vec::new(),
        progress,
        summary,
        deadline: config.run_deadline.and_then(|d| started.checked_add(d)),
        ending,
    };

    let last_round = config
        .retry_rounds
        .max(state.manifest.rounds.len().saturating_sub(1) as u8);
    let mut rounds = 0;
    for round in 0..=last_round {
        if round > 0 {
            let staged = state.manifest.rounds.len() > usize::from(round);
            if state.ending.is_some() && !staged {
                break;
            }
            let rows = state.table.plan_retry(round);
            if rows == 0 {
                break;
            }
            if !staged {
                state.stage_retry(round, rows).await?;
            } else if state.manifest.rounds[usize::from(round)].rows != rows {
                return Err(Error::invalid(
                    "staging",
                    format!(
                        "{}: round {round} was staged with {} rows, but the jobs' outputs now \
                         leave {rows} to try again; the outputs changed since: use another \
                         staging prefix",
                        state.file.uri(),
                        state.manifest.rounds[usize::from(round)].rows
                    ),
                ));
            }
        }
        state.run_round(round).await?;
        rounds += 1;
    }

    state.progress.phase = RunPhase::Done;
    state.report();
    let mut summary = state.summary;
    summary.rows = input.rows;
    summary.rounds = rounds;
    summary.jobs = state
        .manifest
        .rounds
        .iter()
        .take(usize::from(rounds))
        .map(|round| round.shards.iter().filter(|s| s.job.is_some()).count() as u64)
        .sum();
    summary.usage = state.table.usage.clone();
    summary.repeated_lines = state.tally.repeated;
    summary.unexpected_lines = state.tally.unexpected;
    summary.unreadable_lines = state.tally.unreadable;
    summary.missing_rows = state.tally.missing;
    summary.mismatched_lines = state.tally.mismatched;
    summary.staged_apart = state.table.apart.len();
    summary.staged_apart_by_reason = state.table.apart.by_kind().clone();
    summary.ended = match state.ending {
        Some(Ending::Deadline) => Some(
            "its deadline passed (started again, the run goes on with a new deadline)".to_owned(),
        ),
        _ => state.manifest.ended.clone(),
    };
    summary.storage_retries = ctx
        .storage
        .retries()
        .saturating_sub(ctx.storage_retries_before);
    summary.service_unreachable = ctx.unreachable.load(Ordering::Relaxed);
    summary.lease_taken_over = ctx.lease.taken_over();
    let keys = KeyReader::open(input.keys)?;
    RunResults::new(
        summary,
        state.table,
        state.spool,
        keys,
        state.missing,
        scratch,
    )
}

/// What reading the input gave.
struct InputFacts {
    rows: u64,
    /// Each row's request's canonical hash (`scan::hash`), for the join's check.
    hashes: Vec<u64>,
    /// The rows staged apart, and why.
    apart: Apart,
    fingerprint: String,
    keys: std::path::PathBuf,
}

/// Reads every request: checks it, keeps its key, and stages it when `writer` is given.
async fn read_input<S>(
    ctx: &Ctx,
    requests: S,
    mut writer: Option<&mut RoundWriter>,
    scratch: &ScratchDir,
    progress: &mut RunProgress,
) -> Result<InputFacts>
where
    S: Stream<Item = Result<RunRequest>> + Send,
{
    let mut requests = std::pin::pin!(requests);
    let mut keys = KeyWriter::create(scratch.file("keys"))?;
    let mut hashes = KeyHashes::default();
    let mut fingerprint = Fingerprint::new();
    let mut line = Vec::new();
    let mut rows: u64 = 0;
    let mut scanner = Scanner::with_kinds();
    let mut import = ImportCheck::default();
    let mut apart = Apart::default();
    let mut row_hashes = Vec::new();
    while let Some(request) = requests.next().await {
        let (key, origin, request, scanned) = request?.into_parts();
        let row = rows;
        rows += 1;
        let what = || request_name(origin, row);
        let key = key.unwrap_or_else(|| (row + 1).to_string());
        hashes.push(&key, origin);
        fingerprint.write_str(&key);
        fingerprint.write_str(&request);
        keys.push(&key)?;
        line.clear();
        // Read from a file, the request was scanned as it was read; else it is scanned here.
        let scanned = match scanned {
            Some(scanned) => Some(scanned),
            None => scanner
                .scan(request.as_bytes(), Root::Request)
                .ok()
                .map(|facts| import.scanned(&mut scanner, request.as_bytes(), facts)),
        };
        let group = match &scanned {
            Some(scanned) => scanned.group.row_group(),
            None => RowGroup::Importable,
        };
        match &scanned {
            Some(scanned) => {
                row_hashes.push(scanned.hash);
                stage_scanned_line(&request, scanned, row, &mut line)
            }
            // Not a JSON object: the slow way says why, as serde_json words it.
            None => stage_line(&request, row, &mut line)
                .and_then(|()| Err("the request could not be read as JSON".to_owned())),
        }
        .map_err(|why| Error::invalid(what(), why))?;
        if let Some(finding) = scanned.as_ref().and_then(|s| s.group.finding()) {
            if ctx.config.refuse_unimportable {
                return Err(Error::invalid(
                    what(),
                    format!(
                        "the service's import would refuse it, and with it its whole job: {} at \
                         {} ({}); a run that does not refuse unimportable requests stages it in \
                         a job of its own",
                        finding.kind(),
                        finding.json_path(),
                        finding.service_message()
                    ),
                ));
            }
            apart.add(row, group, finding);
        }
        if let Some(writer) = writer.as_deref_mut() {
            writer.push(group, row, &line, what).await?;
            if rows.is_multiple_of(STAGING_REPORT_EVERY) {
                progress.rows = rows;
                progress.staged_rows = rows;
                progress.staged_bytes = writer.bytes();
                ctx.report(progress);
            }
        }
    }
    if rows == 0 {
        return Err(Error::invalid(
            "input",
            "holds no requests: give at least one (blank lines are skipped)",
        ));
    }
    let keys = keys.finish()?;
    if let Some(repeated) = hashes.first_repeated(keys.clone())? {
        return Err(Error::invalid(
            request_name(hashes.line_of(repeated.row), repeated.row),
            format!(
                "the key {:?} is also the key of the request at position {}; keys must be \
                 unique",
                repeated.key,
                repeated.first + 1
            ),
        ));
    }
    progress.rows = rows;
    progress.staged_rows = rows;
    ctx.report(progress);
    Ok(InputFacts {
        rows,
        hashes: row_hashes,
        apart,
        fingerprint: format!("{:016x}", fingerprint.finish()),
        keys,
    })
}

/// A resumed run finds the rows staged apart where round 0 staged them: the same input and
/// the same import rule give the same groups.
fn check_same_apart(
    manifest: &Manifest,
    apart: &Apart,
    uri: &crate::storage::ObjectUri,
) -> Result<()> {
    let staged: u64 = manifest
        .rounds
        .first()
        .map(|round| {
            round
                .shards
                .iter()
                .filter(|shard| !shard.group.is_importable())
                .map(|shard| shard.rows)
                .sum()
        })
        .unwrap_or(0);
    if staged == apart.len() {
        return Ok(());
    }
    Err(Error::invalid(
        "staging",
        format!(
            "{uri}: the run staged {staged} requests apart as ones the service's import would \
             refuse, and this version finds {}; use another staging prefix",
            apart.len()
        ),
    ))
}

/// How an error names a request: by its input line, or its position in the stream.
fn request_name(line: Option<u64>, row: u64) -> String {
    match line {
        Some(line) => format!("input line {line}"),
        None => format!("request {}", row + 1),
    }
}

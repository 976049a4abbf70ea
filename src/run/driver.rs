//! The run itself: stage round 0, then for each round create its jobs (at most so many not yet
//! ended), read each job's output as it ends, and plan the next round from what is left.
//!
//! Every step that creates something is recorded in the manifest before the next one starts,
//! and every job is looked up by its request id before it is created; the rest (the join) is
//! rebuilt from the outputs, which do not change once a job has ended. So a process killed
//! anywhere and started again makes no second job for a shard and round, and the results it
//! gives are those of an uninterrupted run.

use std::collections::BTreeMap;

use futures_util::{Stream, StreamExt, TryStreamExt};

use super::RunRequest;
use super::builder::BatchRun;
use super::collect::collect_job;
use super::fingerprint::Fingerprint;
use super::jobs::{JobTemplate, find_or_create, missing_rows_retriable};
use super::label::{stage_checked_line, stage_line};
use super::manifest::{JobRecord, Manifest, Round, Settings};
use super::progress::{RunPhase, RunProgress};
use super::results::{MissingReasons, RunResults, RunSummary};
use super::rows::{JobRows, RowTable, Tally};
use super::spool::{KeyReader, KeyWriter, LineSpool, ScratchDir};
use super::stage::ShardWriter;
use super::status::http_code_of_grpc;
use super::unique::KeyHashes;
use crate::error::{Error, Result};
use crate::job::OutputLocation;
use crate::storage::ObjectUri;
use crate::v1::{BatchPredictionJob, JobState};

/// How often staging reports progress, in rows.
const STAGING_REPORT_EVERY: u64 = 10_000;

pub(crate) async fn drive<S>(run: BatchRun, requests: S) -> Result<RunResults>
where
    S: Stream<Item = Result<RunRequest>> + Send,
{
    // The model and settings are checked before anything is read or written.
    crate::v1::BatchPredictionJob::builder(run.model.clone())
        .with_input(run.staging.join("check.jsonl")?.to_string())
        .with_output(run.staging.to_string())
        .with_generation_config(run.generation_config.clone())
        .build(run.client.location())?;
    let settings = Settings {
        model: run.model.clone(),
        generation_config: if run.generation_config.is_empty() {
            serde_json::Value::Null
        } else {
            run.generation_config.to_json()?
        },
        max_requests_per_job: run.max_requests_per_job,
        max_bytes_per_file: run.max_bytes_per_file,
    };
    let manifest_uri = run.staging.join("manifest.json")?;
    let existing = Manifest::load(&run.storage, &manifest_uri).await?;
    let work_dir = run.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = ScratchDir::new(&work_dir, "scratch")?;
    let mut progress = RunProgress::new();
    let mut summary = RunSummary::default();

    // Round 0: every request, read once; uploaded unless an earlier process staged it.
    let mut writer = match existing {
        Some(_) => None,
        None => Some(ShardWriter::new(
            &run.storage,
            &run.staging,
            0,
            run.max_requests_per_job,
            run.max_bytes_per_file,
        )?),
    };
    let staging_started = std::time::Instant::now();
    let input = read_input(&run, requests, writer.as_mut(), &scratch, &mut progress).await?;
    let run_id = run_id(&run.staging, &input.fingerprint);
    let mut manifest = match existing {
        Some(manifest) => {
            manifest.check_same(input.rows, &input.fingerprint, &settings, &manifest_uri)?;
            tracing::info!(target: "vertex_batch::run::step", run = %manifest.run_id, "run resumed");
            manifest
        }
        None => {
            let writer = writer.take().expect("staging when there is no manifest");
            let (shards, bytes) = writer.finish(|shard| request_id(&run_id, 0, shard)).await?;
            summary.staged_bytes += bytes;
            summary.staging_time += staging_started.elapsed();
            progress.staged_bytes = bytes;
            report(&run, &progress);
            let mut manifest = Manifest::new(run_id, input.rows, input.fingerprint, settings);
            manifest.rounds.push(Round {
                number: 0,
                rows: input.rows,
                shards,
            });
            manifest.save(&run.storage, &manifest_uri).await?;
            manifest
        }
    };

    let template = JobTemplate {
        model: run.model.clone(),
        generation_config: run.generation_config.clone(),
        run_id: manifest.run_id.clone(),
    };
    let mut state = RunState {
        run: &run,
        manifest_uri,
        template,
        table: RowTable::new(input.rows),
        spool: LineSpool::create(scratch.file("lines"))?,
        tally: Tally::default(),
        missing: Vec::new(),
        progress,
        summary,
    };
    state.progress.rows = input.rows;

    let last_round = run
        .retry_rounds
        .max(manifest.rounds.len().saturating_sub(1) as u8);
    let mut rounds = 0;
    for round in 0..=last_round {
        if round > 0 {
            let rows = state.table.plan_retry(round);
            if rows == 0 {
                break;
            }
            if manifest.rounds.len() <= usize::from(round) {
                state.stage_retry(&mut manifest, round, rows).await?;
            } else if manifest.rounds[usize::from(round)].rows != rows {
                return Err(Error::invalid(
                    "staging",
                    format!(
                        "{}: round {round} was staged with {} rows, but the jobs' outputs now \
                         leave {rows} to try again; the outputs changed since: use another \
                         staging prefix",
                        state.manifest_uri,
                        manifest.rounds[usize::from(round)].rows
                    ),
                ));
            }
        }
        state.run_round(&mut manifest, round).await?;
        rounds += 1;
    }

    state.progress.phase = RunPhase::Done;
    state.report();
    let mut summary = state.summary;
    summary.rows = input.rows;
    summary.rounds = rounds;
    summary.jobs = manifest
        .rounds
        .iter()
        .take(usize::from(rounds))
        .map(|round| round.shards.len() as u64)
        .sum();
    summary.usage = state.table.usage;
    summary.repeated_lines = state.tally.repeated;
    summary.unexpected_lines = state.tally.unexpected;
    summary.unreadable_lines = state.tally.unreadable;
    summary.missing_rows = state.tally.missing;
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
    fingerprint: String,
    keys: std::path::PathBuf,
}

/// Reads every request: checks it, keeps its key, and stages it when `writer` is given.
async fn read_input<S>(
    run: &BatchRun,
    requests: S,
    mut writer: Option<&mut ShardWriter>,
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
    while let Some(request) = requests.next().await {
        let (key, origin, request, checked) = request?.into_parts();
        let row = rows;
        rows += 1;
        let what = || request_name(origin, row);
        let key = key.unwrap_or_else(|| (row + 1).to_string());
        hashes.push(&key, origin);
        fingerprint.write_str(&key);
        fingerprint.write_str(&request);
        keys.push(&key)?;
        line.clear();
        if checked {
            stage_checked_line(&request, row, &mut line)
        } else {
            stage_line(&request, row, &mut line)
        }
        .map_err(|why| Error::invalid(what(), why))?;
        if let Some(writer) = writer.as_deref_mut() {
            writer.push(row, &line, what).await?;
            if rows.is_multiple_of(STAGING_REPORT_EVERY) {
                progress.rows = rows;
                progress.staged_rows = rows;
                progress.staged_bytes = writer.bytes;
                report(run, progress);
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
    report(run, progress);
    Ok(InputFacts {
        rows,
        fingerprint: format!("{:016x}", fingerprint.finish()),
        keys,
    })
}

/// How an error names a request: by its input line, or its position in the stream.
fn request_name(line: Option<u64>, row: u64) -> String {
    match line {
        Some(line) => format!("input line {line}"),
        None => format!("request {}", row + 1),
    }
}

/// Everything the rounds share.
struct RunState<'a> {
    run: &'a BatchRun,
    manifest_uri: ObjectUri,
    template: JobTemplate,
    table: RowTable,
    spool: LineSpool,
    tally: Tally,
    missing: MissingReasons,
    progress: RunProgress,
    summary: RunSummary,
}

impl RunState<'_> {
    /// Stages the rows `round` sends again, read back from round 0's files.
    async fn stage_retry(&mut self, manifest: &mut Manifest, round: u8, rows: u64) -> Result<()> {
        let run = self.run;
        let started = std::time::Instant::now();
        self.progress.phase = RunPhase::Staging;
        self.progress.round = round;
        self.progress.staged_rows = 0;
        self.progress.staged_bytes = 0;
        self.report();
        let mut writer = ShardWriter::new(
            &run.storage,
            &run.staging,
            round,
            run.max_requests_per_job,
            run.max_bytes_per_file,
        )?;
        let files = manifest.rounds[0]
            .shards
            .iter()
            .flat_map(|shard| shard.files.clone())
            .collect::<Vec<_>>();
        let mut line_with_end = Vec::new();
        for file in files {
            let uri: ObjectUri = file.uri.parse()?;
            let mut stream = run.storage.download(&uri, ..).await?;
            let mut splitter = super::lines::LineSplitter::default();
            let mut row = file.first_row;
            // Lines of this file going again, gathered per chunk (the splitter's callback
            // cannot wait on the upload).
            let mut chosen: Vec<(u64, Vec<u8>)> = Vec::new();
            let take = |line: &[u8], chosen: &mut Vec<(u64, Vec<u8>)>, row: &mut u64| {
                if self.table.is_sent_in(*row, round) {
                    chosen.push((*row, line.to_vec()));
                }
                *row += 1;
                Ok(())
            };
            loop {
                let chunk = stream.try_next().await?;
                match &chunk {
                    Some(chunk) => {
                        splitter.feed(chunk, |line| take(line, &mut chosen, &mut row))?
                    }
                    None => splitter.finish(|line| take(line, &mut chosen, &mut row))?,
                }
                for (row, line) in chosen.drain(..) {
                    line_with_end.clear();
                    line_with_end.extend_from_slice(&line);
                    line_with_end.push(b'\n');
                    writer
                        .push(row, &line_with_end, || format!("row {row}"))
                        .await?;
                }
                if chunk.is_none() {
                    break;
                }
            }
        }
        let run_id = manifest.run_id.clone();
        let (shards, bytes) = writer
            .finish(|shard| request_id(&run_id, round, shard))
            .await?;
        self.summary.staged_bytes += bytes;
        self.summary.staging_time += started.elapsed();
        self.progress.staged_rows = rows;
        self.progress.staged_bytes = bytes;
        self.report();
        manifest.rounds.push(Round {
            number: round,
            rows,
            shards,
        });
        manifest.save(&run.storage, &self.manifest_uri).await
    }

    /// Creates the round's jobs, at most `max_running_jobs` not yet ended, and reads each one's
    /// output as it ends.
    async fn run_round(&mut self, manifest: &mut Manifest, round: u8) -> Result<()> {
        let run = self.run;
        let r = usize::from(round);
        let shard_count = manifest.rounds[r].shards.len();
        if self.missing.len() <= r {
            self.missing.resize(r + 1, Vec::new());
        }
        self.missing[r] = vec![(500, String::new()); shard_count];
        self.progress.phase = RunPhase::Running;
        self.progress.round = round;
        let mut states: Vec<Option<JobState>> = vec![None; shard_count];
        let mut live: Vec<(usize, BatchPredictionJob)> = Vec::new();
        let mut next = 0;
        let mut intervals = run.client.wait_options().intervals();
        loop {
            while live.len() < run.max_running_jobs && next < shard_count {
                let index = next;
                next += 1;
                let job = self.job_of(manifest, round, index).await?;
                states[index] = Some(job.state());
                if job.state().has_ended() {
                    self.job_ended(manifest, round, index, &job).await?;
                } else {
                    live.push((index, job));
                }
            }
            self.show_jobs(&states, &live, shard_count - next);
            if live.is_empty() && next == shard_count {
                return Ok(());
            }
            let pause = intervals
                .next()
                .unwrap_or(std::time::Duration::from_secs(30));
            tokio::time::sleep(pause).await;
            let mut still = Vec::with_capacity(live.len());
            for (index, job) in live {
                let job = run.client.get(&job.name).await?;
                states[index] = Some(job.state());
                if job.state().has_ended() {
                    self.job_ended(manifest, round, index, &job).await?;
                } else {
                    still.push((index, job));
                }
            }
            live = still;
        }
    }

    /// The job of shard `index` of `round`: as recorded, found by its request id, or created.
    async fn job_of(
        &mut self,
        manifest: &mut Manifest,
        round: u8,
        index: usize,
    ) -> Result<BatchPredictionJob> {
        let run = self.run;
        let shard = &manifest.rounds[usize::from(round)].shards[index];
        if let Some(record) = &shard.job {
            return run.client.get(&record.name).await;
        }
        let output = self.output_prefix(round, index)?;
        let job = self
            .template
            .job(&run.client, round, index, shard, &output)?;
        let request_id = shard.request_id.clone();
        let (job, _created) = find_or_create(&run.client, job, &request_id).await?;
        manifest.rounds[usize::from(round)].shards[index].job = Some(JobRecord {
            name: job.name.clone(),
            state: job.state().as_str_name().to_owned(),
            ended: false,
        });
        manifest.save(&run.storage, &self.manifest_uri).await?;
        Ok(job)
    }

    fn output_prefix(&self, round: u8, index: usize) -> Result<ObjectUri> {
        self.run
            .staging
            .join(&format!("r{round}/output/s{index:05}/"))
    }

    /// Reads an ended job's output into the join and records the end.
    async fn job_ended(
        &mut self,
        manifest: &mut Manifest,
        round: u8,
        index: usize,
        job: &BatchPredictionJob,
    ) -> Result<()> {
        let run = self.run;
        let shard = &manifest.rounds[usize::from(round)].shards[index];
        let rows = JobRows {
            round,
            shard: index as u32,
            first: shard.first_row,
            last: shard.last_row,
        };
        let dir = match job.output_location() {
            Some(OutputLocation::Gcs(dir)) => format!("{}/", dir.trim_end_matches('/')).parse()?,
            _ => self.output_prefix(round, index)?,
        };
        let mut tally = Tally::default();
        let started = std::time::Instant::now();
        self.summary.output_bytes += collect_job(
            &run.storage,
            &dir,
            rows,
            &mut self.table,
            &mut self.spool,
            &mut tally,
        )
        .await?;
        self.summary.collecting_time += started.elapsed();
        let retriable = missing_rows_retriable(job);
        self.table.close_job(rows, retriable, &mut tally);
        self.tally.add(tally);
        self.missing[usize::from(round)][index] = missing_reason(job);
        tracing::info!(
            target: "vertex_batch::run::step",
            job = %job.name, state = job.state().as_str_name(), repeated = tally.repeated,
            unexpected = tally.unexpected, missing = tally.missing, "job output read"
        );
        let record = manifest.rounds[usize::from(round)].shards[index]
            .job
            .get_or_insert_with(|| JobRecord {
                name: job.name.clone(),
                state: String::new(),
                ended: false,
            });
        let changed = !record.ended;
        record.state = job.state().as_str_name().to_owned();
        record.ended = true;
        if changed {
            manifest.save(&run.storage, &self.manifest_uri).await?;
        }
        Ok(())
    }

    fn show_jobs(
        &mut self,
        states: &[Option<JobState>],
        live: &[(usize, BatchPredictionJob)],
        waiting: usize,
    ) {
        let mut jobs = BTreeMap::new();
        for state in states.iter().flatten() {
            *jobs.entry(*state).or_insert(0) += 1;
        }
        let (mut answered, mut failed) = self.table.counts();
        for (_, job) in live {
            let done = job.progress();
            answered += done.successful;
            failed += done.failed;
        }
        self.progress.jobs = jobs;
        self.progress.jobs_waiting = waiting as u64;
        self.progress.answered = answered;
        self.progress.failed = failed;
        self.report();
    }

    fn report(&self) {
        report(self.run, &self.progress);
    }
}

fn report(run: &BatchRun, progress: &RunProgress) {
    if let Some(report) = &run.progress {
        report(progress);
    }
}

/// The code and message of the rows a job ended without.
fn missing_reason(job: &BatchPredictionJob) -> (u16, String) {
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

/// The request id of the job of `shard` in `round`: a valid label value, the same in every
/// process that runs this run.
fn request_id(run_id: &str, round: u8, shard: usize) -> String {
    format!("{run_id}-r{round}-s{shard}")
}

/// The run's id: a hash of where it is staged and what it sends.
fn run_id(staging: &ObjectUri, fingerprint: &str) -> String {
    let mut hash = Fingerprint::new();
    hash.write_str(&staging.to_string());
    hash.write_str(fingerprint);
    format!("{:016x}", hash.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_valid_label_values() {
        let staging: ObjectUri = "gs://bucket/runs/1".parse().unwrap();
        let id = run_id(&staging, "00ff");
        assert_eq!(id, run_id(&staging, "00ff"));
        assert_ne!(id, run_id(&staging, "00fe"));
        let request = request_id(&id, 2, 17);
        assert!(request.len() <= 63);
        assert!(
            request
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }
}

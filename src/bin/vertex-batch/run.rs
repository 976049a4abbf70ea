//! `run`: a file of prompts in, one result line per prompt out, in input order, through as many
//! jobs and follow-up rounds as it takes; started again, it resumes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use vertex_batch::run::{BatchRun, InputFormat, InputLines, RunPhase, RunProgress, RunSummary};
use vertex_batch::storage::{ObjectUri, Storage};

use crate::cloud_storage::storage_for;
use crate::connect::{Connected, Globals};
use crate::exit::Exit;
use crate::generation::GenerationArgs;
use crate::out;
use crate::out_file::OutFile;

#[derive(clap::Args)]
#[command(after_help = RUN_HELP)]
pub struct RunArgs {
    /// The prompts: JSONL lines {"request": {...}} with an optional "key": "...", or with --text
    /// one prompt a line; or a BigQuery table bq://PROJECT.DATASET.TABLE with a `request`
    /// column (then --key-column, and --out bq://PROJECT.DATASET.RESULTS).
    pub(crate) input: PathBuf,
    /// The model: `gemini-2.0-flash-001`, `publishers/google/models/...`, or a tuned model.
    #[arg(long, value_parser = parse_model)]
    pub(crate) model: String,
    /// Where the run keeps its files (shards, job outputs, its manifest): gs://BUCKET/PREFIX.
    /// The same command with the same staging prefix resumes the run.
    #[arg(long, value_name = "gs://BUCKET/PREFIX", value_parser = parse_staging)]
    pub(crate) staging: ObjectUri,
    /// The results file: JSONL, one line per prompt in input order; for a table INPUT, the
    /// results table bq://PROJECT.DATASET.RESULTS (one row per input row: its columns, then
    /// text, response, error), made by the run.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// For a table INPUT: its column whose values name its rows (unique, never NULL); each
    /// answer is joined to its row by it.
    #[arg(long, value_name = "COLUMN")]
    pub(crate) key_column: Option<String>,
    /// INPUT is plain text, one prompt a line (keyed by line number).
    #[arg(long)]
    pub(crate) text: bool,
    /// Requests per job, 1 to 200,000 (the service's limit).
    #[arg(long, value_name = "N", default_value_t = vertex_batch::run::DEFAULT_MAX_REQUESTS_PER_JOB,
          value_parser = clap::value_parser!(u64).range(1..=vertex_batch::run::MAX_REQUESTS_PER_JOB))]
    pub(crate) max_requests_per_job: u64,
    /// Bytes per staged input file, 1024 to 1,000,000,000 (the service's limit, 1 GB).
    #[arg(long, value_name = "BYTES", default_value_t = vertex_batch::run::DEFAULT_MAX_BYTES_PER_FILE,
          value_parser = clap::value_parser!(u64).range(
              vertex_batch::run::MIN_BYTES_PER_FILE..=vertex_batch::run::MAX_BYTES_PER_FILE))]
    pub(crate) max_bytes_per_file: u64,
    /// Jobs not yet ended at a time, 1 or more (the service runs 8 Gemini batch jobs at once
    /// and queues the rest).
    #[arg(long, value_name = "N", default_value_t = vertex_batch::run::DEFAULT_MAX_RUNNING_JOBS,
          value_parser = parse_running_jobs)]
    pub(crate) max_running_jobs: usize,
    /// Follow-up rounds, 0 to 100, for rows that failed with a transient status (429, 500, 503)
    /// or that a job left undone.
    #[arg(long, value_name = "N", default_value_t = vertex_batch::run::DEFAULT_RETRY_ROUNDS,
          value_parser = clap::value_parser!(u8).range(0..=i64::from(vertex_batch::run::MAX_RETRY_ROUNDS)))]
    pub(crate) retry_rounds: u8,
    #[command(flatten)]
    pub(crate) storage: crate::cloud_storage::StorageArgs,
    /// Cancel a job still queued after this long and send its rows again (`90m`, `12h`, `3d`;
    /// default 72h, the service's own queue limit, after which it EXPIRES the job).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) queue_deadline: Option<Duration>,
    /// End the run after this long (`36h`): live jobs are cancelled, what was answered is
    /// written, the rest reported with code 504 (default: no limit; each job is bounded by the
    /// service's 72 hours queued and 24 hours running).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) run_deadline: Option<Duration>,
    /// When another process runs this run (it holds the lease in the staging prefix), wait for
    /// it rather than exit at once with code 9.
    #[arg(long)]
    pub(crate) wait_for_lease: bool,
    /// End the run for good: cancel its jobs not yet ended, create none, and write the results
    /// gathered so far (rows never answered get code 499). Give the same INPUT as before.
    #[arg(long)]
    pub(crate) end: bool,
    /// Refuse a line the service's import would refuse (nesting deeper than 15, an empty
    /// object, a field name BigQuery refuses, a field whose type differs from earlier lines'),
    /// naming the line and the JSON path, before any job. Default: such lines are staged in
    /// jobs of their own, so that only those jobs can fail for them.
    #[arg(long)]
    pub(crate) refuse_unimportable: bool,
    #[command(flatten)]
    pub(crate) generation: GenerationArgs,
}

/// A duration as `45s`, `90m`, `12h`, `3d` (or plain seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let seconds: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if seconds > 0 => n
            .checked_mul(seconds)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("`{text}` is too long a duration")),
        _ => Err(format!(
            "`{text}` is not a duration: expected a number and a unit, like 45s, 90m, 12h or 3d"
        )),
    }
}

const RUN_HELP: &str = "\
Examples:
  # 300,000 prompts, 200,000 a job, results in input order:
  vertex-batch --project my-project run prompts.jsonl --model gemini-2.0-flash-001 \\
      --staging gs://my-bucket/runs/2025-01-01 --out results.jsonl --temperature 0.2
  # offline, against an embedded emulator:
  vertex-batch --emulator run prompts.txt --text --model gemini-2.0-flash-001 \\
      --staging gs://bucket/run --out results.jsonl

Results: one JSON line per prompt, in input order: {\"key\", \"text\", \"response\"} for an answer,
{\"key\", \"error\": {\"code\", \"message\"}} for a failure. Run the same command again after an
interruption: it resumes, and creates no job twice.

One process runs a run at a time: a second start on the same --staging exits with code 9 naming
the process that holds it (or waits, with --wait-for-lease). Ctrl-C or SIGTERM stops a run
cleanly (exit 130): run the same command again to resume. `vertex-batch status gs://BUCKET/PREFIX`
shows a run from anywhere.

Exit codes:
  0    every prompt answered
  1    an error (nothing is lost: run the same command again to resume)
  2    bad arguments
  8    some prompts have no answer (their lines in the results say why)
  9    another process runs this run now
  130  stopped by Ctrl-C or SIGTERM (run the same command again to resume)";

/// A model the service can find (checked as a job's model is, before anything is read).
fn parse_model(text: &str) -> Result<String, String> {
    vertex_batch::names::ModelName::parse(text)
        .map(|_| text.to_owned())
        .map_err(|err| match err {
            vertex_batch::Error::InvalidInput { reason, .. } => reason,
            other => other.to_string(),
        })
}

/// At least one job at a time.
fn parse_running_jobs(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("0: at least 1 job must be allowed to run".to_owned()),
        Ok(jobs) => Ok(jobs),
        Err(_) => Err(format!("`{text}` is not a number of jobs (1 or more)")),
    }
}

pub fn parse_staging(text: &str) -> Result<ObjectUri, String> {
    if let Some(c) = text.chars().find(|c| c.is_whitespace()) {
        return Err(format!(
            "`{text}` contains {c:?}: the service takes no white space in an output prefix"
        ));
    }
    if !text.starts_with("gs://") {
        return Err(format!(
            "`{text}` is not a Cloud Storage prefix: expected gs://BUCKET/PREFIX"
        ));
    }
    text.parse::<ObjectUri>()
        .map_err(|err| match err {
            // clap names the flag; the library's field (`uri`) would be a second name.
            vertex_batch::Error::InvalidInput { reason, .. } => reason,
            other => other.to_string(),
        })
        .and_then(|uri| {
            if uri.name().is_empty() {
                Err(format!(
                    "`{text}` names a bucket only: give a prefix for the run's files, gs://BUCKET/PREFIX"
                ))
            } else {
                Ok(uri)
            }
        })
}

pub async fn run(globals: &Globals, args: RunArgs) -> anyhow::Result<Exit> {
    if crate::run_tables::is_table(&args.input) {
        return crate::run_tables::run(globals, args).await;
    }
    if crate::run_tables::is_table(&args.out) {
        return Err(crate::exit::Usage(format!(
            "--out {}: a results table comes from a table INPUT (bq://PROJECT.DATASET.TABLE); a \
             file INPUT writes a results file",
            args.out.display()
        ))
        .into());
    }
    if let Some(column) = &args.key_column {
        return Err(crate::exit::Usage(format!(
            "--key-column {column}: for a table INPUT (bq://...); a file's keys are its lines' \"key\""
        ))
        .into());
    }
    // Everything local is checked before anything is sent.
    let format = if args.text {
        InputFormat::Text
    } else {
        InputFormat::Jsonl
    };
    let input = InputLines::open(&args.input, format).map_err(|err| match err {
        vertex_batch::Error::Io { error, .. } => {
            anyhow::anyhow!("INPUT {}: could not read it: {error}", args.input.display())
        }
        other => other.into(),
    })?;
    let mut out = OutFile::create(&args.out, &args.input)?;
    let connected = globals.connect().await?;
    let storage = storage_for(globals, &connected, &args.storage)?;
    let bars = Bars::new();
    let run = batch_run(&connected, storage, &args, &bars)?
        .with_max_bytes_per_file(args.max_bytes_per_file)
        .with_unimportable_refused(args.refuse_unimportable);
    // Its errors name `input line N`: `main` words them as INPUT's (`flags.rs`).
    let requests = input.into_stream();
    let mut results = match run.run(requests).await {
        Ok(results) => results,
        Err(err) => {
            // The temporary results file goes with `out`; the manifest and lease are in order.
            drop(out);
            return ended_early(&bars, err);
        }
    };
    bars.finish();
    let summary = results.summary().clone();
    while let Some(row) = results.next().await {
        out.write(&row?)?;
    }
    let path = out.finish()?;
    print_summary(&summary, &path)?;
    Ok(exit_of(&summary))
}

/// How a run that gave no results ends: held by another process's lease or stopped by the
/// stop signal (said on stderr below the finished bars, its exit code), or any other error.
pub(crate) fn ended_early(bars: &Bars, err: vertex_batch::Error) -> anyhow::Result<Exit> {
    let exit = if err.is_run_held() {
        Exit::RunHeld
    } else if err.is_run_stopped() {
        Exit::Interrupted
    } else {
        return Err(err.into());
    };
    bars.finish();
    eprintln!("{err}");
    Ok(exit)
}

/// The exit code of a run that ended, files or tables: whether any row failed.
pub(crate) fn exit_of(summary: &RunSummary) -> Exit {
    if summary.failed == 0 {
        Exit::Success
    } else {
        Exit::RowsFailed
    }
}

/// Ctrl-C or SIGTERM, whichever comes first.
pub(crate) fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static>
{
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("could not listen for SIGTERM")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}

fn print_summary(summary: &RunSummary, path: &Path) -> std::io::Result<()> {
    let mut out = out::stdout();
    print_totals(&mut out, summary)?;
    if summary.staged_apart > 0 {
        let reasons: Vec<String> = summary
            .staged_apart_by_reason
            .iter()
            .map(|(reason, n)| format!("{n} × {reason}"))
            .collect();
        writeln!(
            out,
            "note: {} requests the service's import would refuse were staged in jobs of their \
             own ({})",
            summary.staged_apart,
            reasons.join(", ")
        )?;
    }
    print_notes(
        &mut out,
        &[
            (
                summary.mismatched_lines,
                "output lines echoed another request than the one staged for their row (not \
                 joined; the rows sent again or reported)",
            ),
            (
                summary.missing_rows,
                "rows missing from their job's output (sent again or reported)",
            ),
            (
                summary.repeated_lines,
                "output lines repeated a row (the first answer was kept)",
            ),
            (
                summary.unexpected_lines,
                "output lines of no row the job was sent (ignored)",
            ),
            (
                summary.unreadable_lines,
                "output lines were not JSON (ignored)",
            ),
            (
                summary.storage_retries,
                "Cloud Storage requests were sent again after a transient failure",
            ),
            (
                summary.service_unreachable,
                "calls to Vertex AI were repeated while it could not be reached",
            ),
            (
                summary.jobs_past_queue_deadline,
                "jobs were cancelled, still queued at the queue deadline (their rows sent again)",
            ),
            (
                summary.jobs_lost,
                "jobs the service no longer had were read from their outputs",
            ),
        ],
    )?;
    if summary.lease_taken_over {
        writeln!(
            out,
            "note: the run was taken over from a process that had stopped renewing its lease"
        )?;
    }
    if let Some(ended) = &summary.ended {
        writeln!(out, "note: the run was ended for good ({ended})")?;
    }
    writeln!(out, "results: {}", path.display())
}

/// The run of the command's settings that runs over files and over tables share (a file run
/// adds its own), its progress shown on `bars`.
pub(crate) fn batch_run(
    connected: &Connected,
    storage: Storage,
    args: &RunArgs,
    bars: &Bars,
) -> anyhow::Result<BatchRun> {
    let progress = bars.clone();
    let mut run = BatchRun::new(
        connected.client.clone(),
        storage,
        args.model.clone(),
        args.staging.clone(),
    )
    .with_generation_config(args.generation.clone().config()?)
    .with_max_requests_per_job(args.max_requests_per_job)
    .with_max_running_jobs(args.max_running_jobs)
    .with_retry_rounds(args.retry_rounds)
    .with_lease_wait(args.wait_for_lease)
    .with_progress(move |p| progress.show(p))
    .with_stop_signal(stop_signal()?);
    if let Some(deadline) = args.queue_deadline {
        run = run.with_queue_deadline(deadline);
    }
    if let Some(deadline) = args.run_deadline {
        run = run.with_run_deadline(deadline);
    }
    if args.end {
        run = run.end();
    }
    Ok(run)
}

/// The first lines of a run's summary, files or tables: rows answered and failed (by code),
/// rounds and jobs, tokens.
pub(crate) fn print_totals(out: &mut impl Write, summary: &RunSummary) -> std::io::Result<()> {
    let by_code: Vec<String> = summary
        .failed_by_code
        .iter()
        .map(|(code, n)| format!("{n} × {code}"))
        .collect();
    let failed = if by_code.is_empty() {
        String::new()
    } else {
        format!(" ({})", by_code.join(", "))
    };
    writeln!(
        out,
        "{} rows: {} answered, {} failed{failed}",
        summary.rows, summary.answered, summary.failed
    )?;
    writeln!(out, "rounds: {}, jobs: {}", summary.rounds, summary.jobs)?;
    writeln!(out, "{}", crate::print::tokens(&summary.usage))
}

/// A line `note: N what` for each count that is not 0.
pub(crate) fn print_notes(out: &mut impl Write, notes: &[(u64, &str)]) -> std::io::Result<()> {
    for (n, what) in notes {
        if *n > 0 {
            writeln!(out, "note: {n} {what}")?;
        }
    }
    Ok(())
}

/// Progress bars across the run's jobs: rows staged, then rows done; hidden without a terminal,
/// where each change of phase or round is a line instead.
#[derive(Clone)]
pub(crate) struct Bars {
    rows: ProgressBar,
    last: std::sync::Arc<std::sync::Mutex<Option<(RunPhase, u8)>>>,
}

impl Bars {
    pub(crate) fn new() -> Self {
        let multi = MultiProgress::new();
        let rows = multi.add(ProgressBar::new(0));
        rows.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix:<16} [{bar:30}] {pos}/{len} {msg} {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        rows.enable_steady_tick(Duration::from_millis(200));
        Bars {
            rows,
            last: Default::default(),
        }
    }

    pub(crate) fn show(&self, p: &RunProgress) {
        match p.phase {
            RunPhase::Staging => {
                self.rows.set_prefix(format!("round {} staging", p.round));
                self.rows.set_length(p.rows);
                self.rows.set_position(p.staged_rows);
                self.rows
                    .set_message(format!("requests, {} MB", p.staged_bytes / 1_000_000));
            }
            _ => {
                self.rows.set_prefix(format!("round {} jobs", p.round));
                self.rows.set_length(p.rows);
                self.rows.set_position(p.answered + p.failed);
                let mut jobs: Vec<String> = p
                    .jobs
                    .iter()
                    .map(|(state, n)| format!("{n} {}", state.short_name()))
                    .collect();
                if p.jobs_waiting > 0 {
                    jobs.push(format!("{} waiting", p.jobs_waiting));
                }
                // Each job not yet ended with its state and age (a job stuck in the queue shows
                // here), oldest first; at most four, then how many more.
                let mut live: Vec<_> = p.live_jobs.iter().collect();
                live.sort_by_key(|job| std::cmp::Reverse(job.age));
                for job in live.iter().take(4) {
                    jobs.push(format!(
                        "s{} {} {}",
                        job.shard,
                        job.state.short_name(),
                        crate::print::age(job.age)
                    ));
                }
                if live.len() > 4 {
                    jobs.push(format!("{} more", live.len() - 4));
                }
                self.rows.set_message(format!(
                    "rows; {} answered, {} failed; jobs: {}",
                    p.answered,
                    p.failed,
                    jobs.join(", ")
                ));
            }
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if self.rows.is_hidden() && *last != Some((p.phase, p.round)) {
            eprintln!(
                "round {}: {}",
                p.round,
                match p.phase {
                    RunPhase::Staging => "staging",
                    RunPhase::Running => "running jobs",
                    _ => "done",
                }
            );
        }
        *last = Some((p.phase, p.round));
    }

    pub(crate) fn finish(&self) {
        self.rows.finish_and_clear();
    }
}

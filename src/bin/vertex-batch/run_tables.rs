//! `run bq://PROJECT.DATASET.INPUT --key-column K --out bq://PROJECT.DATASET.RESULTS`: a run
//! over tables (the library's `BatchRun::run_tables`), where every step on rows is SQL in
//! BigQuery and no row passes through this process. The manifest and the lease are in
//! `--staging` as for a file run.

use std::io::Write;

use vertex_batch::bigquery::{BigQuery, TableUri};
use vertex_batch::run::{RunSummary, Tables};

use crate::cloud_storage::storage_for;
use crate::connect::{Connected, Globals};
use crate::exit::Exit;
use crate::out;
use crate::run::{Bars, RunArgs, batch_run, ended_early, exit_of, print_notes, print_totals};

/// Whether INPUT names a table rather than a file.
pub fn is_table(input: &std::path::Path) -> bool {
    input.to_str().is_some_and(|text| text.starts_with("bq://"))
}

pub async fn run(globals: &Globals, args: RunArgs) -> anyhow::Result<Exit> {
    // Everything local is checked before anything is sent.
    let text = args.input.to_str().unwrap_or_default();
    let input: TableUri = text
        .parse()
        .map_err(|err| usage(format!("INPUT {text}: {}", reason(err))))?;
    let out = args.out.to_str().unwrap_or_default();
    if !out.starts_with("bq://") {
        return Err(usage(format!(
            "--out {}: a run over a table writes a table: give bq://PROJECT.DATASET.RESULTS",
            args.out.display()
        )));
    }
    let results: TableUri = out
        .parse()
        .map_err(|err| usage(format!("--out {out}: {}", reason(err))))?;
    let Some(key_column) = args.key_column.clone() else {
        return Err(usage(
            "--key-column: a run over a table needs the input's column whose values name its \
             rows (unique, never NULL), to join each answer to its row",
        ));
    };
    if args.text {
        return Err(usage(
            "--text: INPUT is a table, whose `request` column holds the requests",
        ));
    }
    if args.refuse_unimportable {
        return Err(usage(
            "--refuse-unimportable: a run over a table stages no lines; the service's import \
             reads the table as it is",
        ));
    }
    if args.max_bytes_per_file != vertex_batch::run::DEFAULT_MAX_BYTES_PER_FILE {
        return Err(usage(
            "--max-bytes-per-file: a run over a table stages no files",
        ));
    }
    if input == results {
        return Err(usage(format!(
            "--out {out}: the results table is INPUT; name a table of its own"
        )));
    }
    let connected = globals.connect().await?;
    let storage = storage_for(globals, &connected, &args.storage)?;
    let bigquery = bigquery_for(&connected)?;
    let bars = Bars::new();
    let run = batch_run(&connected, storage, &args, &bars)?;
    let summary = match run
        .run_tables(bigquery, Tables::new(input, key_column, results.clone()))
        .await
    {
        Ok(summary) => summary,
        Err(err) => return ended_early(&bars, err),
    };
    bars.finish();
    print_summary(&summary, &results)?;
    Ok(exit_of(&summary))
}

/// The BigQuery client: bqemulator's when `BIGQUERY_EMULATOR_HOST` is set (no token sent, as
/// Google's clients do), else BigQuery's with the Vertex AI client's token.
fn bigquery_for(connected: &Connected) -> anyhow::Result<BigQuery> {
    let emulator = std::env::var_os(vertex_batch::bigquery::EMULATOR_HOST_ENV)
        .is_some_and(|host| !host.is_empty());
    let builder = if emulator {
        BigQuery::from_env()
    } else {
        BigQuery::builder().with_tokens_of(connected.client.channel())
    };
    Ok(builder.build()?)
}

/// Bad arguments, exit 2 as clap's own.
fn usage(message: impl Into<String>) -> anyhow::Error {
    crate::exit::Usage(message.into()).into()
}

fn reason(err: vertex_batch::Error) -> String {
    match err {
        vertex_batch::Error::InvalidInput { reason, .. } => reason,
        other => other.to_string(),
    }
}

fn print_summary(summary: &RunSummary, results: &TableUri) -> std::io::Result<()> {
    let mut out = out::stdout();
    print_totals(&mut out, summary)?;
    print_notes(
        &mut out,
        &[
            (
                summary.missing_rows,
                "rows missing from their job's output table (sent again or reported)",
            ),
            (
                summary.repeated_lines,
                "output rows repeated a row (one answer was kept)",
            ),
            (
                summary.unexpected_lines,
                "output rows of no row the job was sent (ignored)",
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
                "jobs the service no longer had were read from their output tables",
            ),
        ],
    )?;
    if let Some(ended) = &summary.ended {
        writeln!(out, "note: the run was ended for good ({ended})")?;
    }
    writeln!(out, "results: {results}")
}

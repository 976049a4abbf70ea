//! `results`: what a job's predictions.jsonl says — counts and failed rows grouped by status, or
//! every answer as JSONL or CSV. Reads local files (a downloaded output directory, or the
//! emulator's `--gcs-root` folder), a `gs://` output directory, a BigQuery output table
//! (`bq://`, read as a stream through `BIGQUERY_EMULATOR_HOST` or with the Vertex AI
//! client's token), or a job's output found from its name.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use futures_util::TryStreamExt;
use vertex_batch::OutputLocation;
use vertex_batch::batch_file::{Prediction, PredictionReader, Summary, is_predictions_file};
use vertex_batch::bigquery::{BigQuery, TableUri};
use vertex_batch::storage::{ObjectUri, Storage};

use crate::cloud_storage::storage_for;
use crate::connect::Globals;

use crate::exit::Exit;
use crate::out;

#[derive(Args)]
#[command(after_help = "\
Examples:
  # counts, token totals and the failed rows of a downloaded output directory:
  vertex-batch results ./prediction-model-2025-01-01T00:00:00.000000Z
  # the same, straight from Cloud Storage, from a BigQuery output table, or from the job:
  vertex-batch results gs://my-bucket/out/prediction-model-2025-01-01T00:00:00.000000Z
  vertex-batch --project my-project results bq://my-project.my_dataset.predictions
  vertex-batch --project my-project results 1234567890
  # every row's prompt and answer (or error) as CSV:
  vertex-batch results predictions.jsonl --answers csv > answers.csv

In CSV, a cell that starts with =, +, -, @, a tab or a carriage return gets a leading ' so
that a spreadsheet shows it as text rather than run it as a formula, as common CSV tools do
(JSONL keeps every text as it is).")]
pub struct ResultsArgs {
    /// A predictions.jsonl file or a directory of predictions*.jsonl files; a gs:// output
    /// directory; a BigQuery output table bq://PROJECT.DATASET.TABLE (BIGQUERY_EMULATOR_HOST
    /// is honoured); or a job (its id or full name), whose output directory or table is read.
    /// A directory, local or gs://, means the predictions*.jsonl files directly in it, not in
    /// folders below.
    #[arg(value_name = "PATH|gs://DIR|bq://TABLE|JOB")]
    path: PathBuf,
    #[command(flatten)]
    storage: crate::cloud_storage::StorageArgs,
    /// Print every row (line, prompt, answer, error) in this format instead of a summary
    /// (CSV cells that a spreadsheet would run as formulas start with `'`: see below).
    #[arg(long, value_enum)]
    answers: Option<AnswerFormat>,
}

#[derive(Clone, Copy, ValueEnum)]
enum AnswerFormat {
    Jsonl,
    Csv,
}

/// Whether `results` reads `path` as a local file or directory rather than through the
/// service: anything but a `gs://` URI or, when no such file exists, a job (digits, or a name
/// starting with `projects/`). So a mistyped file name is a missing file, not a job.
pub fn reads_local(path: &Path) -> bool {
    let text = path.to_string_lossy();
    if text.starts_with("gs://") || text.starts_with("bq://") {
        return false;
    }
    let job = text.starts_with("projects/")
        || (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()));
    !job || path.exists()
}

pub async fn run(globals: &Globals, args: ResultsArgs) -> anyhow::Result<Exit> {
    let text = args.path.to_string_lossy().into_owned();
    if !reads_local(&args.path)
        && let Some(table) = output_table(globals, &text).await?
    {
        read_table(globals, &table, args.answers).await?;
        return Ok(Exit::Success);
    }
    let downloaded = if reads_local(&args.path) {
        None
    } else {
        Some(download(globals, &text, &args.storage).await?)
    };
    let path = downloaded
        .as_ref()
        .map_or(args.path.as_path(), |d| d.dir.path());
    let open = || {
        if path.is_dir() {
            PredictionReader::open_dir(path)
        } else {
            PredictionReader::open(path)
        }
    };
    match args.answers {
        None => {
            let mut summary = Summary::from_reader(open()?)?;
            if let Some(downloaded) = &downloaded {
                for row in &mut summary.failed_rows {
                    row.path = row.path.as_ref().map(|p| downloaded.origin(p));
                }
            }
            summarise(summary)?
        }
        Some(format) => answers(open()?, format)?,
    }
    Ok(Exit::Success)
}

/// Output files copied from Cloud Storage into a private temporary folder (made exclusively
/// with mode 0700 under a random name, never one that was there before; removed on drop), and
/// where each came from.
struct Downloaded {
    dir: tempfile::TempDir,
    origins: HashMap<PathBuf, String>,
}

impl Downloaded {
    /// The gs:// URI a local copy came from, as a path for messages.
    fn origin(&self, local: &Path) -> PathBuf {
        self.origins
            .get(local)
            .map_or_else(|| local.to_path_buf(), PathBuf::from)
    }
}

/// Copies the predictions*.jsonl files of a gs:// directory, or of a job's output directory,
/// into a local folder, streamed.
async fn download(
    globals: &Globals,
    source: &str,
    storage_args: &crate::cloud_storage::StorageArgs,
) -> anyhow::Result<Downloaded> {
    let connected = globals.connect().await?;
    let dir = if source.starts_with("gs://") {
        source.to_owned()
    } else {
        let job = connected.client.get(source).await.with_context(|| {
            format!("{source} is no local file or directory, so it was read as a job")
        })?;
        match job.output_location() {
            Some(OutputLocation::Gcs(dir)) => dir,
            Some(other) => anyhow::bail!(
                "{}: its output is in BigQuery ({other}); read it there",
                job.name
            ),
            None => anyhow::bail!(
                "{} has no output directory yet (it is {}); wait for it to end",
                job.name,
                job.state().as_str_name()
            ),
        }
    };
    let prefix: ObjectUri = format!("{}/", dir.trim_end_matches('/')).parse()?;
    let storage: Storage = storage_for(globals, &connected, storage_args)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix("vertex-batch-results-");
    // tempfile leaves a folder's mode to the umask unless told.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let local = builder
        .tempdir()
        .context("could not make a temporary folder for the downloads")?;
    let mut downloaded = Downloaded {
        dir: local,
        origins: HashMap::new(),
    };
    // A folder is the predictions*.jsonl files directly in it, as a local folder is read:
    // those in folders below (other jobs, other rounds) are counted, not read.
    let listed: Vec<ObjectUri> = storage
        .list(&prefix)
        .try_filter_map(|object| async move {
            Ok(is_predictions_file(object.uri.name()).then_some(object.uri))
        })
        .try_collect()
        .await?;
    let (files, below): (Vec<ObjectUri>, Vec<ObjectUri>) = listed.into_iter().partition(|uri| {
        uri.name()
            .strip_prefix(prefix.name())
            .is_some_and(|rest| !rest.contains('/'))
    });
    for (i, uri) in files.iter().enumerate() {
        let path = downloaded
            .dir
            .path()
            .join(format!("predictions-{i:05}.jsonl"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("could not write {}", path.display()))?;
        let mut stream = storage.download(uri, ..).await?;
        while let Some(bytes) = stream.try_next().await? {
            file.write_all(&bytes)
                .with_context(|| format!("could not write {}", path.display()))?;
        }
        downloaded.origins.insert(path, uri.to_string());
    }
    if files.is_empty() {
        let below = match below.first() {
            Some(first) => format!(
                " ({} in folders below it, like {first}: give the folder that holds them)",
                below.len()
            ),
            None => String::new(),
        };
        anyhow::bail!(
            "{prefix}: no predictions*.jsonl file directly in it{below}; give the \
             prediction-model-... folder a job wrote, or the job itself"
        );
    }
    Ok(downloaded)
}

fn summarise(summary: Summary) -> std::io::Result<()> {
    let mut out = out::stdout();
    writeln!(
        out,
        "{} rows: {} succeeded, {} failed",
        summary.total, summary.succeeded, summary.failed
    )?;
    writeln!(out, "{}", crate::print::tokens(&summary.usage))?;
    // Failed rows grouped by status, most frequent first, each with its first row.
    let mut groups: Vec<(&str, u64, &vertex_batch::batch_file::FailedRow)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for row in &summary.failed_rows {
        match index.get(row.status.as_str()) {
            Some(&i) => groups[i].1 += 1,
            None => {
                index.insert(&row.status, groups.len());
                groups.push((&row.status, 1, row));
            }
        }
    }
    groups.sort_by_key(|group| std::cmp::Reverse(group.1));
    for (status, count, first) in groups {
        let file = first
            .path
            .as_ref()
            .map(|p| format!("{}:", p.display()))
            .unwrap_or_default();
        // A table's rows have no lines: the number is the row's place in the read order.
        let unit = if file.starts_with("bq://") {
            "row"
        } else {
            "line"
        };
        writeln!(
            out,
            "{count} failed, first {file}{unit} {}: {status}",
            first.line
        )?;
    }
    Ok(())
}

fn answers<R: std::io::BufRead>(
    mut reader: PredictionReader<R>,
    format: AnswerFormat,
) -> anyhow::Result<()> {
    let mut sink = Sink::new(format)?;
    while let Some(row) = reader.next() {
        let row = row?;
        sink.row(reader.line_number(), &row)?;
    }
    sink.finish()
}

/// The BigQuery table `source` names: itself when it is a `bq://` URI; a job's output table
/// when it is a job that wrote one; `None` otherwise (a `gs://` directory, a job that wrote
/// files).
async fn output_table(globals: &Globals, source: &str) -> anyhow::Result<Option<TableUri>> {
    if source.starts_with("bq://") {
        return Ok(Some(source.parse()?));
    }
    if source.starts_with("gs://") {
        return Ok(None);
    }
    let connected = globals.connect().await?;
    let job = connected.client.get(source).await.with_context(|| {
        format!("{source} is no local file or directory, so it was read as a job")
    })?;
    match job.output_location() {
        Some(OutputLocation::BigQueryTable(table)) => Ok(Some(table.parse()?)),
        Some(OutputLocation::BigQueryDataset(dataset)) => anyhow::bail!(
            "{}: its output is in the BigQuery dataset {dataset}, and the job does not say \
             which table; give the table: vertex-batch results bq://PROJECT.DATASET.TABLE",
            job.name
        ),
        _ => Ok(None),
    }
}

/// `results` of a BigQuery output table: the summary, or every row with `--answers`, read as
/// a stream (one page in memory).
async fn read_table(
    globals: &Globals,
    table: &TableUri,
    format: Option<AnswerFormat>,
) -> anyhow::Result<()> {
    let bigquery = bigquery_for(globals).await?;
    match format {
        None => summarise(bigquery.summary(table).await?)?,
        Some(format) => {
            let mut sink = Sink::new(format)?;
            let mut rows = bigquery.predictions(table);
            let mut line = 0;
            while let Some(row) = rows.try_next().await? {
                line += 1;
                sink.row(line, &row)?;
            }
            sink.finish()?;
        }
    }
    Ok(())
}

/// The BigQuery client of `results`: `BIGQUERY_EMULATOR_HOST`'s emulator (no token), else
/// BigQuery with the Vertex AI client's token.
async fn bigquery_for(globals: &Globals) -> anyhow::Result<BigQuery> {
    let emulator = std::env::var(vertex_batch::bigquery::EMULATOR_HOST_ENV)
        .is_ok_and(|host| !host.trim().is_empty());
    if emulator {
        return Ok(BigQuery::from_env().build()?);
    }
    let connected = globals.connect().await?;
    Ok(BigQuery::builder()
        .with_tokens_of(connected.client.channel())
        .build()?)
}

/// A CSV cell that a spreadsheet shows as text: one starting with `=`, `+`, `-`, `@`, a tab
/// or a carriage return would be run as a formula (CSV injection), so it gets a leading `'`,
/// which spreadsheets hide, as OWASP advises and common CSV tools do.
fn as_text(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// Where `--answers` rows go.
enum Sink {
    // Boxed: the CSV writer is several times the JSONL one.
    Csv(Box<csv::Writer<out::Stdout>>),
    Jsonl(BufWriter<out::Stdout>),
}

impl Sink {
    /// A sink in `format`; CSV starts with its header.
    fn new(format: AnswerFormat) -> anyhow::Result<Sink> {
        Ok(match format {
            AnswerFormat::Csv => {
                let mut csv = csv::Writer::from_writer(out::stdout());
                csv.write_record(["line", "prompt", "answer", "error"])?;
                Sink::Csv(Box::new(csv))
            }
            AnswerFormat::Jsonl => Sink::Jsonl(BufWriter::new(out::stdout())),
        })
    }

    /// One row: its line (a table's row number in read order), prompt, answer and error.
    fn row(&mut self, line: u64, row: &Prediction) -> anyhow::Result<()> {
        let (prompt, answer, error) = (
            prompt(row),
            row.text().unwrap_or_default(),
            row.error().unwrap_or_default(),
        );
        match self {
            Sink::Csv(csv) => csv.write_record([
                line.to_string().as_str(),
                &as_text(&prompt),
                &as_text(&answer),
                &as_text(error),
            ])?,
            Sink::Jsonl(jsonl) => writeln!(
                jsonl,
                "{}",
                serde_json::json!({"line": line, "prompt": prompt, "answer": answer, "error": error})
            )?,
        }
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        match self {
            Sink::Csv(csv) => csv.flush()?,
            Sink::Jsonl(jsonl) => jsonl.flush()?,
        }
        Ok(())
    }
}

/// The first text of the echoed request, or the raw line a malformed row echoes.
fn prompt(row: &Prediction) -> String {
    row.request
        .pointer("/contents/0/parts/0/text")
        .or(Some(&row.request))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

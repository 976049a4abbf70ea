//! `results`: what a job's predictions.jsonl says — counts and failed rows, or every answer as
//! JSONL or CSV. Reads local files (a downloaded output directory, or the emulator's `--gcs-root` folder).

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use vertex_batch::batch_file::{Prediction, PredictionReader, Summary};

use crate::exit::Exit;
use crate::out;

#[derive(Args)]
#[command(after_help = "\
Examples:
  # counts, token totals and the failed rows of a downloaded output directory:
  vertex-batch results ./prediction-model-2025-01-01T00:00:00.000000Z
  # every row's prompt and answer (or error) as CSV:
  vertex-batch results predictions.jsonl --answers csv > answers.csv

In CSV, a cell that starts with =, +, -, @, a tab or a carriage return gets a leading ' so
that a spreadsheet shows it as text rather than run it as a formula, as common CSV tools do
(JSONL keeps every text as it is).")]
pub struct ResultsArgs {
    /// A predictions.jsonl file, or a directory of predictions*.jsonl files.
    path: PathBuf,
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

pub fn run(args: ResultsArgs) -> anyhow::Result<Exit> {
    let open = || {
        if args.path.is_dir() {
            PredictionReader::open_dir(&args.path)
        } else {
            PredictionReader::open(&args.path)
        }
    };
    match args.answers {
        None => summarise(Summary::from_reader(open()?)?)?,
        Some(format) => answers(open()?, format)?,
    }
    Ok(Exit::Success)
}

fn summarise(summary: Summary) -> std::io::Result<()> {
    let mut out = out::stdout();
    writeln!(
        out,
        "{} rows: {} succeeded, {} failed",
        summary.total, summary.succeeded, summary.failed
    )?;
    writeln!(
        out,
        "tokens: {} prompt, {} candidates, {} total",
        summary.prompt_tokens, summary.candidates_tokens, summary.total_tokens
    )?;
    for row in &summary.failed_rows {
        let file = row
            .path
            .as_ref()
            .map(|p| format!("{}:", p.display()))
            .unwrap_or_default();
        writeln!(out, "failed {file}line {}: {}", row.line, row.status)?;
    }
    Ok(())
}

fn answers<R: std::io::BufRead>(
    mut reader: PredictionReader<R>,
    format: AnswerFormat,
) -> anyhow::Result<()> {
    let mut sink = match format {
        AnswerFormat::Csv => {
            let mut csv = csv::Writer::from_writer(out::stdout());
            csv.write_record(["line", "prompt", "answer", "error"])?;
            Sink::Csv(Box::new(csv))
        }
        AnswerFormat::Jsonl => Sink::Jsonl(BufWriter::new(out::stdout())),
    };
    while let Some(row) = reader.next() {
        let row = row?;
        let line = reader.line_number();
        let (prompt, answer, error) = (
            prompt(&row),
            row.text().unwrap_or_default(),
            row.error().unwrap_or_default(),
        );
        match &mut sink {
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
    }
    match &mut sink {
        Sink::Csv(csv) => csv.flush()?,
        Sink::Jsonl(jsonl) => jsonl.flush()?,
    }
    Ok(())
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

/// The first text of the echoed request, or the raw line a malformed row echoes.
fn prompt(row: &Prediction) -> String {
    row.request
        .pointer("/contents/0/parts/0/text")
        .or(Some(&row.request))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

//! How a job is printed: a readable summary, or proto3 JSON (the REST API's shape).

use std::io::Write;

use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::v1::batch_prediction_job::input_config::Source;
use vertex_batch::v1::batch_prediction_job::output_config::Destination;

use crate::out;

/// `--json`, on every command that prints a job.
#[derive(clap::Args)]
pub struct Format {
    /// Print the job as proto3 JSON, the shape the REST API returns (camelCase, enums as
    /// names, RFC 3339 times).
    #[arg(long)]
    pub json: bool,
}

impl Format {
    /// Prints one job.
    pub fn job(&self, job: &BatchPredictionJob) -> anyhow::Result<()> {
        if self.json {
            writeln!(out::stdout(), "{:#}", vertex_batch::json::job_to_json(job)?)?;
        } else {
            write!(out::stdout(), "{}", summary(job))?;
        }
        Ok(())
    }
}

/// The fields people look at, one per line.
pub fn summary(job: &BatchPredictionJob) -> String {
    let mut lines = vec![
        ("name", job.name.clone()),
        ("display name", job.display_name.clone()),
        ("model", job.model.clone()),
        ("state", job.state().short_name().to_owned()),
    ];
    if job.completion_stats.is_some() {
        lines.push(("progress", job.progress().to_string()));
    }
    if let Some(input) = job.input_config.as_ref().and_then(|c| c.source.as_ref()) {
        let uris = match input {
            Source::GcsSource(gcs) => gcs.uris.join(", "),
            Source::BigquerySource(bq) => bq.input_uri.clone(),
            _ => String::new(),
        };
        lines.push(("input", uris));
    }
    if let Some(output) = job
        .output_config
        .as_ref()
        .and_then(|c| c.destination.as_ref())
    {
        let uri = match output {
            Destination::GcsDestination(gcs) => gcs.output_uri_prefix.clone(),
            Destination::BigqueryDestination(bq) => bq.output_uri.clone(),
            _ => String::new(),
        };
        lines.push(("output", uri));
    }
    if let Some(location) = job.output_location() {
        lines.push(("results", location.to_string()));
    }
    for (label, time) in [
        ("created", &job.create_time),
        ("started", &job.start_time),
        ("ended", &job.end_time),
    ] {
        if let Some(time) = time {
            lines.push((label, time.to_string()));
        }
    }
    if let Some(error) = job.job_error() {
        lines.push(("error", error.message.clone()));
    }
    lines
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(label, value)| format!("{:<13} {value}\n", format!("{label}:")))
        .collect()
}

/// An age as a person reads it: `45s`, `12m`, `3h05m`, `2d04h`.
pub fn age(age: std::time::Duration) -> String {
    let secs = age.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// Token counts by kind, as `run` and `results` print them.
pub fn tokens(usage: &vertex_batch::batch_file::UsageMetadata) -> String {
    format!(
        "tokens: {} prompt, {} candidates, {} thoughts, {} cached, {} total",
        usage.prompt_token_count,
        usage.candidates_token_count,
        usage.thoughts_token_count,
        usage.cached_content_token_count,
        usage.total_token_count
    )
}

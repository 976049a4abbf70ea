//! `list`: a table of jobs, newest first.

use std::io::Write;

use futures_util::{StreamExt, TryStreamExt};
use vertex_batch::JobFilter;
use vertex_batch::v1::{BatchPredictionJob, JobState};

use crate::connect::Globals;
use crate::exit::Exit;
use crate::out;
use crate::print::Format;

#[derive(clap::Args)]
#[command(after_help = r#"Examples:
  vertex-batch --project my-project list --state running
  vertex-batch --project my-project list --filter 'display_name="nightly"' --limit 5 --json"#)]
pub struct ListArgs {
    /// Only jobs in this state: pending, running, succeeded, failed, cancelled, ...
    /// (the library's parser: any case, JOB_STATE_ prefix optional).
    #[arg(long)]
    state: Option<JobState>,
    /// A filter in the service's syntax, e.g. 'display_name="nightly"' or 'labels.team="ml"'
    /// (a leading `-` negates: '-labels.team:*').
    #[arg(long, allow_hyphen_values = true)]
    filter: Option<String>,
    /// At most this many jobs.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    limit: Option<usize>,
    #[command(flatten)]
    format: Format,
}

pub async fn run(globals: &Globals, args: ListArgs) -> anyhow::Result<Exit> {
    let mut filter = match args.filter {
        Some(filter) => JobFilter::raw(filter),
        None => JobFilter::new(),
    };
    if let Some(state) = args.state {
        filter = filter.with_state(state);
    }
    let connected = globals.connect().await?;
    let jobs: Vec<BatchPredictionJob> = connected
        .client
        .list(filter)
        .take(args.limit.unwrap_or(usize::MAX))
        .try_collect()
        .await?;
    if args.format.json {
        let jobs = jobs
            .iter()
            .map(vertex_batch::json::job_to_json)
            .collect::<Result<Vec<_>, _>>()?;
        // The REST response's shape.
        writeln!(
            out::stdout(),
            "{:#}",
            serde_json::json!({ "batchPredictionJobs": jobs })
        )?;
    } else {
        write!(out::stdout(), "{}", table(&jobs))?;
    }
    Ok(Exit::Success)
}

/// One row per job: id, state, rows done, creation time, display name.
fn table(jobs: &[BatchPredictionJob]) -> String {
    let mut out = format!(
        "{:<20} {:<20} {:>9}  {:<20} DISPLAY NAME\n",
        "JOB ID", "STATE", "DONE", "CREATED"
    );
    for job in jobs {
        let id = job
            .job_name()
            .map(|name| name.job_id().to_owned())
            .unwrap_or_else(|_| job.name.clone());
        let progress = job.progress();
        let done = match progress.total() {
            Some(total) => format!("{}/{total}", progress.processed()),
            None => "-".to_owned(),
        };
        // RFC 3339 to the second.
        let created = job
            .create_time
            .as_ref()
            .map(|t| {
                let mut t = *t;
                t.nanos = 0;
                t.to_string()
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "{id:<20} {:<20} {done:>9}  {created:<20} {}\n",
            job.state().short_name(),
            job.display_name
        ));
    }
    out
}

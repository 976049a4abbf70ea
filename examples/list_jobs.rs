//! Lists the batch prediction jobs of a project and location, newest first, optionally only
//! those in one state. Pages are fetched as the list is read.
//!
//! ```text
//! cargo run --example list_jobs --features emulator -- --emulator
//! cargo run --example list_jobs --features emulator -- --project my-project --state running
//! ```

mod common;

use clap::Parser;
use futures_util::{StreamExt, TryStreamExt};
use vertex_batch::JobFilter;
use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::v1::JobState;

/// List batch prediction jobs.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: common::Target,
    /// Only jobs in this state, e.g. `running`, `succeeded` (`JobState`'s own parser).
    #[arg(long)]
    state: Option<JobState>,
    /// At most this many jobs.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let session = args.target.start().await?;
    let client = session.client().await?;

    if session.emulator.is_some() {
        // A fresh emulator has no jobs: give it two to list.
        for name in ["nightly-eval", "weekly-report"] {
            client
                .create(
                    BatchPredictionJob::builder("gemini-2.0-flash-001")
                        .with_display_name(name)
                        .with_input(
                            "gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl",
                        )
                        .with_output("gs://my-bucket/batch-output"),
                )
                .await?;
        }
        println!("Submitted 2 jobs to the emulator.");
    }

    let mut filter = JobFilter::new();
    if let Some(state) = args.state {
        filter = filter.with_state(state);
    }
    let jobs: Vec<_> = client.list(filter).take(args.limit).try_collect().await?;
    println!(
        "{:<22} {:<20} {:<10} DISPLAY NAME",
        "JOB ID", "STATE", "DONE"
    );
    for job in &jobs {
        let id = job
            .job_name()
            .map(|n| n.job_id().to_owned())
            .unwrap_or_default();
        let progress = job.progress();
        let done = match progress.total() {
            Some(total) => format!("{}/{total}", progress.processed()),
            None => "-".to_owned(),
        };
        println!(
            "{id:<22} {:<20} {done:<10} {}",
            job.state().short_name(),
            job.display_name
        );
    }
    println!("{} job(s) in {}", jobs.len(), client.location());
    Ok(())
}

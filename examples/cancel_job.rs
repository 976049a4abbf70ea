//! Cancels a batch prediction job and waits until it has stopped. With `--emulator` and no job
//! given, it first submits one to cancel.
//!
//! ```text
//! cargo run --example cancel_job --features emulator -- --emulator
//! cargo run --example cancel_job --features emulator -- --project my-project JOB_ID
//! ```

mod common;

use clap::Parser;
use vertex_batch::{BatchJob, BatchPredictionJobExt, JobStateExt};

/// Cancel a batch prediction job.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: common::Target,
    /// The job: its id or full resource name.
    job: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let session = args.target.start().await?;
    let client = session.client().await?;

    let name = match (args.job, &session.emulator) {
        (Some(job), _) => client.job_name(&job)?.to_string(),
        (None, Some(_)) => {
            let job = client
                .create(
                    BatchJob::builder("gemini-2.0-flash-001")
                        .with_display_name("to-be-cancelled")
                        .with_input(
                            "gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl",
                        )
                        .with_output("gs://my-bucket/batch-output"),
                )
                .await?;
            println!("Submitted {} ({})", job.name, job.state().short_name());
            job.name
        }
        (None, None) => anyhow::bail!("pass the job to cancel: its id or full resource name"),
    };

    // Cancel only asks: the job goes through CANCELLING before it ends CANCELLED.
    client.cancel(&name).await?;
    println!("Cancel requested for {name}");
    let job = client.wait(&name).await?;
    println!(
        "Job ended {} ({})",
        job.state().short_name(),
        job.progress()
    );
    Ok(())
}

//! Deletes a batch prediction job that has ended. With `--emulator` and no job given, it first
//! submits one and waits for it to end (a job still running cannot be deleted: cancel it first).
//!
//! ```text
//! cargo run --example delete_job --features emulator -- --emulator
//! cargo run --example delete_job --features emulator -- --project my-project JOB_ID
//! ```

mod common;

use clap::Parser;
use vertex_batch::{BatchJob, JobStateExt};

/// Delete a batch prediction job.
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
                        .with_display_name("to-be-deleted")
                        .with_input(
                            "gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl",
                        )
                        .with_output("gs://my-bucket/batch-output"),
                )
                .await?;
            println!("Submitted {}", job.name);
            let job = client.wait(&job.name).await?;
            println!("Job ended {}", job.state().short_name());
            job.name
        }
        (None, None) => anyhow::bail!("pass the job to delete: its id or full resource name"),
    };

    // Returns once the service's delete operation is done.
    client.delete(&name).await?;
    println!("Deleted {name}");
    match client.get(&name).await {
        Err(e) if e.is_not_found() => println!("Get now answers NOT_FOUND"),
        Err(e) => return Err(e.into()),
        Ok(job) => anyhow::bail!("{} is still there ({})", job.name, job.state().short_name()),
    }
    Ok(())
}

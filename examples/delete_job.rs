//! Deletes a batch prediction job that has ended. With `--emulator` and no job given, it first
//! submits one and waits for it to end (a job still running cannot be deleted: cancel it first).
//!
//! ```text
//! cargo run --example delete_job --features emulator -- --emulator
//! cargo run --example delete_job --features emulator -- --project my-project JOB_ID
//! ```

mod common;

use clap::Parser;

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

    let submitted = args.job.is_none();
    let name = common::given_or_submitted(&client, &session, args.job, "to-be-deleted").await?;
    if submitted {
        // Only a job that has ended can be deleted: let the one just submitted finish.
        let job = client.wait(&name).await?;
        println!("Job ended {}", job.state().short_name());
    }

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

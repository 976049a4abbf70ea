//! Cancels a batch prediction job and waits until it has stopped. With `--emulator` and no job
//! given, it first submits one to cancel.
//!
//! ```text
//! cargo run --example cancel_job --features emulator -- --emulator
//! cargo run --example cancel_job --features emulator -- --project my-project JOB_ID
//! ```

mod common;

use clap::Parser;

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

    let name = common::given_or_submitted(&client, &session, args.job, "to-be-cancelled").await?;

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

//! `cancel` and `delete`.

use std::process::ExitCode;

use crate::connect::Globals;
use crate::print::Format;
use crate::wait::{self, WaitAfter};

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  vertex-batch --project my-project cancel 1234567890
  vertex-batch --project my-project cancel 1234567890 --wait   # until it is CANCELLED")]
pub struct CancelArgs {
    /// The job: its id or full resource name.
    job: String,
    #[command(flatten)]
    then: WaitAfter,
    #[command(flatten)]
    format: Format,
}

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  vertex-batch --project my-project delete 1234567890
  # a job still running cannot be deleted: cancel it first
  vertex-batch --project my-project cancel 1234567890 --wait; vertex-batch --project my-project delete 1234567890")]
pub struct DeleteArgs {
    /// The job: its id or full resource name.
    job: String,
}

pub async fn cancel(globals: &Globals, args: CancelArgs) -> anyhow::Result<ExitCode> {
    let connected = globals.connect().await?;
    let name = connected.client.job_name(&args.job)?.to_string();
    connected.client.cancel(&name).await?;
    if args.then.wait {
        return wait::follow(&connected.client, &name, &args.then.poll, &args.format).await;
    }
    if args.format.json {
        args.format.job(&connected.client.get(&name).await?)?;
    } else {
        println!("cancel requested for {name}; it stops when the job is CANCELLED");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn delete(globals: &Globals, args: DeleteArgs) -> anyhow::Result<ExitCode> {
    let connected = globals.connect().await?;
    let name = connected.client.job_name(&args.job)?.to_string();
    connected.client.delete(&name).await?;
    println!("deleted {name}");
    Ok(ExitCode::SUCCESS)
}

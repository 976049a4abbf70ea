//! `delete`: delete a job that has ended.

use std::io::Write;

use crate::connect::Globals;
use crate::exit::Exit;
use crate::out;

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

pub async fn run(globals: &Globals, args: DeleteArgs) -> anyhow::Result<Exit> {
    let connected = globals.connect().await?;
    let name = connected.client.job_name(&args.job)?.to_string();
    connected.client.delete(&name).await?;
    writeln!(out::stdout(), "deleted {name}")?;
    Ok(Exit::Success)
}

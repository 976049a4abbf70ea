//! `get`: one job.

use crate::connect::Globals;
use crate::exit::Exit;
use crate::print::Format;

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  vertex-batch --project my-project get 1234567890
  vertex-batch get projects/my-project/locations/us-central1/batchPredictionJobs/1234567890 --json")]
pub struct GetArgs {
    /// The job: its id or full resource name.
    job: String,
    #[command(flatten)]
    format: Format,
}

pub async fn run(globals: &Globals, args: GetArgs) -> anyhow::Result<Exit> {
    let connected = globals.connect().await?;
    let job = connected.client.get(&args.job).await?;
    args.format.job(&job)?;
    Ok(Exit::Success)
}

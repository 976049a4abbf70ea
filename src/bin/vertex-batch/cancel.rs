//! `cancel`: ask the service to cancel a job, and optionally wait until it is CANCELLED.

use std::io::Write;

use crate::connect::Globals;
use crate::exit::Exit;
use crate::out;
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

pub async fn run(globals: &Globals, args: CancelArgs) -> anyhow::Result<Exit> {
    let connected = globals.connect().await?;
    let name = connected.client.job_name(&args.job)?.to_string();
    connected.client.cancel(&name).await?;
    if args.then.wait {
        return wait::follow(&connected.client, &name, &args.then.poll, &args.format).await;
    }
    if args.format.json {
        args.format.job(&connected.client.get(&name).await?)?;
    } else {
        writeln!(
            out::stdout(),
            "cancel requested for {name}; it stops when the job is CANCELLED"
        )?;
    }
    Ok(Exit::Success)
}

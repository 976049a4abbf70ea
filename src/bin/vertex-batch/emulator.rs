//! `emulator`: the embedded JobService emulator as a long-running process, the library's
//! launcher (the `vertex-batch-emulator` binary runs the same one).

use vertex_batch::emulator::launcher::{self, EmulatorArgs};

use crate::connect::Globals;
use crate::exit::Exit;

pub async fn run(globals: &Globals, args: EmulatorArgs) -> anyhow::Result<Exit> {
    launcher::run(&args, &globals.location).await?;
    Ok(Exit::Success)
}

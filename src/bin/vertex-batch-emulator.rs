//! Runs the embedded Vertex AI JobService emulator on its own until Ctrl-C: the launcher of
//! `vertex-batch emulator` ([`vertex_batch::emulator::launcher`]), with the same flags, defaults
//! and banner, for those who build only feature `emulator`.
//!
//! `cargo run --features emulator --bin vertex-batch-emulator -- [--port 8080] [--tls] [--location us-central1]`
//!
//! It serves gRPC and REST (the service's HTTP/JSON API) on the same port.

use std::process::ExitCode;

use clap::Parser;
use vertex_batch::emulator::launcher::{self, EmulatorArgs};

/// An in-memory Vertex AI JobService (batch prediction) for offline development.
#[derive(Parser)]
#[command(name = "vertex-batch-emulator", version)]
struct Cli {
    // The same flag as `vertex-batch --location`, to the letter: its help comes first.
    /// The location: a region such as us-central1, `global`, or a multi-region `us` / `eu`.
    #[arg(long, env = "GOOGLE_CLOUD_LOCATION", default_value = "us-central1")]
    location: String,
    #[command(flatten)]
    emulator: EmulatorArgs,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match launcher::run(&cli.emulator, &cli.location).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

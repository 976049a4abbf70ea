//! Runs the embedded Vertex AI JobService emulator on its own, until killed.
//!
//! `cargo run --features emulator --bin vertex-batch-emulator -- --port 8080 [--tls] [--location us-central1]`

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use vertex_batch::emulator::Emulator;

/// An in-memory Vertex AI JobService (batch prediction) for offline development.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The gRPC port; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The interface to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Serve TLS with a certificate made at start for localhost and 127.0.0.1.
    #[arg(long)]
    tls: bool,
    /// With --tls, also write the CA certificate clients must trust to this file.
    #[arg(long, requires = "tls")]
    ca_file: Option<PathBuf>,
    /// The location this endpoint serves.
    #[arg(long, default_value = "us-central1")]
    location: String,
    /// Refuse calls without a bearer token issued by the emulator's token endpoint.
    #[arg(long)]
    require_auth: bool,
    /// With --require-auth, write a service-account key file whose token_uri is the emulator's
    /// token endpoint here (point GOOGLE_APPLICATION_CREDENTIALS at it).
    #[arg(long, requires = "require_auth")]
    key_file: Option<PathBuf>,
    /// Seconds a job stays pending.
    #[arg(long, default_value_t = 5)]
    queued_secs: u64,
    /// Seconds a job runs.
    #[arg(long, default_value_t = 30)]
    running_secs: u64,
    /// A local folder standing in for gs:// (gs://bucket/path is DIR/bucket/path): jobs then
    /// read their JSONL input and write predictions.jsonl there.
    #[arg(long, value_name = "DIR")]
    gcs_root: Option<PathBuf>,
    /// Share of rows (0 to 1) that fail with a transient 429 status.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = parse_rate)]
    row_failure_rate: f64,
    /// Share of rows (0 to 1) that fail with a permanent 400 status.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = parse_rate)]
    row_permanent_failure_rate: f64,
    /// The first job that reads gs:// input ends EXPIRED after exporting N rows.
    #[arg(long, value_name = "N")]
    expire_after_rows: Option<u64>,
    /// Seed of the row fault draws (default: random).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = Emulator::builder();
    if let Some(root) = &args.gcs_root {
        builder = builder.gcs_root(root);
    }
    if let Some(rows) = args.expire_after_rows {
        builder = builder.with_expire_after_rows(rows);
    }
    if let Some(seed) = args.seed {
        builder = builder.with_seed(seed);
    }
    builder = builder
        .with_row_failure_rate(args.row_failure_rate)
        .with_row_permanent_failure_rate(args.row_permanent_failure_rate);
    let started = builder
        .addr(SocketAddr::new(args.host, args.port))
        .location(&args.location)
        .tls(args.tls)
        .require_auth(args.require_auth)
        .durations(
            Duration::from_secs(args.queued_secs),
            Duration::from_secs(args.running_secs),
        )
        .start()
        .await;
    let emu = match started {
        Ok(emu) => emu,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    use std::fmt::Write as _;
    let mut banner = format!("vertex-batch emulator listening on {}\n", emu.uri());
    let _ = writeln!(banner, "  location:       {}", emu.location());
    let _ = writeln!(banner, "  token endpoint: {}", emu.token_uri());
    let _ = writeln!(banner, "STORAGE_EMULATOR_HOST={}", emu.storage_uri());
    if let Some(root) = emu.gcs_root() {
        let _ = writeln!(banner, "  gs:// folder:   {}", root.display());
    }
    if let Some(ca) = emu.ca_pem() {
        match &args.ca_file {
            Some(path) => {
                if let Err(error) = std::fs::write(path, &ca) {
                    eprintln!(
                        "error: could not write the CA certificate to {}: {error}",
                        path.display()
                    );
                    return ExitCode::FAILURE;
                }
                let _ = writeln!(banner, "  CA certificate: {}", path.display());
            }
            None => {
                let _ = writeln!(
                    banner,
                    "  CA certificate (trust it in clients, or use --ca-file):\n{ca}"
                );
            }
        }
    }
    if let Some(path) = &args.key_file {
        if let Err(error) = std::fs::write(path, emu.service_account_key().json) {
            eprintln!(
                "error: could not write a service-account key to {}: {error}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
        let _ = writeln!(banner, "  service-account key file: {}", path.display());
    }
    // One write, and a reader that stops reading (a script taking the first line) is no
    // reason to stop serving: a closed stdout is ignored.
    {
        use std::io::Write as _;
        let _ = std::io::stdout().write_all(banner.as_bytes());
        let _ = std::io::stdout().flush();
    }
    // Serve until the process is killed (Ctrl-C).
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}

/// A share of rows: a number from 0 to 1.
fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a share of rows: expected a number from 0 to 1, like 0.05"
        )),
    }
}

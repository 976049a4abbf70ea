//! `emulator`: the embedded JobService emulator as a long-running process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use vertex_batch::emulator::Emulator;

use crate::connect::Globals;

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  vertex-batch emulator --port 8443 --tls
  # then, in another terminal, paste the flags it prints:
  vertex-batch --endpoint https://127.0.0.1:8443 --ca-cert DIR/ca.pem --credentials DIR/key.json \\
      --project my-project list")]
pub struct EmulatorArgs {
    /// The port to listen on (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Serve TLS with a certificate made at start (its CA is written to DIR/ca.pem).
    #[arg(long)]
    tls: bool,
    /// Where to write the service-account key (and the CA): default a fresh temporary folder.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
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

pub async fn run(globals: &Globals, args: EmulatorArgs) -> anyhow::Result<ExitCode> {
    let mut builder = Emulator::builder()
        .with_row_failure_rate(args.row_failure_rate)
        .with_row_permanent_failure_rate(args.row_permanent_failure_rate);
    if let Some(rows) = args.expire_after_rows {
        builder = builder.with_expire_after_rows(rows);
    }
    if let Some(seed) = args.seed {
        builder = builder.with_seed(seed);
    }
    let emulator = builder
        .location(&globals.location)
        .addr(SocketAddr::from(([127, 0, 0, 1], args.port)))
        .tls(args.tls)
        .require_auth(true)
        .start()
        .await?;
    let temporary = args.dir.is_none();
    let dir = args.dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("vertex-batch-emulator-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("--dir {}", dir.display()))?;
    let key_path = dir.join("key.json");
    write_private(&key_path, &emulator.service_account_key().json)?;
    let mut flags = format!("--endpoint {}", emulator.uri());
    if let Some(ca) = emulator.ca_pem() {
        let ca_path = dir.join("ca.pem");
        write_private(&ca_path, &ca)?;
        flags.push_str(&format!(" --ca-cert {}", ca_path.display()));
    }
    flags.push_str(&format!(" --credentials {}", key_path.display()));
    println!(
        "emulator serving {} for location {}",
        emulator.uri(),
        emulator.location()
    );
    println!(
        "use it with: vertex-batch {flags} --location {} --project my-project ...",
        emulator.location()
    );
    println!("STORAGE_EMULATOR_HOST={}", emulator.storage_uri());
    println!("press Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .context("could not listen for Ctrl-C")?;
    emulator.shutdown().await;
    if temporary {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("could not remove {}", dir.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a file only its owner can read: the key is a throwaway, but a private key all the same.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("could not write {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(())
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

//! The two binaries as a user runs them, for the tests that go through them (`cli_run`,
//! `results`): the emulator as a process with bqemulator as its BigQuery, and `vertex-batch`
//! pointed at it.

use std::process::{Command, Output};

use super::support::process::Launched;
use super::{LOCATION, PROJECT, shared};

/// The emulator binary with the shared bqemulator as its BigQuery (`--bigquery-endpoint`),
/// TLS and tokens required, jobs ending at once; `extra` flags after (faults, seeds).
pub(crate) fn emulator_binary(extra: &[&str]) -> Launched {
    let host = shared().host();
    let mut args = vec![
        "--port",
        "0",
        "--tls",
        "--require-auth",
        "--queued-secs",
        "0",
        "--running-secs",
        "0",
        "--bigquery-endpoint",
        &host,
    ];
    args.extend_from_slice(extra);
    Launched::binary(&args)
}

/// `vertex-batch` pointed at `emulator` as at Vertex AI and Cloud Storage (with the Vertex AI
/// token, as `--require-auth` wants), and at `bigquery_host` as BigQuery when given; nothing
/// of the environment it runs in.
pub(crate) fn vertex_batch(
    emulator: &Launched,
    bigquery_host: Option<&str>,
    args: &[&str],
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vertex-batch"));
    for var in [
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "BIGQUERY_EMULATOR_HOST",
    ] {
        command.env_remove(var);
    }
    if let Some(host) = bigquery_host {
        command.env("BIGQUERY_EMULATOR_HOST", host);
    }
    command
        .env(
            "STORAGE_EMULATOR_HOST",
            emulator.line("STORAGE_EMULATOR_HOST="),
        )
        .env("VERTEX_BATCH_STORAGE_TOKEN", "1")
        .args(["--endpoint", &emulator.uri()])
        .args(["--ca-cert", &emulator.line("  CA certificate:")])
        .args(["--credentials", &emulator.line("  key file:")])
        .args(["--project", PROJECT, "--location", LOCATION])
        .args(args)
        .output()
        .expect("vertex-batch runs")
}

/// What a command that succeeded printed (its output and errors shown when it failed).
pub(crate) fn text(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

//! What the tests of the `vertex-batch` binary share: one emulator for them all, reached as
//! Vertex AI is (TLS with the emulator's CA, `--ca-cert`; a service-account key whose token
//! endpoint is the emulator's, `--credentials`), on a manual clock. No test waits for real
//! time to pass: jobs stay where they are until a test moves the clock ([`finish_jobs`]), and a
//! test that needs jobs to stay put meanwhile holds [`still`]. The tests are by concern in
//! `cli_jobs.rs`, `cli_create.rs`, `cli_args.rs`, `cli_emulator.rs` and `cli_output.rs`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{OnceLock, RwLock, RwLockReadGuard};
use std::time::Duration;

use vertex_batch::emulator::Emulator;
use vertex_batch::v1::BatchPredictionJob;

pub(crate) const PROJECT: &str = "test-project";

/// The shared emulator's endpoint and the files the CLI needs to reach it.
pub(crate) struct Shared {
    pub(crate) uri: String,
    pub(crate) ca_pem: String,
    pub(crate) key_json: String,
    pub(crate) ca_path: PathBuf,
    pub(crate) key_path: PathBuf,
    emulator: &'static Emulator,
}

pub(crate) fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        // The emulator lives on its own runtime for the whole test run.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("a runtime");
            runtime.block_on(async move {
                let emulator = Emulator::builder()
                    .with_tls(true)
                    .with_require_auth(true)
                    .with_manual_clock(true)
                    .with_durations(Duration::from_secs(1), Duration::from_secs(2))
                    .start()
                    .await
                    .expect("the emulator starts");
                let key = emulator.service_account_key();
                let ca = emulator.ca_pem().expect("a CA");
                let emulator: &'static Emulator = Box::leak(Box::new(emulator));
                sender
                    .send((emulator.uri(), ca, key.json, emulator))
                    .expect("sent");
                std::future::pending::<()>().await;
            });
        });
        let (uri, ca_pem, key_json, emulator) = receiver.recv().expect("the emulator started");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder for the key");
        let (ca_path, key_path) = (dir.join("ca.pem"), dir.join("key.json"));
        std::fs::write(&ca_path, &ca_pem).expect("CA written");
        std::fs::write(&key_path, &key_json).expect("key written");
        Shared {
            uri,
            ca_pem,
            key_json,
            ca_path,
            key_path,
            emulator,
        }
    })
}

/// Held by a test while the shared clock must not move (a job it made must not end yet).
pub(crate) type Still = RwLockReadGuard<'static, ()>;

/// Who moves the shared clock: [`finish_jobs`] writes, [`still`] reads.
static CLOCK: RwLock<()> = RwLock::new(());

/// Keeps the shared clock where it is until the guard is dropped.
pub(crate) fn still() -> Still {
    CLOCK
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Moves the shared clock an hour on, once no test holds it [`still`]: every job made so far
/// ends (they pend 1 s and run 2 s), each as its outcome label says; a cancelled one is
/// CANCELLED.
pub(crate) fn finish_jobs() {
    let _moving = CLOCK
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    shared().emulator.advance(Duration::from_secs(3600));
}

/// Runs `vertex-batch -v ARGS`, a command that waits for a job or an operation (`wait`,
/// `submit --wait`, `cancel --wait`, `delete`), with the clock held `still` until it has polled
/// once, then moves the clock so the job or operation ends; its output. What it waits for is
/// seen as it was made, then as it ended.
pub(crate) fn waited_through_the_clock(still: Still, args: &[&str]) -> Output {
    waited_through_the_clock_to(still, args, Stdio::piped())
}

/// [`waited_through_the_clock`] with its stdout going to `stdout`.
pub(crate) fn waited_through_the_clock_to(still: Still, args: &[&str], stdout: Stdio) -> Output {
    use std::io::{BufRead, BufReader, Read};
    let mut child = vb_command(&[&["-v"][..], args].concat())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    loop {
        let before = seen.len();
        if stderr.read_line(&mut seen).expect("stderr is text") == 0 {
            break; // ended before polling: its output says why
        }
        if seen[before..].contains(" poll ") {
            break;
        }
    }
    drop(still);
    finish_jobs();
    stderr.read_to_string(&mut seen).expect("stderr is text");
    let mut stdout = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_end(&mut stdout).expect("stdout");
    }
    let status = child.wait().expect("the binary ends");
    Output {
        status,
        stdout,
        stderr: seen.into_bytes(),
    }
}

/// The binary, with no Google settings from the environment.
pub(crate) fn bare() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vertex-batch"));
    for var in [
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION",
        "GOOGLE_CLOUD_QUOTA_PROJECT",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "RUST_LOG",
        "STORAGE_EMULATOR_HOST",
        "VERTEX_BATCH_STORAGE_TOKEN",
    ] {
        command.env_remove(var);
    }
    command
}

/// The binary pointed at the shared emulator.
pub(crate) fn vb(args: &[&str]) -> Output {
    vb_with_stdin(args, None)
}

/// The binary pointed at the shared emulator, not yet started.
pub(crate) fn vb_command(args: &[&str]) -> Command {
    let emu = shared();
    let mut command = bare();
    command
        .arg("--endpoint")
        .arg(&emu.uri)
        .arg("--ca-cert")
        .arg(&emu.ca_path)
        .arg("--credentials")
        .arg(&emu.key_path)
        .args(["--project", PROJECT])
        .args(args);
    command
}

pub(crate) fn vb_with_stdin(args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = vb_command(args);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the binary starts");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        // The binary may stop reading before the end (a body past its limit).
        match input.write_all(text.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            written => written.expect("stdin written"),
        }
    }
    drop(input);
    child.wait_with_output().expect("the binary ends")
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub(crate) fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// Asserts the one-line error the tool promises, with `code`; returns the line.
pub(crate) fn one_line_error(output: Output, code: i32) -> String {
    assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err:?}");
    assert!(lines[0].starts_with("error: "), "{err}");
    lines[0].to_owned()
}

pub(crate) fn job_from_stdout(output: Output) -> BatchPredictionJob {
    vertex_batch::json::job_from_json(&ok(output)).expect("--json prints a job")
}

pub(crate) const INPUT: &str =
    "gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl";

/// Submits a job with `extra` arguments; the created job, read from `--json`.
pub(crate) fn submit(display_name: &str, extra: &[&str]) -> BatchPredictionJob {
    let mut args = vec![
        "submit",
        "gemini-2.0-flash-001",
        "--input",
        INPUT,
        "--output",
        "gs://my-bucket/out",
        "--display-name",
        display_name,
        "--json",
    ];
    args.extend_from_slice(extra);
    job_from_stdout(vb(&args))
}

/// Polls fast: a wait sees soon that the clock moved.
pub(crate) const FAST: [&str; 2] = ["--interval", "0.1"];

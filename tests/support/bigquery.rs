//! bqemulator (PyPI, Apache-2.0: a BigQuery emulator over DuckDB, REST and gRPC) as a process on
//! loopback, as `process.rs` launches our own emulator: installed by the tests themselves on
//! first use, so `cargo test` on a fresh machine with the Rust toolchain and Python 3.11+ runs
//! the BigQuery tests with no step by hand.
//!
//! - **Install, once per target dir**: a virtual environment at
//!   `$CARGO_TARGET_TMPDIR/bqemulator-1.4.0-duckdb-1.5.6` with the pinned packages of [`REQUIREMENTS`], made
//!   under an exclusive file lock (`bqemulator-1.4.0-duckdb-1.5.6.lock` beside it), so test binaries started
//!   at once install it once; a `ready` file written last marks it whole, and an install cut off
//!   half way is removed and made again. `cargo clean` removes it.
//! - **Start**: `tests/support/bqemulator_launch.py` with the environment's Python: ephemeral,
//!   both ports chosen by the system, DuckDB's spatial extension not downloaded (it fails
//!   offline, and nothing here uses GEOGRAPHY), a banner with the ports, and an end when its
//!   stdin closes, so an emulator never outlives the test process that started it.
//! - **No Python**: the test fails saying what to install; it never skips.
//!
//! One emulator serves a whole test binary ([`shared`]), one test at a time; each test keeps to
//! a dataset of its own ([`BigQueryEmulator::dataset_name`]).
#![allow(dead_code)] // each test binary uses its own part

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Mutex, MutexGuard};

use super::process::Launched;

/// The packages installed, pinned: bqemulator, the numpy it needs beside it (not among its own
/// requirements), and DuckDB 1.5: under DuckDB 2.0 (which bqemulator 1.4.0 accepts) a statement
/// that failed, or two requests at once, leave its one connection "with an unfinished result"
/// and its REST API answers 500 until it is restarted; 1.5.6 serves concurrent inserts and
/// reads without an error, but not two `tabledata.list` reads at once (the emulator's jobs over
/// tables take turns for that: `src/emulator/table_job.rs`).
pub const REQUIREMENTS: [&str; 3] = ["bqemulator==1.4.0", "numpy==2.4.6", "duckdb==1.5.6"];

/// The folder name of the virtual environment (and of its lock) under the target dir: the
/// pins' versions, so a change of pins installs anew beside the old one.
const VENV: &str = "bqemulator-1.4.0-duckdb-1.5.6";

/// The oldest Python bqemulator 1.4.0 installs on (its `Requires-Python`).
const MIN_PYTHON: (u32, u32) = (3, 11);

/// The launcher, committed beside this file.
const LAUNCHER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/bqemulator_launch.py"
);

/// A running bqemulator: killed when dropped; it also ends by itself when this process ends
/// (its stdin closes).
pub struct BigQueryEmulator {
    launched: Launched,
    datasets: AtomicUsize,
}

impl BigQueryEmulator {
    /// Installs bqemulator if this target dir has none yet, then starts one.
    pub fn start() -> BigQueryEmulator {
        let python = venv_python();
        let mut command = Command::new(python);
        command
            .arg(LAUNCHER)
            // Held open by the `Child` in `Launched`: the emulator ends when it closes.
            .stdin(Stdio::piped());
        BigQueryEmulator {
            launched: Launched::start(command),
            datasets: AtomicUsize::new(0),
        }
    }

    /// `127.0.0.1:PORT`, the value of `BIGQUERY_EMULATOR_HOST` for this emulator.
    pub fn host(&self) -> String {
        self.launched.line("BIGQUERY_EMULATOR_HOST=")
    }

    /// `http://127.0.0.1:PORT`: the REST API's endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.host())
    }

    /// `127.0.0.1:PORT`: the gRPC Storage Read/Write API.
    pub fn grpc(&self) -> String {
        self.launched.line("grpc: ")
    }

    /// A dataset name no other test of this process uses: `{prefix}_{n}`.
    pub fn dataset_name(&self, prefix: &str) -> String {
        let n = self.datasets.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}_{n}")
    }
}

/// One emulator for the whole test binary, started by the first test that asks. Never dropped
/// (a static): it ends when the test process does, its stdin closing.
pub fn shared() -> &'static BigQueryEmulator {
    static SHARED: OnceLock<BigQueryEmulator> = OnceLock::new();
    SHARED.get_or_init(BigQueryEmulator::start)
}

/// The calling test's turn at the shared emulator, held until the guard drops: each test that
/// uses it takes its turn first, so the tests of one binary use it one at a time. bqemulator
/// shares one DuckDB connection between its request threads, and under load requests from
/// several tests at once have left it answering nothing for a minute; one client at a time,
/// it answers in milliseconds. (A tokio mutex: the guard is held across the test's awaits.)
pub async fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().await
}

/// [`turn`], for a test that is not async.
pub fn turn_blocking() -> MutexGuard<'static, ()> {
    TURN.blocking_lock()
}

static TURN: Mutex<()> = Mutex::const_new(());

/// The Python of the virtual environment, installed first if it is not whole.
pub fn venv_python() -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let venv = root.join(VENV);
    let python = python_in(&venv);
    let ready = venv.join("ready");
    if ready.exists() {
        return python;
    }
    fs::create_dir_all(root).expect("the target dir's tmp folder can be made");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(format!("{VENV}.lock")))
        .expect("the install lock file opens");
    // Held until `lock` is dropped (or this process ends): one install at a time.
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .expect("the install lock is taken");
    if !ready.exists() {
        install(&venv);
        File::create(&ready).expect("the ready mark is written");
    }
    drop(lock);
    python
}

fn python_in(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Makes the virtual environment at `venv` (anew: a half install is removed) and installs
/// [`REQUIREMENTS`] from PyPI into it.
fn install(venv: &Path) {
    let system = system_python();
    if venv.exists() {
        fs::remove_dir_all(venv).expect("a half-made environment is removed");
    }
    eprintln!(
        "installing {} into {} (once per target dir)",
        REQUIREMENTS.join(" "),
        venv.display()
    );
    run(
        Command::new(&system).args(["-m", "venv"]).arg(venv),
        "making a virtual environment failed: on Debian or Ubuntu, `apt-get install \
         python3-venv` (the venv module is packaged apart)",
    );
    run(
        Command::new(python_in(venv))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
            ])
            .args(REQUIREMENTS),
        "installing bqemulator from PyPI failed (see pip's output above): the BigQuery tests \
         need PyPI reachable on first run, or a venv already made at this path",
    );
}

/// `python3` (or `python`), checked to be 3.11 or newer; else the test fails saying what to
/// install.
fn system_python() -> String {
    let need = format!(
        "the BigQuery tests run bqemulator, which needs Python {}.{} or newer with its venv \
         module: install it (Debian/Ubuntu: `apt-get install python3 python3-venv`; macOS: \
         `brew install python`) and run `cargo test` again",
        MIN_PYTHON.0, MIN_PYTHON.1
    );
    for candidate in ["python3", "python"] {
        let Ok(output) = Command::new(candidate)
            .args([
                "-c",
                "import sys; print(sys.version_info[0], sys.version_info[1])",
            ])
            .output()
        else {
            continue;
        };
        let text = String::from_utf8_lossy(&output.stdout);
        let mut parts = text.split_whitespace().map(str::parse::<u32>);
        if let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) {
            if (major, minor) >= MIN_PYTHON {
                return candidate.to_owned();
            }
            panic!("`{candidate}` is Python {major}.{minor}: {need}");
        }
    }
    panic!("no `python3` on the PATH: {need}");
}

fn run(command: &mut Command, failure: &str) {
    let status = command
        .stdin(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{failure}: {e}"));
    assert!(status.success(), "{failure} ({status})");
}

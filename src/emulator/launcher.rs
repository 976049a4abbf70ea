//! The emulator as a long-running process: one set of flags, defaults and one banner, shared by
//! the `vertex-batch-emulator` binary (feature `emulator`) and `vertex-batch emulator` (feature
//! `cli`), so the two cannot drift apart.
//!
//! The defaults are chosen for a person trying things by hand:
//! - port 8080, so the printed flags stay good across restarts (with `--dir`, the key and CA
//!   paths stay the same too); `--port 0` takes any free port; the storage endpoint takes the
//!   next port (8081) unless `--storage-port` says otherwise, and the token endpoint the one
//!   after (8082, `--token-port`), so `STORAGE_EMULATOR_HOST` and key.json's `token_uri` stay
//!   good across restarts too;
//! - plain TCP and no required token, so any gRPC client reaches it as it is; `--tls` and
//!   `--require-auth` take the path a call to Vertex AI takes;
//! - jobs pending 5 s, then running 30 s: long enough to watch a progress bar, cancel a running
//!   job or see a delete of one refused, short enough to wait for;
//! - a service-account key is always written (and the CA with `--tls`), so the `vertex-batch`
//!   flags printed reach the emulator offline, whether or not tokens are required.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Emulator;
use crate::Error;

/// The port both launchers listen on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8080;

/// Seconds a job stays pending, unless told otherwise.
pub const DEFAULT_QUEUED_SECS: u64 = 5;

/// Seconds a job runs, unless told otherwise.
pub const DEFAULT_RUNNING_SECS: u64 = 30;

/// The flags of both launchers (`--location` aside: it is `vertex-batch`'s global option, and
/// the binary's own flag of the same name, default and environment variable).
///
/// ```
/// use clap::Parser;
/// use vertex_batch::emulator::launcher::EmulatorArgs;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     emulator: EmulatorArgs,
/// }
///
/// let cli = Cli::try_parse_from(["emu", "--port", "0", "--tls"]).unwrap();
/// assert_eq!(cli.emulator.port(), 0);
/// let defaults = Cli::try_parse_from(["emu"]).unwrap();
/// assert_eq!(defaults.emulator.port(), vertex_batch::emulator::launcher::DEFAULT_PORT);
/// ```
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Examples:
  vertex-batch emulator --tls --dir ./emulator      # or: vertex-batch-emulator --tls --dir ./emulator
  # then, in another terminal, paste the flags it prints:
  vertex-batch --endpoint https://127.0.0.1:8080 --ca-cert ./emulator/ca.pem \\
      --credentials ./emulator/key.json --project my-project list
  # or over REST, with the token --print-token prints:
  curl --cacert ./emulator/ca.pem -H \"Authorization: Bearer $TOKEN\" \\
      https://127.0.0.1:8080/v1/projects/my-project/locations/us-central1/batchPredictionJobs")]
pub struct EmulatorArgs {
    /// The gRPC port; 0 takes any free one.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// The Cloud Storage port (STORAGE_EMULATOR_HOST); 0 takes any free one. Default: the
    /// gRPC port + 1 when --port is fixed, so a restart keeps the same address; else any free
    /// port.
    #[arg(long, value_name = "PORT")]
    storage_port: Option<u16>,
    /// The token endpoint's port (in key.json's token_uri); 0 takes any free one. Default:
    /// the gRPC port + 2 when --port is fixed, so a key file stays good across a restart;
    /// else any free port.
    #[arg(long, value_name = "PORT")]
    token_port: Option<u16>,
    /// The interface to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Serve TLS with a certificate made at start for localhost and 127.0.0.1; its CA is
    /// written to DIR/ca.pem.
    #[arg(long)]
    tls: bool,
    /// Refuse calls without a bearer token from the emulator's token endpoint (DIR/key.json
    /// gets one), Cloud Storage's too (`vertex-batch ... --storage-token` sends it there).
    #[arg(long)]
    require_auth: bool,
    /// Where to write key.json (a service-account key whose tokens come from the emulator)
    /// and, with --tls, ca.pem (each 0600; a folder made for them is 0700). Default: a fresh
    /// private temporary folder, removed on Ctrl-C.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Seconds a job stays pending.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_QUEUED_SECS)]
    queued_secs: u64,
    /// Seconds a job runs.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_RUNNING_SECS)]
    running_secs: u64,
    /// A local folder standing in for gs:// (gs://bucket/path is DIR/bucket/path; names no
    /// file can have as they are, like gs://bucket//x, are encoded inside DIR): jobs then read
    /// their JSONL input and write predictions.jsonl there.
    #[arg(long, value_name = "DIR")]
    gcs_root: Option<PathBuf>,
    /// A BigQuery emulator (bqemulator's REST address, host:port or http://host:port): jobs
    /// with a bq:// source then read their input table and write their output table there.
    #[cfg(feature = "bigquery")]
    #[arg(long, value_name = "HOST:PORT", env = "BIGQUERY_EMULATOR_HOST")]
    bigquery_endpoint: Option<String>,
    /// Print a bearer token the emulator accepts (for `curl -H "Authorization: Bearer ..."`;
    /// valid for an hour).
    #[arg(long)]
    print_token: bool,
    /// Share of rows (0 to 1) that fail with a transient 429 status.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = parse_rate)]
    row_failure_rate: f64,
    /// Share of rows (0 to 1) that fail with a permanent 400 status.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = parse_rate)]
    row_permanent_failure_rate: f64,
    /// The first job that reads gs:// input ends EXPIRED after exporting N rows.
    #[arg(long, value_name = "N")]
    expire_after_rows: Option<u64>,
    /// Share of Cloud Storage requests (0 to 1), of any kind, answered 429 or 503.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = parse_rate)]
    storage_failure_rate: f64,
    /// Share of Cloud Storage downloads (0 to 1) that drop the connection part way through.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = parse_rate)]
    storage_drop_rate: f64,
    /// Jobs' output leaves `labels` out of the echoed request (the service echoing them is
    /// shown only by client code).
    #[arg(long)]
    no_echoed_labels: bool,
    /// A field whose JSON type differs between rows does not fail the job's import.
    #[arg(long)]
    allow_type_conflicts: bool,
    /// Seed of the row and storage fault draws (default: random).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// The first N jobs created stay queued until cancelled (jobs stuck in the queue).
    #[arg(long, value_name = "N", default_value_t = 0)]
    stuck_jobs: u64,
    /// A Vertex AI outage starting SECONDS after start: every call answers UNAVAILABLE for
    /// --outage-secs.
    #[arg(long, value_name = "SECONDS", requires = "outage_secs")]
    outage_after: Option<u64>,
    /// How long the outage of --outage-after lasts.
    #[arg(long, value_name = "SECONDS", requires = "outage_after")]
    outage_secs: Option<u64>,
}

/// A share of rows or requests: a number from 0 to 1.
fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a share: expected a number from 0 to 1, like 0.05"
        )),
    }
}

impl EmulatorArgs {
    /// The port asked for (0: any free one).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The storage port: `--storage-port`, else `--port` + 1 when `--port` is fixed (so a
    /// restart keeps `STORAGE_EMULATOR_HOST`), else `None` (any free port).
    ///
    /// ```
    /// use clap::Parser;
    /// use vertex_batch::emulator::launcher::EmulatorArgs;
    ///
    /// #[derive(Parser)]
    /// struct Cli {
    ///     #[command(flatten)]
    ///     emulator: EmulatorArgs,
    /// }
    ///
    /// let parse = |args: &[&str]| Cli::try_parse_from(args).unwrap().emulator.storage_port();
    /// assert_eq!(parse(&["emu"])?, Some(8081));
    /// assert_eq!(parse(&["emu", "--port", "9000"])?, Some(9001));
    /// assert_eq!(parse(&["emu", "--port", "9000", "--storage-port", "0"])?, Some(0));
    /// assert_eq!(parse(&["emu", "--port", "0"])?, None);
    /// assert!(parse(&["emu", "--port", "65535"]).is_err());
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for `--port 65535` without `--storage-port`: there is no next
    /// port.
    pub fn storage_port(&self) -> Result<Option<u16>, Error> {
        self.port_after(
            self.storage_port,
            1,
            "--storage-port",
            "the storage endpoint",
        )
    }

    /// The token endpoint's port: `--token-port`, else `--port` + 2 when `--port` is fixed
    /// (so key.json's `token_uri` stays good across a restart), else `None` (any free port).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a `--port` of 65534 or 65535 without `--token-port`.
    pub fn token_port(&self) -> Result<Option<u16>, Error> {
        self.port_after(self.token_port, 2, "--token-port", "the token endpoint")
    }

    /// `asked`, else `--port` + `offset` when `--port` is fixed, else `None`.
    fn port_after(
        &self,
        asked: Option<u16>,
        offset: u16,
        flag: &str,
        what: &str,
    ) -> Result<Option<u16>, Error> {
        match (asked, self.port) {
            (Some(port), _) => Ok(Some(port)),
            (None, 0) => Ok(None),
            (None, port) => port.checked_add(offset).map(Some).ok_or_else(|| {
                Error::invalid(
                    flag,
                    format!(
                        "--port {port} is too near the last port for {what} to take --port + \
                         {offset}: give {flag} (0 for any free port)"
                    ),
                )
            }),
        }
    }
}

/// Starts the emulator as `args` say, for `location`, prints the banner on stdout, and serves
/// until Ctrl-C (or SIGTERM), then stops and removes the temporary folder if it made one.
///
/// The banner's first line is `vertex-batch emulator listening on URI`; a line starting with
/// `use it with: vertex-batch ` gives the flags that reach it. Scripts read those two.
///
/// # Errors
/// What [`EmulatorBuilder::start`](super::EmulatorBuilder::start) returns (a bad location, a
/// port in use, ...), or [`Error::Io`] when the key or CA cannot be written.
pub async fn run(args: &EmulatorArgs, location: &str) -> Result<(), Error> {
    // Listening from the start: a stop asked for while the key is being made still cleans up.
    let stop = listen_for_stop()?;
    let mut builder = Emulator::builder()
        .with_addr(SocketAddr::new(args.host, args.port))
        .with_location(location)
        .with_tls(args.tls)
        .with_require_auth(args.require_auth)
        .with_durations(
            Duration::from_secs(args.queued_secs),
            Duration::from_secs(args.running_secs),
        );
    if let Some(root) = &args.gcs_root {
        builder = builder.with_gcs_root(root);
    }
    #[cfg(feature = "bigquery")]
    if let Some(endpoint) = args
        .bigquery_endpoint
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    {
        builder = builder.with_bigquery_endpoint(endpoint);
    }
    if let Some(port) = args.storage_port()? {
        builder = builder.with_storage_addr(SocketAddr::new(args.host, port));
    }
    if let Some(port) = args.token_port()? {
        builder = builder.with_token_addr(SocketAddr::new(args.host, port));
    }
    builder = builder
        .with_row_failure_rate(args.row_failure_rate)
        .with_row_permanent_failure_rate(args.row_permanent_failure_rate)
        .with_storage_failure_rate(args.storage_failure_rate)
        .with_storage_drop_rate(args.storage_drop_rate)
        .with_echoed_labels(!args.no_echoed_labels)
        .with_type_conflicts_refused(!args.allow_type_conflicts);
    if let Some(rows) = args.expire_after_rows {
        builder = builder.with_expire_after_rows(rows);
    }
    if let Some(seed) = args.seed {
        builder = builder.with_seed(seed);
    }
    builder = builder.with_stuck_jobs(args.stuck_jobs);
    if let (Some(after), Some(length)) = (args.outage_after, args.outage_secs) {
        builder = builder.with_outage(Duration::from_secs(after), Duration::from_secs(length));
    }
    let emulator = builder.start().await.map_err(|error| match error {
        // The fixed default port may be taken, by another emulator most likely.
        Error::Transport {
            endpoint,
            message,
            failure,
        } if message.contains("could not bind") => Error::Transport {
            endpoint,
            failure,
            message: format!(
                "{message}; another emulator may be running there: pass --port 0 for any \
                     free port, or another --port (the storage endpoint takes --port + 1 \
                     and the token endpoint --port + 2 unless --storage-port and \
                     --token-port say otherwise)"
            ),
        },
        other => other,
    })?;
    // The default folder is made exclusively, private (0700) and under a random name, so no
    // folder or link someone put in the temporary directory beforehand is used; it is removed
    // when the emulator stops (the TempDir's drop).
    let (dir, temporary) = match &args.dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let mut builder = tempfile::Builder::new();
            builder.prefix("vertex-batch-emulator-");
            // tempfile leaves a folder's mode to the umask unless told.
            #[cfg(unix)]
            builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
            let temporary = builder.tempdir().map_err(|error| Error::Io {
                path: Some(std::env::temp_dir()),
                error,
            })?;
            (temporary.path().to_path_buf(), Some(temporary))
        }
    };
    let files = Files::write(&emulator, &dir)?;
    print_banner(&banner(&emulator, args, &files));
    stop.await;
    emulator.shutdown().await;
    // Best effort: the files are throwaways, and the emulator has stopped either way.
    drop(temporary);
    Ok(())
}

/// The files a client needs: the key always, the CA with TLS.
struct Files {
    key: PathBuf,
    ca: Option<PathBuf>,
}

impl Files {
    fn write(emulator: &Emulator, dir: &Path) -> Result<Self, Error> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|error| Error::Io {
            path: Some(dir.to_owned()),
            error,
        })?;
        let key = dir.join("key.json");
        write_private(&key, &emulator.service_account_key().json)?;
        let ca = match emulator.ca_pem() {
            Some(pem) => {
                let path = dir.join("ca.pem");
                write_private(&path, &pem)?;
                Some(path)
            }
            None => None,
        };
        Ok(Files { key, ca })
    }
}

/// What the emulator is, where its files are, and the `vertex-batch` flags that reach it.
fn banner(emulator: &Emulator, args: &EmulatorArgs, files: &Files) -> String {
    let mut banner = format!("vertex-batch emulator listening on {}\n", emulator.uri());
    // REST (the service's HTTP/JSON API) shares the gRPC port; unindented so scripts find it.
    let _ = writeln!(banner, "rest: {}", emulator.rest_uri());
    let _ = writeln!(banner, "STORAGE_EMULATOR_HOST={}", emulator.storage_uri());
    if args.print_token {
        let _ = writeln!(banner, "token: {}", emulator.issue_token());
    }
    let mut line = |label: &str, value: &dyn std::fmt::Display| {
        let _ = writeln!(banner, "  {:<16}{value}", format!("{label}:"));
    };
    line("location", &emulator.location());
    line("token endpoint", &emulator.token_uri());
    line(
        "tokens",
        &if args.require_auth {
            "required (--require-auth), Cloud Storage's too: the key file below gets them \
             (--credentials; --storage-token sends them to STORAGE_EMULATOR_HOST)"
        } else {
            "accepted, not required"
        },
    );
    line(
        "jobs",
        &format_args!(
            "pending {} s, then running {} s",
            args.queued_secs, args.running_secs
        ),
    );
    if let Some(root) = emulator.gcs_root() {
        line("gs:// folder", &root.display());
    }
    #[cfg(feature = "bigquery")]
    if let Some(bigquery) = emulator.bigquery_endpoint() {
        line(
            "BigQuery",
            &format_args!("{bigquery} (jobs over bq:// tables)"),
        );
    }
    if args.storage_failure_rate > 0.0 || args.storage_drop_rate > 0.0 {
        line(
            "storage faults",
            &format_args!(
                "{} of requests answered 429/503, {} of downloads dropped part way",
                args.storage_failure_rate, args.storage_drop_rate
            ),
        );
    }
    line("key file", &files.key.display());
    if let Some(ca) = &files.ca {
        line("CA certificate", &ca.display());
    }
    let mut flags = format!("--endpoint {}", emulator.uri());
    if let Some(ca) = &files.ca {
        let _ = write!(flags, " --ca-cert {}", ca.display());
    }
    let _ = write!(
        flags,
        " --credentials {} --location {}",
        files.key.display(),
        emulator.location()
    );
    let _ = writeln!(
        banner,
        "use it with: vertex-batch {flags} --project my-project ..."
    );
    banner.push_str("press Ctrl-C to stop\n");
    banner
}

/// One write, and a reader that stops reading (a script taking the first line) is no reason
/// to stop serving: a closed stdout is ignored.
fn print_banner(banner: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(banner.as_bytes());
    let _ = stdout.flush();
}

/// Ctrl-C, and on Unix SIGTERM too (what `kill` and service managers send): the handlers are
/// in place when this returns; the future it gives ends at the first of them.
#[cfg(unix)]
fn listen_for_stop() -> Result<impl Future<Output = ()>, Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen_failed = |error| Error::Io { path: None, error };
    let mut interrupt = signal(SignalKind::interrupt()).map_err(listen_failed)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(listen_failed)?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Ctrl-C.
#[cfg(not(unix))]
fn listen_for_stop() -> Result<impl Future<Output = ()>, Error> {
    Ok(async {
        // Should the handler fail to install, serving on until killed is the best left to do.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}

/// Writes a file only its owner can read: the key is a throwaway, but a private key all the same.
///
/// The text goes to a new file beside `path` (made exclusively, mode 0600, under a random name),
/// then moved over `path`: whatever was there (a file of any mode, a symbolic link planted to
/// receive the key) is replaced, never written through, and no reader ever sees half a key.
fn write_private(path: &Path, contents: &str) -> Result<(), Error> {
    use std::io::Write as _;
    let io = |error| Error::Io {
        path: Some(path.to_owned()),
        error,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // tempfile opens with O_CREAT | O_EXCL and mode 0600.
    let mut file = tempfile::Builder::new()
        .prefix(".vertex-batch-")
        .tempfile_in(dir)
        .map_err(io)?;
    file.write_all(contents.as_bytes()).map_err(io)?;
    file.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

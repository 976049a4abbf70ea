//! Where a GetBatchPredictionJob's time goes on the gRPC path: the same Get through three
//! servers, each with the raw generated stub and with `JobClient`, the client channel's
//! settings and the executors varied one at a time, and an HTTP/1.1 JSON Get through the same
//! emulator as the REST reference. Prints one table; takes about a minute.
//!
//! Servers:
//! - `emulator`: the emulator as it is, gRPC and REST on one port (HTTP/1.1 accepted, every
//!   request told apart by its content type);
//! - `emulator grpc-only`: its gRPC service alone on a port of its own
//!   ([`EmulatorBuilder::with_rest(false)`](vertex_batch::emulator::EmulatorBuilder::with_rest));
//! - `bare tonic`: a tonic server whose Get answers a fixed job (the same job, so the same
//!   bytes), nothing else: no state, no validation, no clock.
//!
//! Executors (`exec` column): `split` runs the server on a runtime of its own (two worker
//! threads, as a separate process would have) and the clients on another (two workers);
//! `shared` runs both on one runtime of two workers (as `benches/client.rs` does); `client-ct`
//! runs the clients on a current-thread runtime beside the server's own; `server-ct` runs the
//! servers on a current-thread runtime on a thread of their own, the clients on two workers.
//!
//! Columns: at 1 call in flight, the per-call latency's median, 10th and 90th percentiles
//! (the distribution, which has been bimodal) and mean; at 64 in flight, the wall time per call.
//! Each row is measured in 3 interleaved rounds (the rows take turns, so drift in the machine's
//! load hits all alike) and keeps its best round (load only ever adds time). The last columns
//! divide the row's figures by its server's `raw stub, tonic defaults` row.
//!
//! ```text
//! cargo bench --features emulator --bench grpc_path
//! ```
//!
//! `cargo bench --features emulator --bench grpc_path side-by-side` runs the side-by-side of
//! `benches/official-crate` instead, its REST half a hyper client (no crate outside the package).
//!
//! `GRPC_PATH_ROWS=TEXT` keeps the rows whose `server / client` contains TEXT (ends with it
//! when TEXT ends with `$`; the ratio columns
//! then compare a row with itself when its server's raw row is filtered out);
//! `GRPC_PATH_PERCENT=N` makes N% of the calls (`GRPC_PATH_PERCENT_64` for 64 in flight) (for the difference of two runs under
//! `valgrind --tool=callgrind`: instructions per call);
//! an argument (`split`, `shared`, `client-ct`) keeps that layout; `GRPC_PATH_TRACE=1` prints
//! each row as it starts. With one row, the run is short enough for
//! `strace -f -c` and `valgrind --tool=callgrind`.
//!
//! Timings on a loaded machine are noise: read the ratios within one run, or count
//! instructions and syscalls (the README's Performance section says how).

// JobClient's half of `benches/official-crate` (the side-by-side with Google's own crate) and
// its minimal program, compiled here so that a change to the crate's API that breaks them fails
// `cargo clippy --all-targets` in CI; the official crate's half stays outside the package.
#[path = "support/minimal_get_job.rs"]
#[allow(dead_code)]
mod minimal_get_job;
#[path = "support/side_by_side.rs"]
mod side_by_side;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use vertex_batch::auth::Credentials;
use vertex_batch::emulator::Emulator;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::transport::AuthChannel;
use vertex_batch::v1::job_service_client::JobServiceClient;
use vertex_batch::v1::job_service_server::{JobService, JobServiceServer};
use vertex_batch::v1::{BatchPredictionJob, GetBatchPredictionJobRequest};
use vertex_batch::{JobClient, RetryPolicy};

const ROUNDS: usize = 3;
const CALLS_1: usize = 2_000;
const CALLS_64: usize = 6_400;

/// The servers a Get goes to.
#[derive(Clone, Copy, PartialEq, Debug)]
enum ServerKind {
    Emulator,
    EmulatorGrpcOnly,
    BareTonic,
    /// The bare server without TCP_NODELAY on its sockets.
    BareTonicNagle,
}

impl ServerKind {
    fn label(self) -> &'static str {
        match self {
            ServerKind::Emulator => "emulator (gRPC+REST port)",
            ServerKind::EmulatorGrpcOnly => "emulator, gRPC-only port",
            ServerKind::BareTonic => "bare tonic",
            ServerKind::BareTonicNagle => "bare tonic, no TCP_NODELAY",
        }
    }
}

/// A tonic channel's settings, varied one at a time from tonic's defaults.
#[derive(Clone, Copy, Debug)]
enum Tweak {
    Defaults,
    NoNodelay,
    AdaptiveWindow,
    Windows,
    KeepAlive,
    Buffer,
}

impl Tweak {
    fn label(self) -> &'static str {
        match self {
            Tweak::Defaults => "tonic defaults",
            Tweak::NoNodelay => "TCP_NODELAY off",
            Tweak::AdaptiveWindow => "http2_adaptive_window",
            Tweak::Windows => "windows 4 MiB / 8 MiB",
            Tweak::KeepAlive => "keep-alive 30 s",
            Tweak::Buffer => "buffer_size 64",
        }
    }

    fn apply(self, endpoint: tonic::transport::Endpoint) -> tonic::transport::Endpoint {
        match self {
            Tweak::Defaults => endpoint,
            Tweak::NoNodelay => endpoint.tcp_nodelay(false),
            Tweak::AdaptiveWindow => endpoint.http2_adaptive_window(true),
            Tweak::Windows => endpoint
                .initial_stream_window_size(4 << 20)
                .initial_connection_window_size(8 << 20),
            Tweak::KeepAlive => endpoint
                .http2_keep_alive_interval(Duration::from_secs(30))
                .keep_alive_timeout(Duration::from_secs(10))
                .keep_alive_while_idle(true),
            Tweak::Buffer => endpoint.buffer_size(64),
        }
    }
}

/// Who makes the Gets.
#[derive(Clone, Copy, Debug)]
enum ClientKind {
    /// The generated stub on a plain tonic channel.
    Raw(Tweak),
    /// The generated stub on the crate's channel (`AuthChannel`, no token): its defaults.
    RawCrateChannel,
    /// JobClient as a backend configures one (static token, quota project, default retries).
    JobClient,
    /// The same without a per-attempt deadline (no `grpc-timeout`, so no timer on either end).
    JobClientNoDeadline,
    /// HTTP/1.1 JSON through hyper, one connection per task (the emulator's REST side).
    Rest,
}

impl ClientKind {
    fn label(self) -> String {
        match self {
            ClientKind::Raw(tweak) => format!("raw stub, {}", tweak.label()),
            ClientKind::RawCrateChannel => "raw stub, crate channel".to_owned(),
            ClientKind::JobClient => "JobClient".to_owned(),
            ClientKind::JobClientNoDeadline => "JobClient, no deadline".to_owned(),
            ClientKind::Rest => "REST (HTTP/1.1 JSON)".to_owned(),
        }
    }
}

/// How the runtimes are laid out.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Exec {
    Split,
    Shared,
    ClientCurrentThread,
    ServerCurrentThread,
}

impl Exec {
    fn label(self) -> &'static str {
        match self {
            Exec::Split => "split",
            Exec::Shared => "shared",
            Exec::ClientCurrentThread => "client-ct",
            Exec::ServerCurrentThread => "server-ct",
        }
    }
}

/// Where the servers run: a runtime of their own (multi-thread, or current-thread on a thread
/// of its own), or the clients' runtime.
struct Serving {
    handle: Handle,
    _own: Option<Runtime>,
    /// A current-thread runtime's thread, and what stops it.
    thread: Option<(oneshot::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl Serving {
    fn new(exec: Exec, client_rt: &Runtime) -> Serving {
        match exec {
            Exec::Shared => Serving {
                handle: client_rt.handle().clone(),
                _own: None,
                thread: None,
            },
            Exec::ServerCurrentThread => {
                let (stop, stopped) = oneshot::channel::<()>();
                let (handle_tx, handle_rx) = std::sync::mpsc::channel();
                let thread = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime");
                    handle_tx
                        .send(runtime.handle().clone())
                        .expect("the handle");
                    let _ = runtime.block_on(stopped);
                });
                Serving {
                    handle: handle_rx.recv().expect("the server runtime's handle"),
                    _own: None,
                    thread: Some((stop, thread)),
                }
            }
            Exec::Split | Exec::ClientCurrentThread => {
                let runtime = multi_thread();
                Serving {
                    handle: runtime.handle().clone(),
                    _own: Some(runtime),
                    thread: None,
                }
            }
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.thread.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}

fn multi_thread() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A Get answered with one fixed job and nothing else.
#[derive(Clone)]
struct FixedJob(Arc<BatchPredictionJob>);

#[tonic::async_trait]
impl JobService for FixedJob {
    async fn get_batch_prediction_job(
        &self,
        _: tonic::Request<GetBatchPredictionJobRequest>,
    ) -> Result<tonic::Response<BatchPredictionJob>, tonic::Status> {
        Ok(tonic::Response::new(BatchPredictionJob::clone(&self.0)))
    }
}

/// A running server and what a client needs to Get from it.
struct Target {
    uri: String,
    addr: SocketAddr,
    token: String,
    name: String,
    /// Kept alive while the target is used.
    _emulator: Option<Emulator>,
}

/// Starts `kind` on `runtime`; `job` is what the bare server answers.
fn start(runtime: &Handle, kind: ServerKind, job: &BatchPredictionJob) -> Target {
    runtime.block_on(async {
        match kind {
            ServerKind::Emulator | ServerKind::EmulatorGrpcOnly => {
                let emu = side_by_side::emulator(kind == ServerKind::Emulator, false).await;
                let name = side_by_side::create_job(&emu).await;
                Target {
                    uri: emu.uri(),
                    addr: emu.local_addr(),
                    token: emu.issue_token(),
                    name,
                    _emulator: Some(emu),
                }
            }
            ServerKind::BareTonic | ServerKind::BareTonicNagle => {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let addr = listener.local_addr().expect("an address");
                let nodelay = kind == ServerKind::BareTonic;
                let incoming = TcpIncoming::from(listener).with_nodelay(Some(nodelay));
                let service = JobServiceServer::new(FixedJob(Arc::new(job.clone())));
                tokio::spawn(
                    Server::builder()
                        .add_service(service)
                        .serve_with_incoming(incoming),
                );
                Target {
                    uri: format!("http://{addr}"),
                    addr,
                    token: "unchecked".to_owned(),
                    name: job.name.clone(),
                    _emulator: None,
                }
            }
        }
    })
}

/// A connected client of one kind; REST connects per task.
#[derive(Clone)]
enum Connected {
    Stub(JobServiceClient<Channel>),
    CrateStub(JobServiceClient<AuthChannel>),
    Wrapped(JobClient),
    Rest(SocketAddr),
}

async fn connect(kind: ClientKind, target: &Target) -> Connected {
    match kind {
        ClientKind::Raw(tweak) => {
            let endpoint = tweak.apply(Channel::from_shared(target.uri.clone()).expect("a URI"));
            Connected::Stub(JobServiceClient::new(
                endpoint.connect().await.expect("connect"),
            ))
        }
        ClientKind::RawCrateChannel => {
            let channel = AuthChannel::builder()
                .with_endpoint(Endpoint::custom(&target.uri).expect("a URI"))
                .with_credentials(Credentials::none())
                .connect()
                .await
                .expect("connect AuthChannel");
            Connected::CrateStub(JobServiceClient::new(channel))
        }
        ClientKind::JobClient | ClientKind::JobClientNoDeadline => Connected::Wrapped(
            JobClient::builder()
                .with_project(side_by_side::PROJECT)
                .with_location(side_by_side::LOCATION)
                .with_endpoint(Endpoint::custom(&target.uri).expect("a URI"))
                .with_credentials(Credentials::static_token(target.token.clone()))
                .with_quota_project("bench-billing")
                .with_retry_policy(if matches!(kind, ClientKind::JobClient) {
                    RetryPolicy::default()
                } else {
                    RetryPolicy::default().with_attempt_timeout(None)
                })
                .connect()
                .await
                .expect("connect JobClient"),
        ),
        ClientKind::Rest => Connected::Rest(target.addr),
    }
}

/// One task's Gets: `calls` of them, one at a time; each call's latency when `timed`.
async fn worker(client: Connected, name: String, calls: usize, timed: bool) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(if timed { calls } else { 0 });
    let request = || GetBatchPredictionJobRequest { name: name.clone() };
    match client {
        Connected::Stub(mut stub) => {
            for _ in 0..calls {
                let started = Instant::now();
                stub.get_batch_prediction_job(request()).await.expect("get");
                if timed {
                    latencies.push(started.elapsed());
                }
            }
        }
        Connected::CrateStub(mut stub) => {
            for _ in 0..calls {
                let started = Instant::now();
                stub.get_batch_prediction_job(request()).await.expect("get");
                if timed {
                    latencies.push(started.elapsed());
                }
            }
        }
        Connected::Wrapped(client) => {
            for _ in 0..calls {
                let started = Instant::now();
                client.get(&name).await.expect("JobClient get");
                if timed {
                    latencies.push(started.elapsed());
                }
            }
        }
        Connected::Rest(addr) => {
            let tcp = TcpStream::connect(addr).await.expect("connect REST");
            tcp.set_nodelay(true).expect("TCP_NODELAY");
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .expect("an HTTP/1.1 handshake");
            tokio::spawn(connection);
            let uri = format!("/v1/{name}");
            for _ in 0..calls {
                let started = Instant::now();
                let request = http::Request::get(uri.as_str())
                    .header(http::header::HOST, addr.to_string())
                    .body(Empty::<Bytes>::new())
                    .expect("a request");
                let response = sender.send_request(request).await.expect("REST get");
                assert!(response.status().is_success(), "{}", response.status());
                response.into_body().collect().await.expect("a body");
                if timed {
                    latencies.push(started.elapsed());
                }
            }
        }
    }
    latencies
}

/// `calls` Gets, `in_flight` tasks at a time: the wall time, and each call's latency at 1.
async fn gets(
    client: &Connected,
    name: &str,
    calls: usize,
    in_flight: usize,
) -> (Duration, Vec<Duration>) {
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for worker_index in 0..in_flight {
        let share = calls / in_flight + usize::from(worker_index < calls % in_flight);
        tasks.spawn(worker(
            client.clone(),
            name.to_owned(),
            share,
            in_flight == 1,
        ));
    }
    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done.expect("a benchmark task"));
    }
    (started.elapsed(), latencies)
}

/// One row's best figures over the rounds.
#[derive(Clone, Copy)]
struct Figures {
    p10: f64,
    p50: f64,
    p90: f64,
    mean_1: f64,
    per_call_64: f64,
}

impl Figures {
    const NONE: Figures = Figures {
        p10: f64::INFINITY,
        p50: f64::INFINITY,
        p90: f64::INFINITY,
        mean_1: f64::INFINITY,
        per_call_64: f64::INFINITY,
    };
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

struct Row {
    exec: Exec,
    server: ServerKind,
    client: ClientKind,
    connected: Connected,
    name: String,
    best: Figures,
}

/// Whether `label` contains `only` (ends with it, when `only` ends with `$`).
fn matches(label: &str, only: &str) -> bool {
    match only.strip_suffix('$') {
        Some(end) => label.ends_with(end),
        None => label.contains(only),
    }
}

/// `GRPC_PATH_PERCENT` (default 100) for 1 in flight, and for 64 unless
/// `GRPC_PATH_PERCENT_64` says otherwise.
fn percent_of_calls() -> (usize, usize) {
    let read = |name: &str| std::env::var(name).ok().and_then(|text| text.parse().ok());
    let one = read("GRPC_PATH_PERCENT").unwrap_or(100);
    (one, read("GRPC_PATH_PERCENT_64").unwrap_or(one))
}

impl Row {
    /// Whether one end leaves Nagle's algorithm on.
    fn nagle(&self) -> bool {
        self.server == ServerKind::BareTonicNagle
            || matches!(self.client, ClientKind::Raw(Tweak::NoNodelay))
    }
}

/// Measures every row in interleaved rounds on `client_rt`.
fn measure(client_rt: &Runtime, rows: &mut [Row]) {
    for round in 0..ROUNDS {
        for k in 0..rows.len() {
            let row = &mut rows[(k + round) % rows.len()];
            if std::env::var_os("GRPC_PATH_TRACE").is_some() {
                eprintln!(
                    "round {round}: {} / {}",
                    row.server.label(),
                    row.client.label()
                );
            }
            // Without TCP_NODELAY a call can wait for a delayed ACK (tens of ms): fewer calls.
            let scale = if row.nagle() { 100 } else { 1 };
            let (percent_1, percent_64) = percent_of_calls();
            let (calls_1, calls_64) = (
                CALLS_1 * percent_1 / 100 / scale,
                CALLS_64 * percent_64 / 100 / scale,
            );
            // A warm-up: connections made, HPACK tables and pools filled.
            client_rt.block_on(gets(&row.connected, &row.name, (200 / scale).max(1), 1));
            let (_, mut latencies) =
                client_rt.block_on(gets(&row.connected, &row.name, calls_1, 1));
            latencies.sort();
            let at = |q: f64| micros(latencies[((latencies.len() - 1) as f64 * q) as usize]);
            let mean = latencies.iter().map(|d| micros(*d)).sum::<f64>() / latencies.len() as f64;
            let (wall, _) = client_rt.block_on(gets(&row.connected, &row.name, calls_64, 64));
            let per_call_64 = micros(wall) / calls_64.max(1) as f64;
            let best = &mut row.best;
            if mean < best.mean_1 {
                (best.p10, best.p50, best.p90, best.mean_1) = (at(0.1), at(0.5), at(0.9), mean);
            }
            best.per_call_64 = best.per_call_64.min(per_call_64);
        }
    }
}

/// The rows of one executor layout.
fn rows_of(exec: Exec) -> Vec<(ServerKind, ClientKind)> {
    let mut rows = Vec::new();
    let every_tweak = [
        Tweak::Defaults,
        Tweak::NoNodelay,
        Tweak::AdaptiveWindow,
        Tweak::Windows,
        Tweak::KeepAlive,
        Tweak::Buffer,
    ];
    for server in [
        ServerKind::Emulator,
        ServerKind::EmulatorGrpcOnly,
        ServerKind::BareTonic,
    ] {
        if exec == Exec::Split && server == ServerKind::Emulator {
            rows.extend(every_tweak.map(|tweak| (server, ClientKind::Raw(tweak))));
        } else {
            rows.push((server, ClientKind::Raw(Tweak::Defaults)));
        }
        rows.push((server, ClientKind::RawCrateChannel));
        rows.push((server, ClientKind::JobClient));
        rows.push((server, ClientKind::JobClientNoDeadline));
        if server == ServerKind::Emulator {
            rows.push((server, ClientKind::Rest));
        }
    }
    if exec == Exec::Split {
        rows.push((ServerKind::BareTonicNagle, ClientKind::Raw(Tweak::Defaults)));
        rows.push((
            ServerKind::BareTonicNagle,
            ClientKind::Raw(Tweak::NoNodelay),
        ));
    }
    rows
}

/// The REST side of `side-by-side`: HTTP/1.1 JSON Gets through hyper, over a pool of
/// keep-alive connections (one per call in flight), sending `token` as a bearer token.
fn rest_side(addr: SocketAddr, token: String) -> side_by_side::Side {
    let bearer = format!("Bearer {token}");
    type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;
    let pool: Arc<std::sync::Mutex<Vec<Sender>>> = Arc::default();
    side_by_side::Side {
        label: "REST (hyper, HTTP/1.1 JSON)",
        get: Arc::new(move |name: String| {
            let (pool, bearer) = (pool.clone(), bearer.clone());
            Box::pin(async move {
                let pooled = pool.lock().expect("the pool").pop();
                let mut sender = match pooled {
                    Some(sender) => sender,
                    None => {
                        let tcp = TcpStream::connect(addr).await.expect("connect REST");
                        tcp.set_nodelay(true).expect("TCP_NODELAY");
                        let (sender, connection) =
                            hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                                .await
                                .expect("an HTTP/1.1 handshake");
                        tokio::spawn(connection);
                        sender
                    }
                };
                let request = http::Request::get(format!("/v1/{name}"))
                    .header(http::header::HOST, addr.to_string())
                    .header(http::header::AUTHORIZATION, bearer)
                    .body(Empty::<Bytes>::new())
                    .expect("a request");
                let response = sender.send_request(request).await.expect("REST get");
                assert!(response.status().is_success(), "{}", response.status());
                response.into_body().collect().await.expect("a body");
                pool.lock().expect("the pool").push(sender);
            })
        }),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks executors by label.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    if filter.iter().any(|arg| arg == "side-by-side") {
        // The official crate's side-by-side with its REST half replaced by hyper: the same
        // harness (benches/support/side_by_side.rs), no crate outside the package.
        side_by_side::compare(
            || Box::pin(side_by_side::emulator(true, true)),
            |emu| {
                Box::pin(async move {
                    let job_client = side_by_side::job_client(emu).await;
                    vec![
                        side_by_side::job_client_side(job_client),
                        rest_side(emu.local_addr(), emu.issue_token()),
                    ]
                })
            },
        );
        return;
    }
    let load_before = side_by_side::load_average();
    println!(
        "{:<9} {:<27} {:<34} {:>8} {:>8} {:>8} {:>8} {:>9} {:>7} {:>7}",
        "exec",
        "server",
        "client",
        "p50 µs",
        "p10 µs",
        "p90 µs",
        "mean µs",
        "64: µs/c",
        "x1 raw",
        "x64 raw"
    );
    for exec in [
        Exec::Split,
        Exec::Shared,
        Exec::ClientCurrentThread,
        Exec::ServerCurrentThread,
    ] {
        if !filter.is_empty() && !filter.iter().any(|f| exec.label().contains(f.as_str())) {
            continue;
        }
        let client_rt = match exec {
            Exec::ClientCurrentThread => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime"),
            _ => multi_thread(),
        };
        let server = Serving::new(exec, &client_rt);
        let serving = &server.handle;
        let emulator = start(
            serving,
            ServerKind::Emulator,
            &BatchPredictionJob::default(),
        );
        let job = client_rt.block_on(async {
            let mut stub = JobServiceClient::connect(emulator.uri.clone())
                .await
                .expect("connect");
            stub.get_batch_prediction_job(GetBatchPredictionJobRequest {
                name: emulator.name.clone(),
            })
            .await
            .expect("the job")
            .into_inner()
        });
        let mut targets = vec![(ServerKind::Emulator, emulator)];
        let mut rows = Vec::new();
        for (server, client) in rows_of(exec) {
            if let Ok(only) = std::env::var("GRPC_PATH_ROWS")
                && !matches(&format!("{} / {}", server.label(), client.label()), &only)
            {
                continue;
            }
            if !targets.iter().any(|(kind, _)| *kind == server) {
                let target = start(serving, server, &job);
                targets.push((server, target));
            }
            let target = &targets
                .iter()
                .find(|(kind, _)| *kind == server)
                .expect("started")
                .1;
            let connected = client_rt.block_on(connect(client, target));
            rows.push(Row {
                exec,
                server,
                client,
                connected,
                name: target.name.clone(),
                best: Figures::NONE,
            });
        }
        measure(&client_rt, &mut rows);
        for row in &rows {
            let base = rows
                .iter()
                .find(|r| {
                    r.server == row.server && matches!(r.client, ClientKind::Raw(Tweak::Defaults))
                })
                .map_or(row.best, |r| r.best);
            let f = row.best;
            println!(
                "{:<9} {:<27} {:<34} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>7.3} {:>7.3}",
                row.exec.label(),
                row.server.label(),
                row.client.label(),
                f.p50,
                f.p10,
                f.p90,
                f.mean_1,
                f.per_call_64,
                f.mean_1 / base.mean_1,
                f.per_call_64 / base.per_call_64,
            );
        }
        drop(rows);
        drop(targets);
        drop(client_rt);
        drop(server);
    }
    println!(
        "load average before {load_before}, after {}; {ROUNDS} interleaved rounds, best kept; \
         1 in flight: {CALLS_1} calls a round, 64 in flight: {CALLS_64}",
        side_by_side::load_average()
    );
}

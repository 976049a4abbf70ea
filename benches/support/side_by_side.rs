//! JobClient's half of a side-by-side: GetBatchPredictionJob through `JobClient` and through
//! another client of the same emulator, in one run, the sides taking turns.
//!
//! Compiled with the package (`benches/grpc_path.rs` includes it, so `cargo clippy
//! --all-targets` in CI builds it): a change to the crate's API that breaks it fails CI. The
//! other half, Google's own crate, lives outside the package in `benches/official-crate/`,
//! whose `src/main.rs` includes this file and adds a [`Side`] for `google-cloud-aiplatform-v1`.
//!
//! The emulator runs on a runtime of its own (two worker threads, as a separate process would
//! have) and the clients on another, so the server's tasks never queue behind the clients' on
//! the same workers. It checks a bearer token on every call when asked (`require_auth`), keeps
//! no call record (Vertex AI keeps none) and runs on a manual clock (the job does not change).
//! Each side's figure in a run is its best of [`ROUNDS`] interleaved rounds (the order
//! rotates, so drift in the machine's load hits every side alike; load only ever adds time);
//! [`compare`] makes [`RUNS`] runs, each with a fresh emulator and clients, and reports their
//! median.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::task::JoinSet;
use vertex_batch::auth::Credentials;
use vertex_batch::emulator::Emulator;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::{GenerationConfig, JobClient};

pub const PROJECT: &str = "bench-project";
pub const LOCATION: &str = "us-central1";

/// Interleaved rounds per run; each side keeps its best.
pub const ROUNDS: usize = 15;
/// Runs, each with a fresh emulator and clients; the figures are their median.
pub const RUNS: usize = 3;

/// One Get of a job by its full name, by one side's client.
pub type Get = Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// One client of the side-by-side.
pub struct Side {
    pub label: &'static str,
    pub get: Get,
}

/// An emulator for the side-by-side: a manual clock, no call record, REST on the gRPC port
/// when `rest`, bearer tokens checked when `require_auth`.
pub async fn emulator(rest: bool, require_auth: bool) -> Emulator {
    Emulator::builder()
        .with_location(LOCATION)
        .with_manual_clock(true)
        .with_record_calls(false)
        .with_require_auth(require_auth)
        .with_rest(rest)
        .start()
        .await
        .expect("start the emulator")
}

/// JobClient as a backend configures one, on `emu` with a token it issued.
pub async fn job_client(emu: &Emulator) -> JobClient {
    JobClient::builder()
        .with_project(PROJECT)
        .with_location(emu.location())
        .with_endpoint(Endpoint::custom(&emu.uri()).expect("the emulator URI"))
        .with_credentials(Credentials::static_token(emu.issue_token()))
        .connect()
        .await
        .expect("connect JobClient")
}

/// Creates the documented Go sample's job on `emu`; its full name.
pub async fn create_job(emu: &Emulator) -> String {
    job_client(emu)
        .await
        .create(
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_display_name("bench-get")
                .with_input("gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl")
                .with_output("gs://my-bucket/batch-output")
                .with_generation_config(
                    GenerationConfig::new()
                        .with_temperature(0.2)
                        .with_max_output_tokens(200),
                ),
        )
        .await
        .expect("create the job to Get")
        .name
}

/// JobClient's side.
pub fn job_client_side(client: JobClient) -> Side {
    Side {
        label: "JobClient (gRPC)",
        get: Arc::new(move |name: String| {
            let client = client.clone();
            Box::pin(async move {
                client.get(&name).await.expect("JobClient get");
            })
        }),
    }
}

/// A multi-thread runtime of two workers.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// `calls` Gets of `name` through `get`, `in_flight` tasks at a time; the wall time.
pub async fn gets(get: &Get, name: &str, calls: usize, in_flight: usize) -> Duration {
    let in_flight = in_flight.clamp(1, calls.max(1));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for worker in 0..in_flight {
        let share = calls / in_flight + usize::from(worker < calls % in_flight);
        let (get, name) = (get.clone(), name.to_owned());
        tasks.spawn(async move {
            for _ in 0..share {
                get(name.clone()).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a benchmark task");
    }
    started.elapsed()
}

/// The machine's load average, as `/proc/loadavg` gives it.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Per-call seconds of each side in one run: the best of [`ROUNDS`] interleaved rounds.
pub fn one_run(
    client_rt: &Runtime,
    sides: &[Side],
    name: &str,
    calls: usize,
    in_flight: usize,
) -> Vec<f64> {
    // A warm-up round each: connections made, pools and HPACK tables filled.
    for side in sides {
        client_rt.block_on(gets(&side.get, name, calls / 4, in_flight));
    }
    let mut best = vec![f64::INFINITY; sides.len()];
    for round in 0..ROUNDS {
        for k in 0..sides.len() {
            let index = (k + round) % sides.len();
            let elapsed = client_rt.block_on(gets(&sides[index].get, name, calls, in_flight));
            best[index] = best[index].min(elapsed.as_secs_f64() / calls as f64);
        }
    }
    best
}

/// The median of `values` (an odd count; the upper middle otherwise).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// [`RUNS`] runs of the side-by-side at 1 and 64 in flight, each on a fresh emulator (made by
/// `emulator` on a runtime of its own) with fresh sides (made by `sides` on the clients'
/// runtime, given the emulator and the job's name); prints each run and the median, every
/// figure with the load average. The first side is the one the ratio is about.
pub fn compare<E, S>(emulator: E, sides: S)
where
    E: Fn() -> Pin<Box<dyn Future<Output = Emulator> + Send>>,
    S: Fn(&Emulator) -> Pin<Box<dyn Future<Output = Vec<Side>> + '_>>,
{
    let mut per_call: Vec<Vec<Vec<f64>>> = Vec::new();
    let shapes = [(1usize, 1_000usize), (64, 4_000)];
    let mut labels = Vec::new();
    for run in 0..RUNS {
        let server_rt = runtime();
        let client_rt = runtime();
        let emu = server_rt.block_on(emulator());
        let name = server_rt.block_on(create_job(&emu));
        let sides = client_rt.block_on(sides(&emu));
        labels = sides.iter().map(|side| side.label).collect();
        let mut this_run = Vec::new();
        for (in_flight, calls) in shapes {
            let load_before = load_average();
            let best = one_run(&client_rt, &sides, &name, calls, in_flight);
            let figures: Vec<String> = labels
                .iter()
                .zip(&best)
                .map(|(label, time)| format!("{label} {:.1} µs/call", time * 1e6))
                .collect();
            println!(
                "run {}, {in_flight} in flight: {}; {} throughput {:.2}x (best of {ROUNDS} \
                 interleaved rounds of {calls}; load average before {load_before}, after {})",
                run + 1,
                figures.join(", "),
                labels[0],
                best[1] / best[0],
                load_average(),
            );
            this_run.push(best);
        }
        per_call.push(this_run);
        drop(sides);
        server_rt.block_on(emu.shutdown());
    }
    for (shape, (in_flight, _)) in shapes.iter().enumerate() {
        let medians: Vec<f64> = (0..labels.len())
            .map(|side| {
                median(
                    &mut per_call
                        .iter()
                        .map(|run| run[shape][side])
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let mut ratios: Vec<f64> = per_call
            .iter()
            .map(|run| run[shape][1] / run[shape][0])
            .collect();
        let figures: Vec<String> = labels
            .iter()
            .zip(&medians)
            .map(|(label, time)| {
                format!(
                    "{label} {:.1} µs/call ({:.0} calls/s)",
                    time * 1e6,
                    1.0 / time
                )
            })
            .collect();
        println!(
            "FIGURE get, {in_flight} in flight, median of {RUNS} runs: {}; {} throughput {:.2}x \
             (median of the runs' ratios; load average now {})",
            figures.join(", "),
            labels[0],
            median(&mut ratios),
            load_average(),
        );
    }
}

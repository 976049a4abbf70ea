//! What JobClient costs over the raw generated stub, and what its common calls cost, against the
//! emulator on loopback (plain TCP for both, so the figures isolate the wrapper, not TLS).
//!
//! - GetBatchPredictionJob: the raw `JobServiceClient` on a plain tonic channel vs `JobClient`
//!   (static token through the auth cache, quota project, every header, name parsing, the
//!   default retry policy with its per-attempt deadline), 1 and 64 calls in flight. Besides
//!   criterion's own report, it prints the ratio from interleaved rounds (goal: at most 1.05).
//!   Two more sides split the difference: the raw stub sending the same headers and deadline by
//!   hand (what the wire and the server pay for them), and JobClient without a per-attempt
//!   deadline.
//! - Create + Get of one job, and a List of 1,000 jobs across 10 pages, through JobClient.
//!
//! ```text
//! cargo bench --features emulator --bench client
//! ```

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::TryStreamExt;
use tokio::runtime::Runtime;
use tokio::task::JoinSet;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use vertex_batch::auth::Credentials;
use vertex_batch::emulator::Emulator;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::routing;
use vertex_batch::transport::API_CLIENT;
use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::v1::GetBatchPredictionJobRequest;
use vertex_batch::v1::job_service_client::JobServiceClient;
use vertex_batch::{BatchJobBuilder, GenerationConfig, JobClient, JobFilter, RetryPolicy};

const PROJECT: &str = "bench-project";
const LOCATION: &str = "us-central1";

/// The documented Go sample's job.
fn job(display_name: &str) -> BatchJobBuilder {
    BatchPredictionJob::builder("gemini-2.0-flash-001")
        .with_display_name(display_name)
        .with_input("gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl")
        .with_output("gs://my-bucket/batch-output")
        .with_generation_config(
            GenerationConfig::new()
                .with_temperature(0.2)
                .with_max_output_tokens(200),
        )
}

/// An emulator on a manual clock (so the job Got does not change while the benchmark runs)
/// and a JobClient as a backend configures one.
/// An emulator and both clients; `record_calls` only where a figure counts the calls (Vertex AI
/// keeps no record, and the emulator's grows with every call).
async fn setup(record_calls: bool) -> (Emulator, JobClient, Channel) {
    let emu = Emulator::builder()
        .with_location(LOCATION)
        .with_manual_clock(true)
        .with_record_calls(record_calls)
        .start()
        .await
        .expect("start the emulator");
    let client = JobClient::builder()
        .with_project(PROJECT)
        .with_location(LOCATION)
        .with_endpoint(Endpoint::custom(&emu.uri()).expect("the emulator URI"))
        .with_credentials(Credentials::static_token(emu.issue_token()))
        .with_quota_project("bench-billing")
        .with_retry_policy(RetryPolicy::default())
        .connect()
        .await
        .expect("connect JobClient");
    let plain = Channel::from_shared(emu.uri())
        .expect("the emulator URI")
        .connect()
        .await
        .expect("connect a plain channel");
    (emu, client, plain)
}

/// Which client makes the Gets.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    /// The generated stub on a plain channel, the request as it is.
    Raw,
    /// The same, with JobClient's headers and deadline written by hand.
    RawWithHeaders,
    /// JobClient with no per-attempt deadline.
    WrappedNoDeadline,
    /// JobClient as configured by default.
    Wrapped,
}

const SIDES: [(&str, Side); 4] = [
    ("raw_stub", Side::Raw),
    ("raw_stub_same_headers", Side::RawWithHeaders),
    ("job_client_no_deadline", Side::WrappedNoDeadline),
    ("job_client", Side::Wrapped),
];

/// What JobClient sends, by hand: token, quota project, client names, routing, deadline.
fn with_headers(
    request: GetBatchPredictionJobRequest,
    bearer: &MetadataValue<Ascii>,
) -> tonic::Request<GetBatchPredictionJobRequest> {
    let name = request.name.clone();
    let mut request = routing::with_name(tonic::Request::new(request), &name);
    let metadata = request.metadata_mut();
    metadata.insert("authorization", bearer.clone());
    metadata.insert(
        "x-goog-user-project",
        MetadataValue::from_static("bench-billing"),
    );
    metadata.insert("x-goog-api-client", MetadataValue::from_static(API_CLIENT));
    request.set_timeout(Duration::from_secs(60));
    request
}

/// `calls` Gets of `name`, `in_flight` at a time; returns the wall time.
async fn gets(
    side: Side,
    client: &JobClient,
    plain: &Channel,
    bearer: &str,
    name: &str,
    calls: u64,
    in_flight: u64,
) -> Duration {
    let in_flight = in_flight.clamp(1, calls.max(1));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for worker in 0..in_flight {
        let share = calls / in_flight + u64::from(worker < calls % in_flight);
        let name = name.to_owned();
        match side {
            Side::Raw | Side::RawWithHeaders => {
                let mut stub = JobServiceClient::new(plain.clone());
                let bearer: MetadataValue<Ascii> = format!("Bearer {}", bearer)
                    .parse()
                    .expect("a header value");
                tasks.spawn(async move {
                    for _ in 0..share {
                        let request = GetBatchPredictionJobRequest { name: name.clone() };
                        if side == Side::Raw {
                            stub.get_batch_prediction_job(request).await
                        } else {
                            stub.get_batch_prediction_job(with_headers(request, &bearer))
                                .await
                        }
                        .expect("raw get");
                    }
                });
            }
            Side::Wrapped | Side::WrappedNoDeadline => {
                let client = if side == Side::Wrapped {
                    client.clone()
                } else {
                    client.with_retry_policy(RetryPolicy::default().with_attempt_timeout(None))
                };
                tasks.spawn(async move {
                    for _ in 0..share {
                        client.get(&name).await.expect("JobClient get");
                    }
                });
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a benchmark task");
    }
    started.elapsed()
}

/// Per-call times of every side from `rounds` interleaved rounds of `calls` each (the order
/// rotates, so drift in the machine's load hits every side alike): for each side, its best
/// per-call time over the rounds divided by the raw stub's best (other load on the machine
/// only ever adds time, so the best round is the least disturbed one), and that best time.
fn interleaved(
    runtime: &Runtime,
    setup: &Setup,
    calls: u64,
    in_flight: u64,
) -> Vec<(&'static str, f64, f64)> {
    let rounds = 15;
    let mut best = [f64::INFINITY; SIDES.len()];
    for round in 0..rounds {
        for k in 0..SIDES.len() {
            let index = (k + round) % SIDES.len();
            let elapsed = runtime.block_on(gets(
                SIDES[index].1,
                &setup.client,
                &setup.plain,
                &setup.bearer,
                &setup.name,
                calls,
                in_flight,
            ));
            best[index] = best[index].min(elapsed.as_secs_f64() / calls as f64);
        }
    }
    SIDES
        .iter()
        .zip(best)
        .map(|((label, _), time)| (*label, time / best[0], time))
        .collect()
}

/// The emulator, a JobClient, a plain channel, the token and the job to Get.
struct Setup {
    emu: Emulator,
    client: JobClient,
    plain: Channel,
    bearer: String,
    name: String,
}

fn bench_get(c: &mut Criterion, runtime: &Runtime) {
    let (emu, client, plain) = runtime.block_on(setup(false));
    let name = runtime
        .block_on(client.create(job("bench-get")))
        .expect("create the job to Get")
        .name;
    let setup = Setup {
        bearer: emu.issue_token(),
        emu,
        client,
        plain,
        name,
    };

    let mut figures = Vec::new();
    for (in_flight, calls) in [(1u64, 1_000u64), (64, 4_000)] {
        let mut group = c.benchmark_group(format!("get_{in_flight}_in_flight"));
        group.throughput(Throughput::Elements(1));
        for (label, side) in SIDES {
            group.bench_function(label, |b| {
                b.iter_custom(|iters| {
                    runtime.block_on(gets(
                        side,
                        &setup.client,
                        &setup.plain,
                        &setup.bearer,
                        &setup.name,
                        iters,
                        in_flight,
                    ))
                })
            });
        }
        group.finish();
        figures.push((in_flight, interleaved(runtime, &setup, calls, in_flight)));
    }
    for (in_flight, sides) in figures {
        for (label, ratio, per_call) in sides {
            println!(
                "FIGURE get, {in_flight} in flight, {label}: {:.1} µs/call ({:.0} calls/s), \
                 ratio to raw_stub {ratio:.3} (best of 15 interleaved rounds)",
                per_call * 1e6,
                1.0 / per_call,
            );
        }
    }
    drop(setup.emu);
}

fn bench_create_and_list(c: &mut Criterion, runtime: &Runtime) {
    let (emu, client, _plain) = runtime.block_on(setup(false));
    c.bench_function("create_then_get", |b| {
        b.to_async(runtime).iter(|| async {
            let created = client.create(job("bench-create")).await.expect("create");
            client.get(&created.name).await.expect("get")
        })
    });
    drop(emu);

    // A fresh emulator holding exactly 1,000 jobs: the service's default page is 100.
    let (emu, client, _plain) = runtime.block_on(setup(true));
    runtime.block_on(async {
        for i in 0..1000 {
            client
                .create(job(&format!("listed-{i}")))
                .await
                .expect("create a job to list");
        }
    });
    let mut group = c.benchmark_group("list_1000_jobs");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("job_client_stream", |b| {
        b.to_async(runtime).iter(|| async {
            let jobs: Vec<_> = client
                .list(JobFilter::new())
                .try_collect()
                .await
                .expect("list");
            assert_eq!(jobs.len(), 1000);
            jobs
        })
    });
    group.finish();
    let pages = emu.calls_of("ListBatchPredictionJobs").len();
    let lists = pages / 10;
    println!("FIGURE list: {pages} List calls for {lists} listings of 1,000 jobs (10 pages each)");
    drop(emu);
}

fn benches(c: &mut Criterion) {
    let runtime = Runtime::new().expect("a tokio runtime");
    bench_get(c, &runtime);
    bench_create_and_list(c, &runtime);
}

criterion_group! {
    name = client;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(client);

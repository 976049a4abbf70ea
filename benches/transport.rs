//! GetBatchPredictionJob against the emulator on loopback: the raw generated stub on a plain
//! tonic channel vs the same stub on the authenticated channel (cached token, every header),
//! with 1 and 64 calls in flight. Prints the ratio of the mean times.
//!
//! ```text
//! cargo bench --features emulator --bench transport
//! ```

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;
use tonic::transport::Channel;
use vertex_batch::auth::Credentials;
use vertex_batch::emulator::Emulator;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::routing;
use vertex_batch::transport::AuthChannel;
use vertex_batch::v1::job_service_client::JobServiceClient;
use vertex_batch::v1::{
    BatchPredictionJob, CreateBatchPredictionJobRequest, GcsDestination, GcsSource,
    GetBatchPredictionJobRequest, batch_prediction_job,
};

const PARENT: &str = "projects/bench/locations/us-central1";

/// A job to Get: created once, through the raw stub.
async fn create_job(channel: Channel) -> String {
    let job = BatchPredictionJob {
        display_name: "bench".to_owned(),
        model: "publishers/google/models/gemini-2.0-flash-001".to_owned(),
        input_config: Some(batch_prediction_job::InputConfig {
            instances_format: "jsonl".to_owned(),
            source: Some(batch_prediction_job::input_config::Source::GcsSource(
                GcsSource {
                    uris: vec!["gs://bench/input.jsonl".to_owned()],
                },
            )),
        }),
        output_config: Some(batch_prediction_job::OutputConfig {
            predictions_format: "jsonl".to_owned(),
            destination: Some(
                batch_prediction_job::output_config::Destination::GcsDestination(GcsDestination {
                    output_uri_prefix: "gs://bench/out".to_owned(),
                }),
            ),
        }),
        ..Default::default()
    };
    let request = CreateBatchPredictionJobRequest {
        parent: PARENT.to_owned(),
        batch_prediction_job: Some(job),
    };
    JobServiceClient::new(channel)
        .create_batch_prediction_job(routing::with_parent(tonic::Request::new(request), PARENT))
        .await
        .expect("create the benchmark job")
        .into_inner()
        .name
}

/// `calls` Gets, `in_flight` at a time, on clients of one channel.
async fn gets<T>(client: JobServiceClient<T>, name: &str, calls: u64, in_flight: u64, route: bool)
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + 'static,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
    T::Future: Send,
{
    let mut tasks = JoinSet::new();
    for worker in 0..in_flight {
        let mut client = client.clone();
        let name = name.to_owned();
        let share = calls / in_flight + u64::from(worker < calls % in_flight);
        tasks.spawn(async move {
            for _ in 0..share {
                let request =
                    tonic::Request::new(GetBatchPredictionJobRequest { name: name.clone() });
                let request = if route {
                    routing::with_name(request, &name)
                } else {
                    request
                };
                client.get_batch_prediction_job(request).await.expect("get");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a benchmark task");
    }
}

fn bench(c: &mut Criterion) {
    let runtime = Runtime::new().expect("a tokio runtime");
    let (emu, plain, authed, name) = runtime.block_on(async {
        let emu: Emulator = Emulator::builder()
            // Vertex AI keeps no record of calls; the emulator's would grow with every Get.
            .with_record_calls(false)
            .start()
            .await
            .expect("start the emulator");
        let plain = Channel::from_shared(emu.uri())
            .expect("the emulator URI")
            .connect()
            .await
            .expect("connect");
        let authed = AuthChannel::builder()
            .with_endpoint(Endpoint::custom(&emu.uri()).expect("the emulator URI"))
            .with_credentials(Credentials::static_token(emu.issue_token()))
            .with_quota_project("bench-billing")
            .connect()
            .await
            .expect("connect");
        let name = create_job(plain.clone()).await;
        (emu, plain, authed, name)
    });

    let raw_run = |in_flight: u64, iters: u64| {
        let client = JobServiceClient::new(plain.clone());
        let started = Instant::now();
        runtime.block_on(gets(
            client,
            &name,
            iters,
            in_flight.min(iters.max(1)),
            false,
        ));
        started.elapsed()
    };
    let auth_run = |in_flight: u64, iters: u64| {
        let client = JobServiceClient::new(authed.clone());
        let started = Instant::now();
        runtime.block_on(gets(
            client,
            &name,
            iters,
            in_flight.min(iters.max(1)),
            true,
        ));
        started.elapsed()
    };
    for in_flight in [1u64, 64] {
        let mut group = c.benchmark_group(format!("get_in_flight_{in_flight}"));
        group.throughput(Throughput::Elements(1));
        group.measurement_time(Duration::from_secs(5));
        group.bench_function("raw_stub_plain_channel", |b| {
            b.iter_custom(|iters| raw_run(in_flight, iters))
        });
        group.bench_function("raw_stub_auth_channel", |b| {
            b.iter_custom(|iters| auth_run(in_flight, iters))
        });
        group.finish();
    }

    // The ratio from one run: alternating rounds of both, so that load from other processes
    // falls on both sides alike; the median round ratio is printed.
    const ROUNDS: usize = 9;
    const CALLS: u64 = 3_000;
    for in_flight in [1u64, 64] {
        let mut ratios = Vec::new();
        let mut raw_times = Vec::new();
        let mut auth_times = Vec::new();
        for round in 0..ROUNDS {
            let (raw, auth) = if round % 2 == 0 {
                let raw = raw_run(in_flight, CALLS);
                (raw, auth_run(in_flight, CALLS))
            } else {
                let auth = auth_run(in_flight, CALLS);
                (raw_run(in_flight, CALLS), auth)
            };
            ratios.push(auth.as_secs_f64() / raw.as_secs_f64());
            raw_times.push(raw.as_secs_f64() / CALLS as f64);
            auth_times.push(auth.as_secs_f64() / CALLS as f64);
        }
        println!(
            "GetBatchPredictionJob, {in_flight} in flight: raw {:.1} µs/call, authenticated \
             {:.1} µs/call, ratio {:.3} (median of {ROUNDS} alternating rounds of {CALLS} calls)",
            median(&mut raw_times) * 1e6,
            median(&mut auth_times) * 1e6,
            median(&mut ratios)
        );
    }
    drop(emu);
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

criterion_group!(benches, bench);
criterion_main!(benches);

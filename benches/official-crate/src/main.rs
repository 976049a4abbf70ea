//! GetBatchPredictionJob through JobClient (gRPC over HTTP/2) and through Google's own crate,
//! google-cloud-aiplatform-v1 (REST, JSON over HTTP/1.1), against one emulator in one run, at 1
//! and 64 calls in flight.
//!
//! Both send a bearer token the emulator checks on every call (`require_auth`), both keep their
//! default retry policies, and the emulator keeps no call record (as Vertex AI keeps none). The
//! sides take turns over 15 rounds, the order rotating, so drift in the machine's load hits both
//! alike; each side's figure is its best round (other load only ever adds time). The ratio is
//! JobClient's throughput over the official crate's.
//!
//! ```text
//! cargo run --release --manifest-path benches/official-crate/Cargo.toml
//! ```

use std::time::{Duration, Instant};

use google_cloud_aiplatform_v1::client::JobService;
use google_cloud_auth::credentials::{
    CacheableResource, Credentials, CredentialsProvider, EntityTag,
};
use http::{Extensions, HeaderMap, HeaderValue};
use tokio::task::JoinSet;
use vertex_batch::auth::Credentials as JobClientCredentials;
use vertex_batch::emulator::{Emulator, Emulator};
use vertex_batch::endpoint::Endpoint;
use vertex_batch::{BatchJob, JobClient};

const ROUNDS: usize = 15;

/// A bearer token the emulator issued, for the official crate (its credentials are a trait).
#[derive(Debug)]
struct StaticToken {
    headers: HeaderMap,
    tag: EntityTag,
}

impl StaticToken {
    fn new(token: &str) -> Self {
        let mut headers = HeaderMap::new();
        let mut value = HeaderValue::from_str(&format!("Bearer {token}")).expect("a header value");
        value.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, value);
        StaticToken {
            headers,
            tag: EntityTag::new(),
        }
    }
}

impl CredentialsProvider for StaticToken {
    async fn headers(
        &self,
        _: Extensions,
    ) -> Result<CacheableResource<HeaderMap>, google_cloud_auth::errors::CredentialsError> {
        Ok(CacheableResource::New {
            entity_tag: self.tag.clone(),
            data: self.headers.clone(),
        })
    }

    async fn universe_domain(&self) -> Option<String> {
        Some("googleapis.com".to_string())
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    JobClient,
    Official,
}

const SIDES: [Side; 2] = [Side::JobClient, Side::Official];

struct Clients {
    job_client: JobClient,
    official: JobService,
    name: String,
}

async fn setup(emu: &Emulator) -> Clients {
    let job_client = JobClient::builder()
        .with_project("bench-project")
        .with_location(emu.location())
        .with_endpoint(Endpoint::custom(&emu.uri()).expect("the emulator URI"))
        .with_credentials(JobClientCredentials::static_token(emu.issue_token()))
        .connect()
        .await
        .expect("connect JobClient");
    let official = JobService::builder()
        .with_endpoint(emu.rest_uri())
        .with_credentials(Credentials::from(StaticToken::new(&emu.issue_token())))
        .build()
        .await
        .expect("build the official client");
    let name = job_client
        .create(
            BatchJob::builder("gemini-2.0-flash-001")
                .with_display_name("bench-get")
                .with_input("gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl")
                .with_output("gs://my-bucket/batch-output"),
        )
        .await
        .expect("create the job to Get")
        .name;
    // Both see the same job.
    let seen = official
        .get_batch_prediction_job()
        .set_name(&name)
        .send()
        .await
        .expect("the official crate gets the job");
    assert_eq!(seen.name, name);
    Clients {
        job_client,
        official,
        name,
    }
}

/// `calls` Gets, `in_flight` at a time, by one side; the wall time.
async fn gets(side: Side, clients: &Clients, calls: usize, in_flight: usize) -> Duration {
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for worker in 0..in_flight {
        let share = calls / in_flight + usize::from(worker < calls % in_flight);
        let name = clients.name.clone();
        match side {
            Side::JobClient => {
                let client = clients.job_client.clone();
                tasks.spawn(async move {
                    for _ in 0..share {
                        client.get(&name).await.expect("JobClient get");
                    }
                });
            }
            Side::Official => {
                let client = clients.official.clone();
                tasks.spawn(async move {
                    for _ in 0..share {
                        client
                            .get_batch_prediction_job()
                            .set_name(&name)
                            .send()
                            .await
                            .expect("official get");
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

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_string())
}

#[tokio::main]
async fn main() {
    let emu = Emulator::builder()
        .manual_clock()
        .require_auth(true)
        .record_calls(false)
        .start()
        .await
        .expect("start the emulator");
    let clients = setup(&emu).await;
    println!("emulator {} (gRPC and REST on one port)", emu.uri());
    for (in_flight, calls) in [(1, 1_000), (64, 4_000)] {
        let load_before = load_average();
        // A warm-up round each: connections made, pools filled.
        for side in SIDES {
            gets(side, &clients, calls / 4, in_flight).await;
        }
        let mut best = [f64::INFINITY; SIDES.len()];
        for round in 0..ROUNDS {
            for k in 0..SIDES.len() {
                let index = (k + round) % SIDES.len();
                let elapsed = gets(SIDES[index], &clients, calls, in_flight).await;
                best[index] = best[index].min(elapsed.as_secs_f64() / calls as f64);
            }
        }
        let [job_client, official] = best;
        println!(
            "FIGURE get, {in_flight} in flight: JobClient {:.1} µs/call ({:.0} calls/s), \
             official crate {:.1} µs/call ({:.0} calls/s), JobClient's throughput {:.2}x \
             (best of {ROUNDS} interleaved rounds of {calls}; load average before {load_before}, \
             after {})",
            job_client * 1e6,
            1.0 / job_client,
            official * 1e6,
            1.0 / official,
            official / job_client,
            load_average(),
        );
    }
    emu.shutdown().await;
}

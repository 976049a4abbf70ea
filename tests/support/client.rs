//! A JobClient connected to an emulator the way a backend connects to Vertex AI: TLS with the
//! emulator's CA, a service-account key whose token_uri is the emulator's token endpoint.
#![allow(dead_code)] // each test file uses its own subset

use std::time::Duration;

use vertex_batch::emulator::{Emulator, EmulatorBuilder};
use vertex_batch::storage::Storage;
use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::{BatchJobBuilder, JobClient, JobClientBuilder, RetryPolicy, WaitOptions};

pub const PROJECT: &str = "test-project";
pub const LOCATION: &str = "us-central1";

/// An emulator with TLS, required auth and a manual clock.
pub fn emulator() -> EmulatorBuilder {
    Emulator::builder()
        .with_location(LOCATION)
        .with_tls(true)
        .with_require_auth(true)
        .with_manual_clock(true)
}

/// Backoffs and polls short enough for tests (they still wait for real answers, never sleep
/// in place of one).
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(20))
}

pub fn fast_waits() -> WaitOptions {
    WaitOptions::default()
        .with_initial_interval(Duration::from_millis(5))
        .with_max_interval(Duration::from_millis(20))
}

/// The client builder for `emu`: its endpoint and CA, a throwaway service-account key.
pub fn client_builder(emu: &Emulator) -> JobClientBuilder {
    JobClient::builder()
        .with_project(PROJECT)
        .with_location(emu.location())
        .with_endpoint(emu.endpoint().expect("emulator endpoint"))
        .with_credentials(emu.credentials())
        .with_retry_policy(fast_retries())
        .with_wait_options(fast_waits())
}

/// An emulator (TLS, auth, manual clock) and a client connected to it.
pub async fn start() -> (Emulator, JobClient) {
    let emu = emulator().start().await.expect("emulator starts");
    let client = client_builder(&emu)
        .connect()
        .await
        .expect("client connects");
    (emu, client)
}

/// `emu`'s Cloud Storage, sent the token of `client` (one token source for both services).
pub fn storage_with_token_of(emu: &Emulator, client: &JobClient) -> Storage {
    Storage::builder()
        .with_endpoint(emu.storage_uri())
        .with_tokens_of(client.channel())
        .build()
        .expect("storage client builds")
}

/// An emulator whose jobs end at once (real clock, zero durations), TLS and tokens required,
/// then `faults`; a client connected to it and its Cloud Storage on the client's token.
pub async fn start_with_storage(
    faults: impl FnOnce(EmulatorBuilder) -> EmulatorBuilder,
) -> (Emulator, JobClient, Storage) {
    let builder = Emulator::builder()
        .with_location(LOCATION)
        .with_tls(true)
        .with_require_auth(true)
        .with_durations(Duration::ZERO, Duration::ZERO);
    let emu = faults(builder).start().await.expect("emulator starts");
    let client = client_builder(&emu)
        .connect()
        .await
        .expect("client connects");
    let storage = storage_with_token_of(&emu, &client);
    (emu, client, storage)
}

/// The Go sample's job: GCS input, temperature 0.2, maxOutputTokens 200.
pub fn gcs_job(display_name: &str) -> BatchJobBuilder {
    BatchPredictionJob::builder("gemini-2.0-flash-001")
        .with_display_name(display_name)
        .with_input("gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl")
        .with_output("gs://my-bucket/batch-output")
        .with_generation_config(
            vertex_batch::GenerationConfig::new()
                .with_temperature(0.2)
                .with_max_output_tokens(200),
        )
}

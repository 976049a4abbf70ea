//! The generated `JobServiceClient`, used directly on the crate's authenticated channel: every
//! JobService RPC is there (custom jobs, tuning jobs, ...), with TLS, tokens and Google's
//! headers done right. The routing header is one line per call.
//!
//! ```text
//! cargo run --example raw_stub -- PROJECT LOCATION                    # the real service, ADC
//! cargo run --example raw_stub --features emulator -- --emulator    # the embedded emulator
//! ```
//!
//! With `--emulator` the program starts the emulator with TLS and required tokens, and
//! authenticates with a throwaway service-account key through gcp_auth's real flow.

use vertex_batch::auth::Credentials;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::routing;
use vertex_batch::transport::AuthChannel;
use vertex_batch::v1::job_service_client::JobServiceClient;
use vertex_batch::v1::{GetBatchPredictionJobRequest, ListBatchPredictionJobsRequest};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut emulator = false;
    let mut positional = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--emulator" => emulator = true,
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    let project = positional.next().unwrap_or_else(|| "my-project".into());
    let location = positional.next().unwrap_or_else(|| "us-central1".into());
    let parent = format!("projects/{project}/locations/{location}");

    // Keep the emulator alive while the program runs.
    let (_emulator, endpoint, credentials) = if emulator {
        start_emulator(&location, &parent).await?
    } else {
        (
            None,
            Endpoint::for_location(&location)?,
            Credentials::application_default(),
        )
    };
    println!("endpoint {}", endpoint.uri());

    let channel = AuthChannel::builder()
        .with_endpoint(endpoint)
        .with_credentials(credentials)
        .connect()
        .await?;
    let mut client = JobServiceClient::new(channel.clone());

    let request = ListBatchPredictionJobsRequest {
        parent: parent.clone(),
        page_size: 10,
        ..Default::default()
    };
    let page = client
        .list_batch_prediction_jobs(routing::with_parent(tonic::Request::new(request), &parent))
        .await
        .map_err(|status| channel.error_from_status(status))?
        .into_inner();
    for job in &page.batch_prediction_jobs {
        println!("{}  {:?}  {}", job.name, job.state(), job.display_name);
    }

    if let Some(first) = page.batch_prediction_jobs.first() {
        let name = first.name.clone();
        let request = GetBatchPredictionJobRequest { name: name.clone() };
        let job = client
            .get_batch_prediction_job(routing::with_name(tonic::Request::new(request), &name))
            .await
            .map_err(|status| channel.error_from_status(status))?
            .into_inner();
        println!("got {} created {:?}", job.name, job.create_time);
    }
    Ok(())
}

#[cfg(feature = "emulator")]
async fn start_emulator(
    location: &str,
    parent: &str,
) -> anyhow::Result<(
    Option<vertex_batch::emulator::EmulatorHandle>,
    Endpoint,
    Credentials,
)> {
    use vertex_batch::v1::batch_prediction_job::{
        InputConfig, OutputConfig, input_config, output_config,
    };
    use vertex_batch::v1::{
        BatchPredictionJob, CreateBatchPredictionJobRequest, GcsDestination, GcsSource,
    };

    let emu = vertex_batch::emulator::Emulator::builder()
        .location(location)
        .tls(true)
        .require_auth(true)
        .start()
        .await?;
    let ca = emu
        .ca_pem()
        .ok_or_else(|| anyhow::anyhow!("the emulator was started with TLS"))?;
    let endpoint = Endpoint::custom(&emu.uri())?.with_ca_pem(ca);
    let credentials = Credentials::service_account_json(emu.service_account_key().json);

    // One job to list, created through the same raw stub and channel.
    let channel = AuthChannel::builder()
        .with_endpoint(endpoint.clone())
        .with_credentials(credentials.clone())
        .connect()
        .await?;
    let job = BatchPredictionJob {
        display_name: "raw-stub-example".into(),
        model: "publishers/google/models/gemini-2.0-flash-001".into(),
        input_config: Some(InputConfig {
            instances_format: "jsonl".into(),
            source: Some(input_config::Source::GcsSource(GcsSource {
                uris: vec!["gs://example-bucket/input.jsonl".into()],
            })),
        }),
        output_config: Some(OutputConfig {
            predictions_format: "jsonl".into(),
            destination: Some(output_config::Destination::GcsDestination(GcsDestination {
                output_uri_prefix: "gs://example-bucket/output".into(),
            })),
        }),
        ..Default::default()
    };
    let request = CreateBatchPredictionJobRequest {
        parent: parent.to_owned(),
        batch_prediction_job: Some(job),
    };
    JobServiceClient::new(channel.clone())
        .create_batch_prediction_job(routing::with_parent(tonic::Request::new(request), parent))
        .await
        .map_err(|status| channel.error_from_status(status))?;
    Ok((Some(emu), endpoint, credentials))
}

#[cfg(not(feature = "emulator"))]
async fn start_emulator(
    _location: &str,
    _parent: &str,
) -> anyhow::Result<(Option<()>, Endpoint, Credentials)> {
    anyhow::bail!(
        "--emulator needs the emulator: cargo run --example raw_stub --features emulator -- --emulator"
    )
}

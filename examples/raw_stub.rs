//! The generated `JobServiceClient`, used directly on the crate's authenticated channel: every
//! JobService RPC is there (custom jobs, tuning jobs, ...), not only batch prediction. The
//! channel adds the token, the quota project and the client headers; the routing header
//! (`x-goog-request-params`) is added per call with `vertex_batch::routing`.
//!
//! This is the Java and Node.js samples' shape: build the `BatchPredictionJob` message by hand,
//! create it, then read it back and list the location's jobs.
//!
//! ```text
//! cargo run --example raw_stub --features emulator -- --emulator
//! cargo run --example raw_stub --features emulator -- --project my-project --location us-central1
//! ```

mod common;

use clap::Parser;
use tonic::Request;
use vertex_batch::routing::{with_name, with_parent};
use vertex_batch::transport::AuthChannel;
use vertex_batch::v1::batch_prediction_job::{
    InputConfig, OutputConfig, input_config, output_config,
};
use vertex_batch::v1::job_service_client::JobServiceClient;
use vertex_batch::v1::{
    BatchPredictionJob, CreateBatchPredictionJobRequest, GcsDestination, GcsSource,
    GetBatchPredictionJobRequest, ListBatchPredictionJobsRequest,
};

/// Create, get and list batch prediction jobs with the generated client.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: common::Target,
    /// Where the predictions go, `gs://BUCKET/PREFIX` (with --emulator, any bucket will do).
    #[arg(long)]
    output: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let session = args.target.start().await?;
    let output = match (args.output, &session.emulator) {
        (Some(output), _) => output,
        (None, Some(_)) => "gs://my-bucket/raw-stub".to_owned(),
        (None, None) => anyhow::bail!("pass --output gs://BUCKET/PREFIX: where the predictions go"),
    };
    let channel = AuthChannel::builder()
        .with_endpoint(session.endpoint.clone())
        .with_credentials(session.credentials.clone())
        .connect()
        .await?;
    let mut jobs = JobServiceClient::new(channel.clone());
    let parent = session.parent.to_string();

    let job = BatchPredictionJob {
        display_name: "raw-stub".into(),
        model: "publishers/google/models/gemini-2.0-flash-001".into(),
        input_config: Some(InputConfig {
            instances_format: "jsonl".into(),
            source: Some(input_config::Source::GcsSource(GcsSource {
                uris: vec![
                    "gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl".into(),
                ],
            })),
        }),
        output_config: Some(OutputConfig {
            predictions_format: "jsonl".into(),
            destination: Some(output_config::Destination::GcsDestination(GcsDestination {
                output_uri_prefix: output,
            })),
        }),
        ..Default::default()
    };
    let request = CreateBatchPredictionJobRequest {
        parent: parent.clone(),
        batch_prediction_job: Some(job),
    };
    // A raw Create is sent once: nothing here retries it (JobClient::create makes it safe to).
    let created = jobs
        .create_batch_prediction_job(with_parent(Request::new(request), &parent))
        .await
        .map_err(|status| channel.error_from_status(status))?
        .into_inner();
    println!("Created: {}", created.name);

    let request = GetBatchPredictionJobRequest {
        name: created.name.clone(),
    };
    let job = jobs
        .get_batch_prediction_job(with_name(Request::new(request), &created.name))
        .await
        .map_err(|status| channel.error_from_status(status))?
        .into_inner();
    println!("Got: {} {:?}", job.name, job.state());

    let request = ListBatchPredictionJobsRequest {
        parent: parent.clone(),
        page_size: 10,
        ..Default::default()
    };
    let page = jobs
        .list_batch_prediction_jobs(with_parent(Request::new(request), &parent))
        .await
        .map_err(|status| channel.error_from_status(status))?
        .into_inner();
    println!(
        "Listed {} job(s) in {parent}:",
        page.batch_prediction_jobs.len()
    );
    for job in page.batch_prediction_jobs {
        println!("  {}  {:?}  {}", job.name, job.state(), job.display_name);
    }
    Ok(())
}

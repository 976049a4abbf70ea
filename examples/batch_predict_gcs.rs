//! The documented Cloud Storage sample (Python, Node.js, Java, Go): a Gemini batch job reading
//! JSONL prompts from Cloud Storage and writing predictions back to it, with temperature 0.2 and
//! at most 200 output tokens; it waits until the job ends, then says where the results are.
//!
//! ```text
//! # offline, against the embedded emulator (TLS, service-account token flow):
//! cargo run --example batch_predict_gcs --features emulator -- --emulator
//! # against Vertex AI, with Application Default Credentials:
//! cargo run --example batch_predict_gcs --features emulator -- \
//!     --project my-project --location us-central1 --output gs://my-bucket/batch-output
//! ```

mod common;

use clap::Parser;
use vertex_batch::{BatchJob, BatchPredictionJobExt, GenerationConfig, JobStateExt};

/// Submit a Gemini batch prediction job over Cloud Storage and wait for it.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: common::Target,
    /// The model.
    #[arg(long, default_value = "gemini-2.0-flash-001")]
    model: String,
    /// The JSONL prompts.
    #[arg(
        long,
        default_value = "gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl"
    )]
    input: String,
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
        (None, Some(_)) => "gs://my-bucket/gen-ai-batch-prediction".to_owned(),
        (None, None) => anyhow::bail!("pass --output gs://BUCKET/PREFIX: where the predictions go"),
    };
    let client = session.client().await?;

    let job = client
        .create(
            BatchJob::builder(&args.model)
                .with_display_name("batch-predict-gcs")
                .with_input(&args.input)
                .with_output(&output)
                .with_generation_config(
                    GenerationConfig::new()
                        .with_temperature(0.2)
                        .with_max_output_tokens(200),
                ),
        )
        .await?;
    println!("Job resource name: {}", job.name);
    println!("Model resource name with the job: {}", job.model);
    println!("Job state: {}", job.state().short_name());

    // Polls at a growing interval, and reports each change of state.
    let mut last = job.state();
    let job = client
        .wait_with(&job.name, client.wait_options(), |job| {
            if job.state() != last {
                last = job.state();
                println!("Job state: {} ({})", last.short_name(), job.progress());
            }
        })
        .await?;

    if job.has_succeeded() {
        println!("Job succeeded!");
    } else {
        let why = job.job_error().map(|e| e.message.as_str()).unwrap_or("");
        println!("Job ended {}: {why}", job.state().short_name());
    }
    match job.output_location() {
        Some(location) => println!("Job output location: {location}"),
        None => println!("Job output location: none reported"),
    }
    Ok(())
}

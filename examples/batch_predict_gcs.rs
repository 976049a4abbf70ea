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
use vertex_batch::GenerationConfig;
use vertex_batch::v1::BatchPredictionJob;

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
            BatchPredictionJob::builder(&args.model)
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
    common::follow(&client, job).await
}

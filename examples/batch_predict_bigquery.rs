//! The documented BigQuery sample (Python, Node.js, Java, Go): a Gemini batch job reading
//! prompts from a BigQuery table and writing predictions to a BigQuery dataset or table; it
//! waits until the job ends, then says which table holds the results.
//!
//! ```text
//! # offline, against the embedded emulator (TLS, service-account token flow):
//! cargo run --example batch_predict_bigquery --features emulator -- --emulator
//! # against Vertex AI, with Application Default Credentials:
//! cargo run --example batch_predict_bigquery --features emulator -- \
//!     --project my-project --location us-central1 --output bq://my-project.my_dataset
//! ```
//!
//! BigQuery batch jobs need a regional location: the global endpoint does not serve them, and
//! the datasets must be in the job's region.

mod common;

use clap::Parser;
use vertex_batch::GenerationConfig;
use vertex_batch::v1::BatchPredictionJob;

/// Submit a Gemini batch prediction job over BigQuery and wait for it.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: common::Target,
    /// The model.
    #[arg(long, default_value = "gemini-2.0-flash-001")]
    model: String,
    /// The table of prompts, `bq://PROJECT.DATASET.TABLE`.
    #[arg(
        long,
        default_value = "bq://storage-samples.generative_ai.batch_requests_for_multimodal_input"
    )]
    input: String,
    /// Where the predictions go, `bq://PROJECT.DATASET` or `bq://PROJECT.DATASET.TABLE`.
    #[arg(long)]
    output: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let session = args.target.start().await?;
    let output = match (args.output, &session.emulator) {
        (Some(output), _) => output,
        (None, Some(_)) => format!("bq://{}.gen_ai_batch_prediction", session.parent.project()),
        (None, None) => {
            anyhow::bail!("pass --output bq://PROJECT.DATASET: where the predictions go")
        }
    };
    let client = session.client().await?;

    let job = client
        .create(
            BatchPredictionJob::builder(&args.model)
                .with_display_name("batch-predict-bigquery")
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

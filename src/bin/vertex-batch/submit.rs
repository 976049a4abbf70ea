//! `submit` (a job from flags) and `create` (a job from a REST request body).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use vertex_batch::BatchJob;

use crate::connect::Globals;
use crate::generation::GenerationArgs;
use crate::print::Format;
use crate::wait::{self, WaitAfter};

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  vertex-batch --project my-project submit gemini-2.0-flash-001 \\
      --input gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl \\
      --output gs://my-bucket/out --temperature 0.2 --max-output-tokens 200 --wait
  vertex-batch --project my-project submit gemini-2.0-flash-001 \\
      --input bq://my-project.ds.prompts --output bq://my-project.ds --param seed=42 --label team=ml")]
pub struct SubmitArgs {
    /// The model: `gemini-2.0-flash-001`, `publishers/google/models/...`, or a tuned model
    /// `projects/P/locations/L/models/ID`.
    model: String,
    /// The prompts: gs://BUCKET/FILE.jsonl (repeat for several files) or bq://PROJECT.DATASET.TABLE.
    #[arg(long, required = true, value_name = "URI")]
    input: Vec<String>,
    /// Where predictions go: gs://BUCKET/PREFIX or bq://PROJECT.DATASET[.TABLE].
    #[arg(long, value_name = "URI")]
    output: String,
    /// The job's display name (default: a generated `vertex-batch-...` name).
    #[arg(long)]
    display_name: Option<String>,
    #[command(flatten)]
    generation: GenerationArgs,
    /// A label KEY=VALUE. Repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    labels: Vec<(String, String)>,
    #[command(flatten)]
    then: WaitAfter,
    #[command(flatten)]
    format: Format,
}

#[derive(clap::Args)]
#[command(after_help = r#"Examples:
  vertex-batch --project my-project create --request request.json
  echo '{"displayName": "my-cloud-storage-batch-prediction-job",
        "model": "publishers/google/models/gemini-2.0-flash-001",
        "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": "gs://my-bucket/in.jsonl"}},
        "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": "gs://my-bucket/out"}}}' \
    | vertex-batch --project my-project create --request -"#)]
pub struct CreateArgs {
    /// The request body as in the REST docs (a BatchPredictionJob in proto3 JSON; `uris` may be
    /// a single string), from a file or `-` for stdin.
    #[arg(long, value_name = "FILE|-")]
    request: PathBuf,
    #[command(flatten)]
    then: WaitAfter,
    #[command(flatten)]
    format: Format,
}

pub async fn submit(globals: &Globals, args: SubmitArgs) -> anyhow::Result<ExitCode> {
    let config = args.generation.config();
    let mut job = BatchJob::builder(args.model)
        .with_inputs(args.input)
        .with_output(args.output)
        .with_labels(args.labels);
    if let Some(name) = args.display_name {
        job = job.with_display_name(name);
    }
    if !config.is_empty() {
        job = job.with_generation_config(config);
    }
    let connected = globals.connect().await?;
    let job = connected.client.create(job).await?;
    finish(&connected.client, job, &args.then, &args.format).await
}

pub async fn create(globals: &Globals, args: CreateArgs) -> anyhow::Result<ExitCode> {
    let body = if args.request.as_os_str() == "-" {
        let mut body = String::new();
        std::io::stdin()
            .read_to_string(&mut body)
            .context("--request -: could not read stdin")?;
        body
    } else {
        std::fs::read_to_string(&args.request)
            .with_context(|| format!("--request {}: could not read it", args.request.display()))?
    };
    let job = vertex_batch::json::job_from_json(&body).context("--request")?;
    let connected = globals.connect().await?;
    let job = connected.client.create_job(job).await?;
    finish(&connected.client, job, &args.then, &args.format).await
}

/// Prints the created job, or waits for it to end.
async fn finish(
    client: &vertex_batch::JobClient,
    job: vertex_batch::v1::BatchPredictionJob,
    then: &WaitAfter,
    format: &Format,
) -> anyhow::Result<ExitCode> {
    if !then.wait {
        format.job(&job)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !format.json {
        eprintln!("submitted {}", job.name);
    }
    wait::follow(client, &job.name, &then.poll, format).await
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE, e.g. team=ml"))?;
    Ok((key.to_owned(), value.to_owned()))
}

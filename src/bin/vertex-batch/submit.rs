//! `submit`: a job from flags.

use serde_json::Value as Json;
use vertex_batch::GenerationConfig;
use vertex_batch::v1::BatchPredictionJob;

use crate::connect::Globals;
use crate::exit::Exit;
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
    /// Sampling temperature.
    #[arg(long)]
    temperature: Option<f64>,
    /// The most tokens each answer may have.
    #[arg(long)]
    max_output_tokens: Option<u32>,
    /// Nucleus sampling: the probability mass to sample from.
    #[arg(long)]
    top_p: Option<f64>,
    /// Sample from the K most likely tokens.
    #[arg(long)]
    top_k: Option<u32>,
    /// Any other generation parameter as KEY=JSON, e.g. seed=42, stopSequences='["END"]',
    /// responseMimeType='"application/json"'. Repeatable.
    #[arg(long = "param", value_name = "KEY=JSON", value_parser = parse_param)]
    params: Vec<(String, Json)>,
    /// A label KEY=VALUE. Repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    labels: Vec<(String, String)>,
    #[command(flatten)]
    then: WaitAfter,
    #[command(flatten)]
    format: Format,
}

pub async fn run(globals: &Globals, args: SubmitArgs) -> anyhow::Result<Exit> {
    let mut config = GenerationConfig::new();
    if let Some(t) = args.temperature {
        config = config.with_temperature(t);
    }
    if let Some(n) = args.max_output_tokens {
        config = config.with_max_output_tokens(n);
    }
    if let Some(p) = args.top_p {
        config = config.with_top_p(p);
    }
    if let Some(k) = args.top_k {
        config = config.with_top_k(k);
    }
    for (key, value) in args.params {
        config = config.with_param(key, value);
    }
    let mut job = BatchPredictionJob::builder(args.model)
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
    wait::print_or_follow(&connected.client, job, &args.then, &args.format).await
}

fn parse_param(s: &str) -> Result<(String, Json), String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=JSON, e.g. seed=42"))?;
    let value = serde_json::from_str(value).map_err(|e| {
        format!("the value of `{key}` is not JSON ({e}); quote strings: {key}='\"text\"'")
    })?;
    Ok((key.to_owned(), value))
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE, e.g. team=ml"))?;
    Ok((key.to_owned(), value.to_owned()))
}

//! `submit`: a job from flags.

use vertex_batch::v1::BatchPredictionJob;

use crate::connect::Globals;
use crate::exit::Exit;
use crate::generation::{GenerationArgs, once};
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
    #[arg(long, allow_hyphen_values = true)]
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

pub async fn run(globals: &Globals, args: SubmitArgs) -> anyhow::Result<Exit> {
    let config = args.generation.config()?;
    let labels = args
        .labels
        .iter()
        .map(|(key, value)| (key, format!("--label {key}={value}")));
    once("label", labels, str::to_owned)?;
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

fn parse_label(s: &str) -> Result<(String, String), String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE, e.g. team=ml"))?;
    Ok((key.to_owned(), value.to_owned()))
}

//! `submit`: a job from flags.

use serde_json::Value as Json;
use vertex_batch::GenerationConfig;
use vertex_batch::v1::BatchPredictionJob;

use crate::connect::Globals;
use crate::exit::{Exit, Usage};
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
    // Numbers take a sign: `--temperature -1` is a value for the service to judge, not a flag.
    /// Sampling temperature.
    #[arg(long, allow_negative_numbers = true)]
    temperature: Option<f64>,
    /// The most tokens each answer may have.
    #[arg(long, allow_negative_numbers = true)]
    max_output_tokens: Option<u32>,
    /// Nucleus sampling: the probability mass to sample from.
    #[arg(long, allow_negative_numbers = true)]
    top_p: Option<f64>,
    /// Sample from the K most likely tokens.
    #[arg(long, allow_negative_numbers = true)]
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
    let config = generation_config(&args)?;
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

/// The generation parameters, each given once: by its own flag or by `--param`, not both (the
/// one given last would win, silently).
fn generation_config(args: &SubmitArgs) -> anyhow::Result<GenerationConfig> {
    let mut config = GenerationConfig::new();
    // Each flag with its wire name, as `--param` would give it.
    let mut given: Vec<(&str, String)> = Vec::new();
    if let Some(t) = args.temperature {
        config = config.with_temperature(t);
        given.push(("temperature", format!("--temperature {t}")));
    }
    if let Some(n) = args.max_output_tokens {
        config = config.with_max_output_tokens(n);
        given.push(("maxOutputTokens", format!("--max-output-tokens {n}")));
    }
    if let Some(p) = args.top_p {
        config = config.with_top_p(p);
        given.push(("topP", format!("--top-p {p}")));
    }
    if let Some(k) = args.top_k {
        config = config.with_top_k(k);
        given.push(("topK", format!("--top-k {k}")));
    }
    for (key, value) in &args.params {
        given.push((key, format!("--param {key}={value}")));
        config = config.with_param(key.clone(), value.clone());
    }
    once("parameter", given, wire_name)?;
    Ok(config)
}

/// A parameter name as the service reads it: `max_output_tokens`, `maxOutputTokens` and
/// `MAXOUTPUTTOKENS` are one parameter to proto3 JSON parsers.
fn wire_name(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Refuses a `what` (a label, a parameter) given twice, by the argument (key, argument) pairs
/// that give them: the second would replace the first without a word. Two keys are the same
/// when `same` makes the same text of them.
fn once<K: AsRef<str>>(
    what: &str,
    given: impl IntoIterator<Item = (K, String)>,
    same: fn(&str) -> String,
) -> anyhow::Result<()> {
    let mut seen: Vec<(String, String)> = Vec::new();
    for (key, argument) in given {
        let folded = same(key.as_ref());
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == folded) {
            return Err(Usage(format!(
                "`{argument}` and `{first}` both set the {what} `{}`: give it once",
                key.as_ref()
            ))
            .into());
        }
        seen.push((folded, argument));
    }
    Ok(())
}

fn parse_param(s: &str) -> Result<(String, Json), String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=JSON, e.g. seed=42"))?;
    if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{s}` has no parameter name before `=` (or one with spaces); expected KEY=JSON, \
             e.g. seed=42"
        ));
    }
    if let Err(e) = serde_json::from_str::<Json>(value) {
        return Err(format!(
            "the value of `{key}` is not JSON ({e}); quote strings: {key}='\"text\"'"
        ));
    }
    // Integers beyond 2^53, also those beyond 64 bits that parsing alone would round.
    let value = vertex_batch::params::json_from_str(value).map_err(|e| match e {
        vertex_batch::Error::InvalidInput { field, reason } => {
            format!("{}: {reason}", field.replacen("value", key, 1))
        }
        other => other.to_string(),
    })?;
    Ok((key.to_owned(), value))
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE, e.g. team=ml"))?;
    Ok((key.to_owned(), value.to_owned()))
}

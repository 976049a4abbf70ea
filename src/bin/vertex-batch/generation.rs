//! The generation flags `submit` and `run` share, and the rule that a parameter or label is
//! given once.

use serde_json::Value as Json;
use vertex_batch::GenerationConfig;

use crate::exit::Usage;

/// Generation settings as flags.
#[derive(clap::Args, Clone)]
pub struct GenerationArgs {
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
}

impl GenerationArgs {
    /// The settings the flags give (empty when none is set), each parameter given once: by its
    /// own flag or by `--param`, not both (the one given last would win, silently).
    pub fn config(self) -> anyhow::Result<GenerationConfig> {
        let mut config = GenerationConfig::new();
        // Each flag with its wire name, as `--param` would give it.
        let mut given: Vec<(String, String)> = Vec::new();
        if let Some(t) = self.temperature {
            config = config.with_temperature(t);
            given.push(("temperature".into(), format!("--temperature {t}")));
        }
        if let Some(n) = self.max_output_tokens {
            config = config.with_max_output_tokens(n);
            given.push(("maxOutputTokens".into(), format!("--max-output-tokens {n}")));
        }
        if let Some(p) = self.top_p {
            config = config.with_top_p(p);
            given.push(("topP".into(), format!("--top-p {p}")));
        }
        if let Some(k) = self.top_k {
            config = config.with_top_k(k);
            given.push(("topK".into(), format!("--top-k {k}")));
        }
        for (key, value) in self.params {
            given.push((key.clone(), format!("--param {key}={value}")));
            config = config.with_param(key, value);
        }
        once("parameter", given, wire_name)?;
        Ok(config)
    }
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
pub fn once<K: AsRef<str>>(
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
    let value = vertex_batch::params::json_from_str_at(value, key).map_err(|e| match e {
        vertex_batch::Error::InvalidInput { field, reason } => format!("{field}: {reason}"),
        other => other.to_string(),
    })?;
    Ok((key.to_owned(), value))
}

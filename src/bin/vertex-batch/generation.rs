//! The generation flags `submit` and `run` share.

use serde_json::Value as Json;
use vertex_batch::GenerationConfig;

/// Generation settings as flags.
#[derive(clap::Args)]
pub struct GenerationArgs {
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
}

impl GenerationArgs {
    /// The settings the flags give (empty when none is set).
    pub fn config(self) -> GenerationConfig {
        let mut config = GenerationConfig::new();
        if let Some(t) = self.temperature {
            config = config.with_temperature(t);
        }
        if let Some(n) = self.max_output_tokens {
            config = config.with_max_output_tokens(n);
        }
        if let Some(p) = self.top_p {
            config = config.with_top_p(p);
        }
        if let Some(k) = self.top_k {
            config = config.with_top_k(k);
        }
        for (key, value) in self.params {
            config = config.with_param(key, value);
        }
        config
    }
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

//! The batch job builder: everything a user writes about a job, validated into a
//! `v1::BatchPredictionJob` before any call.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value as Json;

use super::display_name::{default_display_name, validate_display_name};
use super::uri::{Input, Output, parse_input, parse_output};
use crate::error::{Error, Result};
use crate::names::{LocationName, ModelName};
use crate::params::{GenerationConfig, json_to_value_at};
use crate::v1::batch_prediction_job::{InputConfig, OutputConfig, input_config, output_config};
use crate::v1::{
    BatchPredictionJob, BigQueryDestination, BigQuerySource, EncryptionSpec, GcsDestination,
    GcsSource,
};

/// The label key the client stamps on every job it creates with a client-generated request id,
/// so that a Create whose answer was lost can be looked up instead of repeated. It is reserved:
/// a user label with this key is refused. Underscores, not hyphens: the key goes into a List
/// filter (`labels.vertex_batch_request_id="..."`), whose field names are identifiers (AIP-160).
///
/// ```
/// assert_eq!(vertex_batch::REQUEST_ID_LABEL, "vertex_batch_request_id");
/// ```
pub const REQUEST_ID_LABEL: &str = "vertex_batch_request_id";

/// GCP allows 64 labels per resource; one is kept for [`REQUEST_ID_LABEL`].
const MAX_USER_LABELS: usize = 63;

/// The longest label key or value, in characters.
const MAX_LABEL_CHARS: usize = 63;

/// The hint given whenever the global endpoint cannot serve a job.
const USE_REGIONAL: &str = "use a regional location such as `us-central1` or `europe-west4`";

/// Where to start building a batch prediction job: `BatchPredictionJob::builder`.
///
/// ```
/// use vertex_batch::{GenerationConfig, LocationName, v1::BatchPredictionJob};
///
/// let parent = LocationName::new("my-project", "us-central1")?;
/// let job = BatchPredictionJob::builder("gemini-2.0-flash-001")
///     .with_display_name("my-job")
///     .with_input("gs://my-bucket/prompts.jsonl")
///     .with_output("gs://my-bucket/out/")
///     .with_generation_config(GenerationConfig::new().with_temperature(0.2).with_max_output_tokens(200))
///     .with_label("team", "ml")
///     .build(&parent)?;
/// assert_eq!(job.model, "publishers/google/models/gemini-2.0-flash-001");
/// assert_eq!(job.input_config.as_ref().map(|c| c.instances_format.as_str()), Some("jsonl"));
/// # Ok::<(), vertex_batch::Error>(())
/// ```
impl BatchPredictionJob {
    /// A builder for a job running `model`: a bare id (`gemini-2.0-flash-001`), `models/X`,
    /// `PUB/MODEL`, a `publishers/...` name or a tuned model
    /// `projects/P/locations/L/models/ID[@VERSION]`. It is resolved and checked in
    /// [`BatchJobBuilder::build`]; [`JobClient::create`](crate::JobClient::create) takes the
    /// builder and builds it under the client's location.
    ///
    /// ```
    /// # use vertex_batch::{LocationName, v1::BatchPredictionJob};
    /// let parent = LocationName::new("my-project", "us-central1")?;
    /// let job = BatchPredictionJob::builder("anthropic/claude-3-5-haiku@20241022")
    ///     .with_input("gs://my-bucket/prompts.jsonl")
    ///     .with_output("gs://my-bucket/out/")
    ///     .build(&parent)?;
    /// assert_eq!(job.model, "publishers/anthropic/models/claude-3-5-haiku@20241022");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn builder(model: impl Into<String>) -> BatchJobBuilder {
        BatchJobBuilder::new(model)
    }
}

/// Collects what a batch prediction job should do; [`BatchJobBuilder::build`] validates it all
/// and makes the `v1::BatchPredictionJob` to send.
///
/// Inputs and outputs are chosen by scheme: `gs://` input files are a `gcs_source` in format
/// `jsonl`, a `bq://project.dataset.table` input is a `bigquery_source` in format `bigquery`;
/// a `gs://` output is a `gcs_destination` prefix in `jsonl`, a `bq://project[.dataset[.table]]`
/// output a `bigquery_destination` in `bigquery`. Formats can be set explicitly.
///
/// ```
/// use vertex_batch::{LocationName, v1::BatchPredictionJob};
///
/// // The documented BigQuery sample.
/// let parent = LocationName::new("my-project", "us-central1")?;
/// let job = BatchPredictionJob::builder("gemini-1.5-flash-002")
///     .with_display_name("my-bigquery-batch-prediction-job")
///     .with_input("bq://storage-samples.generative_ai.batch_requests_for_multimodal_input")
///     .with_output("bq://my-project.my_dataset.output_result")
///     .build(&parent)?;
/// assert_eq!(job.output_config.as_ref().map(|c| c.predictions_format.as_str()), Some("bigquery"));
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct BatchJobBuilder {
    model: String,
    display_name: Option<String>,
    inputs: Vec<String>,
    output: Option<String>,
    instances_format: Option<String>,
    predictions_format: Option<String>,
    generation_config: GenerationConfig,
    model_parameters: Option<Json>,
    labels: BTreeMap<String, String>,
    service_account: Option<String>,
    encryption_key: Option<String>,
}

impl BatchJobBuilder {
    /// Same as [`BatchPredictionJob::builder`].
    ///
    /// ```
    /// # use vertex_batch::BatchJobBuilder;
    /// let builder = BatchJobBuilder::new("gemini-2.0-flash-001");
    /// # let _ = builder;
    /// ```
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            display_name: None,
            inputs: Vec::new(),
            output: None,
            instances_format: None,
            predictions_format: None,
            generation_config: GenerationConfig::default(),
            model_parameters: None,
            labels: BTreeMap::new(),
            service_account: None,
            encryption_key: None,
        }
    }

    /// The name shown in the console and matched by list filters. At most 128 characters.
    /// Without one, the job is called `vertex-batch-<yyyymmdd-hhmmss>-<4 hex digits>` (UTC).
    ///
    /// ```
    /// # use vertex_batch::{LocationName, v1::BatchPredictionJob};
    /// # let parent = LocationName::new("my-project", "us-central1")?;
    /// let builder = BatchPredictionJob::builder("gemini-2.0-flash-001")
    ///     .with_input("gs://my-bucket/prompts.jsonl")
    ///     .with_output("gs://my-bucket/out/");
    /// assert!(builder.build(&parent)?.display_name.starts_with("vertex-batch-"));
    /// assert_eq!(builder.with_display_name("nightly").build(&parent)?.display_name, "nightly");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_display_name(mut self, display_name: impl Into<String>) -> Self {
        self.display_name = Some(display_name.into());
        self
    }

    /// Adds an input: a `gs://bucket/file.jsonl` (repeatable, wildcards allowed) or one
    /// `bq://project.dataset.table`.
    ///
    /// ```
    /// # use vertex_batch::{LocationName, v1::BatchPredictionJob};
    /// # let parent = LocationName::new("my-project", "us-central1")?;
    /// let job = BatchPredictionJob::builder("gemini-2.0-flash-001")
    ///     .with_input("gs://my-bucket/a.jsonl")
    ///     .with_input("gs://my-bucket/b.jsonl")
    ///     .with_output("gs://my-bucket/out/")
    ///     .build(&parent)?;
    /// # use vertex_batch::v1::batch_prediction_job::input_config::Source;
    /// let Some(Source::GcsSource(gcs)) = job.input_config.and_then(|c| c.source) else { panic!() };
    /// assert_eq!(gcs.uris, ["gs://my-bucket/a.jsonl", "gs://my-bucket/b.jsonl"]);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_input(mut self, uri: impl Into<String>) -> Self {
        self.inputs.push(uri.into());
        self
    }

    /// Adds several inputs; see [`BatchJobBuilder::with_input`].
    ///
    /// ```
    /// # use vertex_batch::{LocationName, v1::BatchPredictionJob};
    /// # let parent = LocationName::new("my-project", "us-central1")?;
    /// let job = BatchPredictionJob::builder("gemini-2.0-flash-001")
    ///     .with_inputs(["gs://my-bucket/a.jsonl", "gs://my-bucket/b.jsonl"])
    ///     .with_output("gs://my-bucket/out/")
    ///     .build(&parent)?;
    /// assert!(job.input_config.is_some());
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_inputs<I, S>(mut self, uris: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inputs.extend(uris.into_iter().map(Into::into));
        self
    }

    /// Sets the output: a `gs://bucket/prefix/` (the service makes a directory under it) or a
    /// BigQuery `bq://project[.dataset[.table]]`. A later call replaces an earlier one.
    ///
    /// ```
    /// # use vertex_batch::{LocationName, v1::BatchPredictionJob};
    /// # let parent = LocationName::new("my-project", "us-central1")?;
    /// let job = BatchPredictionJob::builder("gemini-2.0-flash-001")
    ///     .with_input("gs://my-bucket/prompts.jsonl")
    ///     .with_output("bq://my-project.results")
    ///     .build(&parent)?;
    /// assert_eq!(job.output_config.map(|c| c.predictions_format), Some("bigquery".to_owned()));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_output(mut self, uri: impl Into<String>) -> Self {
        self.output = Some(uri.into());
        self
    }

    /// Overrides the input format chosen from the scheme (`jsonl` for `gs://`, `bigquery` for
    /// `bq://`), e.g. `csv` or `tf-record` for other models. `bigquery` goes only with a
    /// `bq://` input, and a `bq://` input only with `bigquery`.
    ///
    /// ```
    /// # use vertex_batch::{LocationName, v1::BatchPredictionJob};
    /// # let parent = LocationName::new("my-project", "us-central1")?;
    /// let job = BatchPredictionJob::builder("projects/my-project/locations/us-central1/models/42")
    ///     .with_input("gs://my-bucket/instances.csv")
    ///     .with_instances_format("csv")
    ///     .with_output("gs://my-bucket/out/")
    ///     .build(&parent)?;
    /// assert_eq!(job.input_config.map(|c| c.instances_format), Some("csv".to_owned()));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_instances_format(mut self, format: impl Into<String>) -> Self {
        self.instances_format = Some(format.into());
        self
    }

    /// Overrides the output format chosen from the scheme (`jsonl` for `gs://`, `bigquery` for
    /// `bq://`). `bigquery` goes only with a `bq://` output, and a `bq://` output only with
    /// `bigquery`.
    ///
    /// ```
    /// # use vertex_batch::{LocationName, v1::BatchPredictionJob};
    /// # let parent = LocationName::new("my-project", "us-central1")?;
    /// let err = BatchPredictionJob::builder("gemini-2.0-flash-001")
    ///     .with_input("gs://my-bucket/prompts.jsonl")
    ///     .with_output("gs://my-bucket/out/")
    ///     .with_predictions_format("bigquery")
    ///     .build(&parent)
    ///     .unwrap_err();
    /// assert!(err.to_string().starts_with("invalid output_config.predictions_format:"));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_predictions_format(mut self, format: impl Into<String>) -> Self {
        self.predictions_format = Some(format.into());
        self
    }

    /// Sets the typed model parameters (temperature, maxOutputTokens, ...). They apply to
    /// every request of the job; per-request `generationConfig` in the input file wins.
    ///
    /// ```
    /// # use vertex_batch::{GenerationConfig, LocationName, v1::BatchPredictionJob};
    /// # use vertex_batch::params::value_to_json;
    /// # let parent = LocationName::new("my-project", "us-central1")?;
    /// let job = BatchPredictionJob::builder("gemini-2.0-flash-001")
    ///     .with_input("gs://my-bucket/prompts.jsonl")
    ///     .with_output("gs://my-bucket/out/")
    ///     .with_generation_config(GenerationConfig::new().with_temperature(0.2).with_max_output_tokens(200))
    ///     .build(&parent)?;
    /// let params = value_to_json(job.model_parameters.as_ref().expect("set"))?;
    /// assert_eq!(params, serde_json::json!({"temperature": 0.2, "maxOutputTokens": 200}));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_generation_config(mut self, config: GenerationConfig) -> Self {
        self.generation_config = config;
        self
    }

    /// Sets model parameters from raw JSON: an object whose keys are sent as written. Its keys
    /// are merged over those of [`BatchJobBuilder::with_generation_config`] and win on a clash.
    ///
    /// ```
    /// # use vertex_batch::{GenerationConfig, LocationName, v1::BatchPredictionJob};
    /// # use vertex_batch::params::value_to_json;
    /// # let parent = LocationName::new("my-project", "us-central1")?;
    /// let job = BatchPredictionJob::builder("gemini-2.0-flash-001")
    ///     .with_input("gs://my-bucket/prompts.jsonl")
    ///     .with_output("gs://my-bucket/out/")
    ///     .with_generation_config(GenerationConfig::new().with_temperature(0.2).with_seed(1))
    ///     .with_model_parameters(serde_json::json!({"temperature": 0.9, "topK": 3}))
    ///     .build(&parent)?;
    /// let params = value_to_json(job.model_parameters.as_ref().expect("set"))?;
    /// assert_eq!(params, serde_json::json!({"temperature": 0.9, "seed": 1, "topK": 3}));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_model_parameters(mut self, parameters: Json) -> Self {
        self.model_parameters = Some(parameters);
        self
    }

    /// Adds a label. Keys start with a lower-case letter; keys and values are lower-case
    /// letters, digits, `_` and `-`, at most 63 characters; at most 63 labels (GCP's 64 less
    /// the one kept for [`REQUEST_ID_LABEL`]). A later value for a key replaces an earlier one.
    ///
    /// ```
    /// # use vertex_batch::{LocationName, v1::BatchPredictionJob};
    /// # let parent = LocationName::new("my-project", "us-central1")?;
    /// let builder = BatchPredictionJob::builder("gemini-2.0-flash-001")
    ///     .with_input("gs://my-bucket/prompts.jsonl")
    ///     .with_output("gs://my-bucket/out/");
    /// assert_eq!(builder.clone().with_label("team", "ml").build(&parent)?.labels["team"], "ml");
    /// let err = builder.with_label("Team", "ml").build(&parent).unwrap_err();
    /// assert!(err.to_string().starts_with(r#"invalid labels["Team"]:"#));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds several labels; see [`BatchJobBuilder::with_label`].
    ///
    /// ```
    /// # use vertex_batch::{LocationName, v1::BatchPredictionJob};
    /// # let parent = LocationName::new("my-project", "us-central1")?;
    /// let job = BatchPredictionJob::builder("gemini-2.0-flash-001")
    ///     .with_input("gs://my-bucket/prompts.jsonl")
    ///     .with_output("gs://my-bucket/out/")
    ///     .with_labels([("team", "ml"), ("env", "prod")])
    ///     .build(&parent)?;
    /// assert_eq!(job.labels.len(), 2);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_labels<I, K, V>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.labels
            .extend(labels.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Runs the job as this service account (an email address) instead of the Vertex AI
    /// service agent.
    ///
    /// ```
    /// # use vertex_batch::{LocationName, v1::BatchPredictionJob};
    /// # let parent = LocationName::new("my-project", "us-central1")?;
    /// let job = BatchPredictionJob::builder("gemini-2.0-flash-001")
    ///     .with_input("gs://my-bucket/prompts.jsonl")
    ///     .with_output("gs://my-bucket/out/")
    ///     .with_service_account("batch@my-project.iam.gserviceaccount.com")
    ///     .build(&parent)?;
    /// assert_eq!(job.service_account, "batch@my-project.iam.gserviceaccount.com");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_service_account(mut self, email: impl Into<String>) -> Self {
        self.service_account = Some(email.into());
        self
    }

    /// Protects the job's outputs with a customer-managed key,
    /// `projects/P/locations/L/keyRings/R/cryptoKeys/K`.
    ///
    /// ```
    /// # use vertex_batch::{LocationName, v1::BatchPredictionJob};
    /// # let parent = LocationName::new("my-project", "us-central1")?;
    /// let key = "projects/my-project/locations/us-central1/keyRings/r/cryptoKeys/k";
    /// let job = BatchPredictionJob::builder("gemini-2.0-flash-001")
    ///     .with_input("gs://my-bucket/prompts.jsonl")
    ///     .with_output("gs://my-bucket/out/")
    ///     .with_encryption_key(key)
    ///     .build(&parent)?;
    /// assert_eq!(job.encryption_spec.map(|s| s.kms_key_name), Some(key.to_owned()));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_encryption_key(mut self, kms_key_name: impl Into<String>) -> Self {
        self.encryption_key = Some(kms_key_name.into());
        self
    }

    /// Validates everything and makes the job to create under `parent`. Nothing is sent.
    ///
    /// Each error names the field at fault (`model`, `display_name`,
    /// `input_config.gcs_source.uris[1]`, `output_config...`, `labels["Team"]`, ...) and
    /// says what is expected. Combinations the service refuses are refused here with the
    /// reason: several BigQuery inputs, BigQuery mixed with Cloud Storage, and BigQuery or
    /// tuned models in the `global` location, whose endpoint serves neither.
    ///
    /// ```
    /// # use vertex_batch::{LocationName, v1::BatchPredictionJob};
    /// let global = LocationName::new("my-project", "global")?;
    /// let err = BatchPredictionJob::builder("gemini-2.0-flash-001")
    ///     .with_input("bq://my-project.ds.prompts")
    ///     .with_output("bq://my-project.ds")
    ///     .build(&global)
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("global endpoint does not serve BigQuery"));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn build(&self, parent: &LocationName) -> Result<BatchPredictionJob> {
        let model = self.model(parent)?;
        let display_name = match &self.display_name {
            Some(name) => {
                validate_display_name(name)?;
                name.clone()
            }
            None => default_display_name(),
        };
        let input_config = self.input_config(parent)?;
        let output_config = self.output_config(parent)?;
        let model_parameters = self.model_parameters()?;
        let labels = self.labels()?;
        let service_account = self.service_account()?;
        let encryption_spec = self.encryption_spec()?;
        Ok(BatchPredictionJob {
            display_name,
            model,
            input_config: Some(input_config),
            output_config: Some(output_config),
            model_parameters,
            labels,
            service_account,
            encryption_spec,
            ..BatchPredictionJob::default()
        })
    }

    fn model(&self, parent: &LocationName) -> Result<String> {
        let model = ModelName::parse(&self.model)?;
        if parent.is_global() && model.is_tuned() {
            return Err(Error::invalid(
                "model",
                format!(
                    "{:?} is a tuned model and the global endpoint does not serve tuned models; \
                     {USE_REGIONAL}: the model's own, `{}`",
                    self.model,
                    model.location().unwrap_or("its region")
                ),
            ));
        }
        if let Some(location) = model.location()
            && location != parent.location()
        {
            return Err(Error::invalid(
                "model",
                format!(
                    "{:?} is in location `{location}` but the job would be created in `{}`; \
                     a job must be created in its model's location",
                    self.model,
                    parent.location()
                ),
            ));
        }
        Ok(model.to_string())
    }

    fn input_config(&self, parent: &LocationName) -> Result<InputConfig> {
        if self.inputs.is_empty() {
            return Err(Error::invalid(
                "input_config",
                "no input; add one with with_input(\"gs://bucket/prompts.jsonl\") or \
                 with_input(\"bq://project.dataset.table\")",
            ));
        }
        let inputs = self
            .inputs
            .iter()
            .enumerate()
            .map(|(i, uri)| parse_input(uri, i))
            .collect::<Result<Vec<_>>>()?;
        let bigquery = inputs
            .iter()
            .filter(|i| matches!(i, Input::BigQuery(_)))
            .count();
        let (source, default_format, format_field) = match (bigquery, inputs.as_slice()) {
            (0, _) => {
                let uris = inputs
                    .into_iter()
                    .filter_map(|i| match i {
                        Input::Gcs(uri) => Some(uri),
                        Input::BigQuery(_) => None,
                    })
                    .collect();
                (
                    input_config::Source::GcsSource(GcsSource { uris }),
                    "jsonl",
                    "input_config.instances_format",
                )
            }
            (1, [Input::BigQuery(uri)]) => {
                if parent.is_global() {
                    return Err(global_bigquery("input_config.bigquery_source.input_uri"));
                }
                (
                    input_config::Source::BigquerySource(BigQuerySource {
                        input_uri: uri.clone(),
                    }),
                    "bigquery",
                    "input_config.instances_format",
                )
            }
            (1, _) => {
                return Err(Error::invalid(
                    "input_config",
                    "mixes BigQuery and Cloud Storage inputs; a job reads either `gs://` files \
                     or one `bq://` table: create one job per kind",
                ));
            }
            _ => {
                return Err(Error::invalid(
                    "input_config",
                    format!(
                        "has {bigquery} BigQuery inputs; a job reads one `bq://` table: create \
                         one job per table, or union them into one table"
                    ),
                ));
            }
        };
        let instances_format = check_format(
            self.instances_format.as_deref(),
            default_format,
            format_field,
            "input",
        )?;
        Ok(InputConfig {
            instances_format,
            source: Some(source),
        })
    }

    fn output_config(&self, parent: &LocationName) -> Result<OutputConfig> {
        let Some(uri) = &self.output else {
            return Err(Error::invalid(
                "output_config",
                "no output; set one with with_output(\"gs://bucket/prefix/\") or \
                 with_output(\"bq://project.dataset\")",
            ));
        };
        let (destination, default_format) = match parse_output(uri)? {
            Output::Gcs(prefix) => (
                output_config::Destination::GcsDestination(GcsDestination {
                    output_uri_prefix: prefix,
                }),
                "jsonl",
            ),
            Output::BigQuery(output_uri) => {
                if parent.is_global() {
                    return Err(global_bigquery(
                        "output_config.bigquery_destination.output_uri",
                    ));
                }
                (
                    output_config::Destination::BigqueryDestination(BigQueryDestination {
                        output_uri,
                    }),
                    "bigquery",
                )
            }
        };
        let predictions_format = check_format(
            self.predictions_format.as_deref(),
            default_format,
            "output_config.predictions_format",
            "output",
        )?;
        Ok(OutputConfig {
            predictions_format,
            destination: Some(destination),
        })
    }

    fn model_parameters(&self) -> Result<Option<prost_types::Value>> {
        let Json::Object(mut merged) = self.generation_config.to_json()? else {
            return Err(Error::invalid(
                "generation_config",
                "did not encode as a JSON object",
            ));
        };
        match &self.model_parameters {
            None | Some(Json::Null) => {}
            Some(Json::Object(raw)) => merged.extend(raw.clone()),
            Some(other) => {
                return Err(Error::invalid(
                    "model_parameters",
                    format!(
                        "is {}, not an object; model parameters are a JSON object like \
                         {{\"temperature\": 0.2, \"maxOutputTokens\": 200}}",
                        json_kind(other)
                    ),
                ));
            }
        }
        if merged.is_empty() {
            return Ok(None);
        }
        if merged.keys().any(|key| key.trim().is_empty()) {
            return Err(Error::invalid(
                "model_parameters",
                "a parameter's name is empty; parameters are named like `temperature` or \
                 `maxOutputTokens`",
            ));
        }
        json_to_value_at(&Json::Object(merged), "model_parameters").map(Some)
    }

    fn labels(&self) -> Result<HashMap<String, String>> {
        if self.labels.len() > MAX_USER_LABELS {
            return Err(Error::invalid(
                "labels",
                format!(
                    "has {} labels; at most {MAX_USER_LABELS} are allowed (GCP's 64, less the \
                     one this crate keeps for `{REQUEST_ID_LABEL}`)",
                    self.labels.len()
                ),
            ));
        }
        for (key, value) in &self.labels {
            check_label(key, value)?;
        }
        Ok(self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn service_account(&self) -> Result<String> {
        let Some(email) = &self.service_account else {
            return Ok(String::new());
        };
        let ok = email
            .split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
            && !email
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/');
        if ok {
            Ok(email.clone())
        } else {
            Err(Error::invalid(
                "service_account",
                format!(
                    "{email:?} is not a service account email; it looks like \
                     `name@project.iam.gserviceaccount.com`"
                ),
            ))
        }
    }

    fn encryption_spec(&self) -> Result<Option<EncryptionSpec>> {
        let Some(key) = &self.encryption_key else {
            return Ok(None);
        };
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        };
        let ok = matches!(
            key.split('/').collect::<Vec<_>>().as_slice(),
            ["projects", p, "locations", l, "keyRings", r, "cryptoKeys", k]
                if [p, l, r, k].iter().all(|s| segment_ok(s))
        );
        if ok {
            Ok(Some(EncryptionSpec {
                kms_key_name: key.clone(),
            }))
        } else {
            Err(Error::invalid(
                "encryption_spec.kms_key_name",
                format!(
                    "{key:?} is not a Cloud KMS key name; it looks like \
                     `projects/P/locations/L/keyRings/R/cryptoKeys/K`"
                ),
            ))
        }
    }
}

fn global_bigquery(field: &str) -> Error {
    Error::invalid(
        field,
        format!("the global endpoint does not serve BigQuery batch jobs; {USE_REGIONAL}"),
    )
}

/// The explicit format if there is one (checked against the kind of source or destination),
/// else the default for the scheme.
fn check_format(explicit: Option<&str>, default: &str, field: &str, side: &str) -> Result<String> {
    let Some(format) = explicit else {
        return Ok(default.to_owned());
    };
    if format.is_empty() || format.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(
            field,
            format!("{format:?} is not a format; formats look like `jsonl`, `csv` or `bigquery`"),
        ));
    }
    let is_bigquery = default == "bigquery";
    if (format == "bigquery") != is_bigquery {
        let kind = if is_bigquery {
            "a BigQuery"
        } else {
            "a Cloud Storage"
        };
        return Err(Error::invalid(
            field,
            format!(
                "format `{format}` does not go with {kind} {side}: `bigquery` is the format of \
                 `bq://` {side}s and only of them"
            ),
        ));
    }
    Ok(format.to_owned())
}

/// GCP label rules, and the label this client reserves.
fn check_label(key: &str, value: &str) -> Result<()> {
    let field = format!("labels[{key:?}]");
    if key == REQUEST_ID_LABEL {
        return Err(Error::invalid(
            field,
            "is reserved: the client sets it to a request id so a Create whose answer was lost \
             is found instead of repeated",
        ));
    }
    match label_problem(key, value) {
        None => Ok(()),
        Some(reason) => Err(Error::invalid(field, reason)),
    }
}

/// What breaks GCP's label rules in a key and value, if anything. International characters
/// are allowed, as GCP allows them: keys are `[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}` and
/// values `[\p{Ll}\p{Lo}\p{N}_-]{0,63}` (Resource Manager's label rules): lower-case letters
/// of any script and letters of scripts without case (`数据`), never an upper-case one. The
/// emulator and batch runs apply the same rules.
pub(crate) fn label_problem(key: &str, value: &str) -> Option<String> {
    let letter = |c: char| c.is_lowercase() || (c.is_alphabetic() && !c.is_uppercase());
    let allowed = |c: char| letter(c) || c.is_numeric() || matches!(c, '_' | '-');
    let key_reason = if key.is_empty() {
        Some("the key is empty".to_owned())
    } else if !key.starts_with(letter) {
        Some("the key does not start with a lower-case letter".to_owned())
    } else if key.chars().count() > MAX_LABEL_CHARS {
        Some(format!(
            "the key is longer than {MAX_LABEL_CHARS} characters"
        ))
    } else {
        key.chars()
            .find(|c| !allowed(*c))
            .map(|c| format!("the key contains {c:?}"))
    };
    let value_reason = if value.chars().count() > MAX_LABEL_CHARS {
        Some(format!(
            "the value is longer than {MAX_LABEL_CHARS} characters"
        ))
    } else {
        value
            .chars()
            .find(|c| !allowed(*c))
            .map(|c| format!("the value {value:?} contains {c:?}"))
    };
    key_reason.or(value_reason).map(|reason| {
        format!(
            "{reason}; label keys start with a lower-case letter, keys and values are \
             lower-case letters, digits, `_` and `-`, at most {MAX_LABEL_CHARS} characters"
        )
    })
}

fn json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::value_to_json;
    use serde_json::json;

    fn parent() -> LocationName {
        LocationName::new("my-project", "us-central1").unwrap()
    }

    fn global() -> LocationName {
        LocationName::new("my-project", "global").unwrap()
    }

    fn gcs_job() -> BatchJobBuilder {
        BatchPredictionJob::builder("gemini-2.0-flash-001")
            .with_display_name("my-job")
            .with_input("gs://my-bucket/prompts.jsonl")
            .with_output("gs://my-bucket/out/")
    }

    /// The field and reason of the error `builder` fails with under `parent`.
    fn refused(builder: BatchJobBuilder, parent: &LocationName) -> (String, String) {
        match builder.build(parent) {
            Err(Error::InvalidInput { field, reason }) => (field.to_string(), reason),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn gcs_job_gets_jsonl_formats_and_sources() {
        let job = gcs_job()
            .with_inputs(["gs://my-bucket/b.jsonl", "gs://other-bucket/c/*.jsonl"])
            .build(&parent())
            .unwrap();
        assert_eq!(job.display_name, "my-job");
        assert_eq!(job.model, "publishers/google/models/gemini-2.0-flash-001");
        let input = job.input_config.unwrap();
        assert_eq!(input.instances_format, "jsonl");
        assert_eq!(
            input.source,
            Some(input_config::Source::GcsSource(GcsSource {
                uris: vec![
                    "gs://my-bucket/prompts.jsonl".into(),
                    "gs://my-bucket/b.jsonl".into(),
                    "gs://other-bucket/c/*.jsonl".into()
                ]
            }))
        );
        let output = job.output_config.unwrap();
        assert_eq!(output.predictions_format, "jsonl");
        assert_eq!(
            output.destination,
            Some(output_config::Destination::GcsDestination(GcsDestination {
                output_uri_prefix: "gs://my-bucket/out/".into()
            }))
        );
        assert_eq!(job.model_parameters, None);
        assert!(job.labels.is_empty());
        assert_eq!(job.service_account, "");
        assert_eq!(job.encryption_spec, None);
        assert_eq!(job.name, "", "the service names the job");
    }

    #[test]
    fn bigquery_job_gets_bigquery_formats() {
        for output in [
            "bq://my-project",
            "bq://my-project.ds",
            "bq://my-project.ds.out",
        ] {
            let job = BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_input("bq://my-project.ds.prompts")
                .with_output(output)
                .build(&parent())
                .unwrap();
            let input = job.input_config.unwrap();
            assert_eq!(input.instances_format, "bigquery");
            assert_eq!(
                input.source,
                Some(input_config::Source::BigquerySource(BigQuerySource {
                    input_uri: "bq://my-project.ds.prompts".into()
                }))
            );
            let out = job.output_config.unwrap();
            assert_eq!(out.predictions_format, "bigquery");
            assert_eq!(
                out.destination,
                Some(output_config::Destination::BigqueryDestination(
                    BigQueryDestination {
                        output_uri: output.into()
                    }
                ))
            );
        }
        // Cloud Storage in, BigQuery out and the other way round are both fine.
        gcs_job()
            .with_output("bq://my-project.ds")
            .build(&parent())
            .unwrap();
        BatchPredictionJob::builder("gemini-2.0-flash-001")
            .with_input("bq://my-project.ds.prompts")
            .with_output("gs://my-bucket/out/")
            .build(&parent())
            .unwrap();
    }

    #[test]
    fn missing_input_or_output_is_refused() {
        let (field, reason) = refused(
            BatchPredictionJob::builder("gemini-2.0-flash-001").with_output("gs://my-bucket/out/"),
            &parent(),
        );
        assert_eq!(field, "input_config");
        assert!(
            reason.starts_with("no input; add one with with_input("),
            "{reason}"
        );
        let (field, reason) = refused(
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_input("gs://my-bucket/a.jsonl"),
            &parent(),
        );
        assert_eq!(field, "output_config");
        assert!(
            reason.starts_with("no output; set one with with_output("),
            "{reason}"
        );
    }

    #[test]
    fn bad_inputs_name_their_index() {
        let (field, reason) = refused(gcs_job().with_input("s3://bucket/x.jsonl"), &parent());
        assert_eq!(field, "inputs[1]");
        assert!(
            reason.contains("is neither `gs://` nor `bq://`"),
            "{reason}"
        );
        let (field, reason) = refused(gcs_job().with_input("gs://my-bucket"), &parent());
        assert_eq!(field, "input_config.gcs_source.uris[1]");
        assert!(reason.contains("names a bucket but no file"), "{reason}");
        let (field, _) = refused(gcs_job().with_output("s3://bucket/out"), &parent());
        assert_eq!(field, "output_config");
    }

    #[test]
    fn bigquery_combinations_the_service_refuses_are_refused() {
        let (field, reason) = refused(
            gcs_job().with_input("bq://my-project.ds.prompts"),
            &parent(),
        );
        assert_eq!(field, "input_config");
        assert!(
            reason.starts_with("mixes BigQuery and Cloud Storage inputs"),
            "{reason}"
        );
        let (field, reason) = refused(
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_inputs(["bq://my-project.ds.a", "bq://my-project.ds.b"])
                .with_output("bq://my-project.ds"),
            &parent(),
        );
        assert_eq!(field, "input_config");
        assert!(
            reason.starts_with("has 2 BigQuery inputs; a job reads one"),
            "{reason}"
        );
    }

    #[test]
    fn the_global_endpoint_refuses_bigquery_and_tuned_models() {
        gcs_job().build(&global()).unwrap();
        let (field, reason) = refused(
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_input("bq://my-project.ds.prompts")
                .with_output("gs://my-bucket/out/"),
            &global(),
        );
        assert_eq!(field, "input_config.bigquery_source.input_uri");
        assert_eq!(
            reason,
            "the global endpoint does not serve BigQuery batch jobs; use a regional location \
             such as `us-central1` or `europe-west4`"
        );
        let (field, reason) = refused(gcs_job().with_output("bq://my-project.ds"), &global());
        assert_eq!(field, "output_config.bigquery_destination.output_uri");
        assert!(reason.contains("does not serve BigQuery"), "{reason}");
        let tuned = "projects/my-project/locations/us-central1/models/42@1";
        let mut job = gcs_job();
        job.model = tuned.into();
        let (field, reason) = refused(job.clone(), &global());
        assert_eq!(field, "model");
        assert!(
            reason.contains("the global endpoint does not serve tuned models"),
            "{reason}"
        );
        assert!(reason.contains("`us-central1`"), "{reason}");
        assert_eq!(job.build(&parent()).unwrap().model, tuned);
    }

    #[test]
    fn a_model_in_another_location_is_refused() {
        let mut job = gcs_job();
        job.model =
            "projects/my-project/locations/europe-west4/publishers/google/models/gemini-pro".into();
        let (field, reason) = refused(job, &parent());
        assert_eq!(field, "model");
        assert!(reason.contains("is in location `europe-west4`"), "{reason}");
        assert!(
            reason.contains("would be created in `us-central1`"),
            "{reason}"
        );
    }

    #[test]
    fn bad_models_are_refused() {
        for bad in ["", "gemini pro", "a/b/c", "../x", "gemini?x"] {
            let mut job = gcs_job();
            job.model = bad.into();
            assert_eq!(refused(job, &parent()).0, "model", "{bad:?}");
        }
    }

    #[test]
    fn display_names_are_checked_or_generated() {
        let (field, _) = refused(gcs_job().with_display_name(""), &parent());
        assert_eq!(field, "display_name");
        let (field, reason) = refused(gcs_job().with_display_name("x".repeat(129)), &parent());
        assert_eq!(field, "display_name");
        assert!(reason.contains("at most 128"), "{reason}");
        let job = BatchPredictionJob::builder("gemini-2.0-flash-001")
            .with_input("gs://my-bucket/a.jsonl")
            .with_output("gs://my-bucket/out/")
            .build(&parent())
            .unwrap();
        assert!(
            job.display_name.starts_with("vertex-batch-"),
            "{}",
            job.display_name
        );
    }

    #[test]
    fn explicit_formats_override_and_must_match() {
        let job = gcs_job()
            .with_instances_format("csv")
            .with_predictions_format("csv")
            .build(&parent())
            .unwrap();
        assert_eq!(job.input_config.unwrap().instances_format, "csv");
        assert_eq!(job.output_config.unwrap().predictions_format, "csv");
        let (field, reason) = refused(gcs_job().with_instances_format("bigquery"), &parent());
        assert_eq!(field, "input_config.instances_format");
        assert!(
            reason.contains("format `bigquery` does not go with a Cloud Storage input"),
            "{reason}"
        );
        let (field, reason) = refused(
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_input("bq://my-project.ds.t")
                .with_output("bq://my-project.ds")
                .with_predictions_format("jsonl"),
            &parent(),
        );
        assert_eq!(field, "output_config.predictions_format");
        assert!(
            reason.contains("does not go with a BigQuery output"),
            "{reason}"
        );
        let (field, _) = refused(gcs_job().with_instances_format(""), &parent());
        assert_eq!(field, "input_config.instances_format");
    }

    #[test]
    fn model_parameters_merge_raw_over_typed() {
        let job = gcs_job()
            .with_generation_config(
                GenerationConfig::new()
                    .with_temperature(0.2f32)
                    .with_max_output_tokens(200),
            )
            .with_model_parameters(json!({"maxOutputTokens": 50, "topK": 3}))
            .build(&parent())
            .unwrap();
        assert_eq!(
            value_to_json(job.model_parameters.as_ref().unwrap()).unwrap(),
            json!({"temperature": 0.2, "maxOutputTokens": 50, "topK": 3})
        );
        let job = gcs_job()
            .with_model_parameters(json!(null))
            .build(&parent())
            .unwrap();
        assert_eq!(job.model_parameters, None);
    }

    #[test]
    fn bad_model_parameters_name_the_key_path() {
        let (field, reason) = refused(gcs_job().with_model_parameters(json!([1])), &parent());
        assert_eq!(field, "model_parameters");
        assert!(reason.starts_with("is an array, not an object"), "{reason}");
        let (field, reason) = refused(
            gcs_job().with_model_parameters(json!({"foo": {"bar": [0, 1, u64::MAX]}})),
            &parent(),
        );
        assert_eq!(field, "model_parameters.foo.bar[2]");
        assert!(reason.contains("beyond 2^53"), "{reason}");
        let (field, _) = refused(
            gcs_job().with_generation_config(GenerationConfig::new().with_temperature(f64::NAN)),
            &parent(),
        );
        assert_eq!(field, "generation_config.temperature");
    }

    #[test]
    fn labels_follow_gcp_rules() {
        let job = gcs_job()
            .with_labels([("team", "ml"), ("env", ""), ("été", "ok_1-2")])
            .with_label("team", "data")
            .build(&parent())
            .unwrap();
        assert_eq!(job.labels.len(), 3);
        assert_eq!(
            job.labels["team"], "data",
            "a later value replaces an earlier one"
        );
        for (key, value, why) in [
            ("Team", "ml", "does not start with a lower-case letter"),
            ("", "ml", "the key is empty"),
            ("1team", "ml", "does not start with a lower-case letter"),
            ("team.x", "ml", "the key contains '.'"),
            ("team", "ML", "the value \"ML\" contains 'M'"),
            ("team", "a b", "contains ' '"),
        ] {
            let (field, reason) = refused(gcs_job().with_label(key, value), &parent());
            assert_eq!(field, format!("labels[{key:?}]"));
            assert!(reason.contains(why), "{key}={value}: {reason}");
            assert!(
                reason.contains("label keys start with a lower-case letter"),
                "{reason}"
            );
        }
        let long = "a".repeat(64);
        let (_, reason) = refused(gcs_job().with_label(long.as_str(), "x"), &parent());
        assert!(reason.contains("the key is longer than 63"), "{reason}");
        let (_, reason) = refused(gcs_job().with_label("k", long.as_str()), &parent());
        assert!(reason.contains("the value is longer than 63"), "{reason}");
        gcs_job()
            .with_label("a".repeat(63), "b".repeat(63))
            .build(&parent())
            .unwrap();
        // International characters: lower-case letters of any script, scripts without case.
        for (key, value) in [
            ("数据", "值"),
            ("équipe", "données"),
            ("ключ", "значение-1"),
        ] {
            gcs_job().with_label(key, value).build(&parent()).unwrap();
        }
        for (key, value, why) in [
            ("Équipe", "x", "does not start with a lower-case letter"),
            ("équipe", "Été", "contains 'É'"),
            ("_team", "x", "does not start with a lower-case letter"),
        ] {
            let (_, reason) = refused(gcs_job().with_label(key, value), &parent());
            assert!(reason.contains(why), "{key}={value}: {reason}");
        }
    }

    #[test]
    fn at_most_63_user_labels() {
        let labels = |n: usize| (0..n).map(|i| (format!("k{i}"), String::new()));
        assert_eq!(
            gcs_job()
                .with_labels(labels(63))
                .build(&parent())
                .unwrap()
                .labels
                .len(),
            63
        );
        let (field, reason) = refused(gcs_job().with_labels(labels(64)), &parent());
        assert_eq!(field, "labels");
        assert!(reason.starts_with("has 64 labels; at most 63"), "{reason}");
    }

    #[test]
    fn the_request_id_label_is_reserved() {
        let (field, reason) = refused(gcs_job().with_label(REQUEST_ID_LABEL, "abc"), &parent());
        assert_eq!(field, "labels[\"vertex_batch_request_id\"]");
        assert!(reason.starts_with("is reserved"), "{reason}");
    }

    #[test]
    fn service_account_and_encryption_key_are_checked() {
        let key = "projects/my-project/locations/us-central1/keyRings/ring_1/cryptoKeys/key-1";
        let job = gcs_job()
            .with_service_account("sa@my-project.iam.gserviceaccount.com")
            .with_encryption_key(key)
            .build(&parent())
            .unwrap();
        assert_eq!(job.service_account, "sa@my-project.iam.gserviceaccount.com");
        assert_eq!(job.encryption_spec.unwrap().kms_key_name, key);
        for bad in [
            "",
            "sa",
            "@x.com",
            "sa@localhost",
            "sa @x.com",
            "sa@x.com/evil",
        ] {
            let (field, reason) = refused(gcs_job().with_service_account(bad), &parent());
            assert_eq!(field, "service_account", "{bad:?}");
            assert!(
                reason.contains("name@project.iam.gserviceaccount.com"),
                "{reason}"
            );
        }
        for bad in [
            "",
            "k",
            "projects/p/locations/l/keyRings/r",
            "projects/p/locations/l/keyRings/r/cryptoKeys/",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k?x",
        ] {
            let (field, reason) = refused(gcs_job().with_encryption_key(bad), &parent());
            assert_eq!(field, "encryption_spec.kms_key_name", "{bad:?}");
            assert!(
                reason.contains("projects/P/locations/L/keyRings/R/cryptoKeys/K"),
                "{reason}"
            );
        }
    }

    #[test]
    fn build_leaves_the_builder_reusable() {
        let builder = gcs_job();
        assert_eq!(
            builder.build(&parent()).unwrap(),
            builder.build(&parent()).unwrap()
        );
    }
}

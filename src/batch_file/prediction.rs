//! `Prediction`: one line of a predictions.jsonl output file, typed.
//!
//! Every type here tolerates fields it does not know, so a newer service version's output
//! still reads.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::content::Content;

/// One output line: the echoed request, the model's response, and the row's status.
///
/// `status` is empty on success and holds the error text on a failed row (which then has no
/// response).
///
/// ```
/// use vertex_batch::batch_file::Prediction;
///
/// let ok: Prediction = serde_json::from_str(r#"{
///     "request": {"contents": [{"role": "user", "parts": [{"text": "Why is the sky blue?"}]}]},
///     "response": {
///         "candidates": [{"content": {"role": "model", "parts": [{"text": "Rayleigh scattering."}]}, "finishReason": "STOP"}],
///         "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 3, "totalTokenCount": 9},
///         "modelVersion": "gemini-2.0-flash-001"
///     },
///     "status": "",
///     "processed_time": "2024-11-01T18:13:16.826+00:00"
/// }"#).unwrap();
/// assert!(ok.is_ok());
/// assert_eq!(ok.text().as_deref(), Some("Rayleigh scattering."));
/// assert_eq!(ok.usage().unwrap().total_token_count, 9);
///
/// let failed: Prediction = serde_json::from_str(r#"{
///     "request": {"contents": []},
///     "status": "Bad Request: {\"error\": {\"code\": 400, \"message\": \"contents is required\"}}",
///     "response": {}
/// }"#).unwrap();
/// assert!(!failed.is_ok());
/// assert!(failed.response.is_none());
/// assert!(failed.error().unwrap().starts_with("Bad Request"));
/// assert_eq!(failed.text(), None);
/// ```
///
/// A line of a batch run's results (`vertex-batch run --out`, `{"key", "text", "response"}` or
/// `{"key", "error": {"code", "message"}}`) reads too: its error becomes the status,
/// `CODE: MESSAGE`, so a run's results count their failed rows.
///
/// ```
/// use vertex_batch::batch_file::Prediction;
///
/// let failed: Prediction = serde_json::from_str(
///     r#"{"key": "q1", "error": {"code": 429, "message": "Resource exhausted"}}"#,
/// ).unwrap();
/// assert_eq!(failed.error(), Some("429: Resource exhausted"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "PredictionLine")]
#[non_exhaustive]
pub struct Prediction {
    /// The request, as the input line had it.
    #[serde(default)]
    pub request: Value,
    /// The model's answer; `None` on a failed row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<GenerateContentResponse>,
    /// Empty on success; the error on a failed row.
    #[serde(default)]
    pub status: String,
    /// When the row was processed, RFC 3339 as the service writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_time: Option<String>,
}

/// An output line as read: the service's fields, and the `error` of a batch run's results line.
#[derive(Deserialize)]
struct PredictionLine {
    #[serde(default)]
    request: Value,
    #[serde(default)]
    response: Option<GenerateContentResponse>,
    #[serde(default, deserialize_with = "null_as_empty")]
    status: String,
    #[serde(default)]
    processed_time: Option<String>,
    #[serde(default)]
    error: Option<RunError>,
}

/// The error of a batch run's results line.
#[derive(Deserialize)]
struct RunError {
    #[serde(default)]
    code: Value,
    #[serde(default)]
    message: String,
}

impl From<PredictionLine> for Prediction {
    fn from(line: PredictionLine) -> Self {
        let status = match line.error {
            Some(error) if line.status.is_empty() => {
                let code = match &error.code {
                    Value::String(code) => code.clone(),
                    Value::Null => "error".to_owned(),
                    code => code.to_string(),
                };
                format!("{code}: {}", error.message)
            }
            _ => line.status,
        };
        // The service writes `"response": {}` on a failed row (GoogleCloudPlatform/generative-ai
        // #1308): no answer.
        let response = line.response.filter(|response| {
            status.is_empty() || *response != GenerateContentResponse::default()
        });
        Prediction {
            request: line.request,
            response,
            status,
            processed_time: line.processed_time,
        }
    }
}

/// A `"status": null` reads as a success, like an empty status.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
}

impl Prediction {
    /// The first candidate's text parts joined (thought parts left out); `None` on a failed
    /// row, or when the answer has no text (blocked, or only function calls).
    ///
    /// ```
    /// use vertex_batch::batch_file::Prediction;
    ///
    /// let row: Prediction = serde_json::from_str(
    ///     r#"{"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "a"}, {"text": "b"}]}}]}}"#,
    /// ).unwrap();
    /// assert_eq!(row.text().as_deref(), Some("ab"));
    /// ```
    pub fn text(&self) -> Option<String> {
        self.response.as_ref()?.text()
    }

    /// The row's error: its status when that is not empty.
    ///
    /// ```
    /// use vertex_batch::batch_file::Prediction;
    ///
    /// let row: Prediction = serde_json::from_str(r#"{"status": "Internal error"}"#).unwrap();
    /// assert_eq!(row.error(), Some("Internal error"));
    /// ```
    pub fn error(&self) -> Option<&str> {
        (!self.status.is_empty()).then_some(self.status.as_str())
    }

    /// Whether the row succeeded (its status is empty). A succeeded row may still have no text:
    /// check [`GenerateContentResponse::prompt_feedback`] and the finish reason.
    ///
    /// ```
    /// use vertex_batch::batch_file::Prediction;
    ///
    /// let row: Prediction = serde_json::from_str(r#"{"status": "", "response": {"candidates": []}}"#).unwrap();
    /// assert!(row.is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        self.error().is_none()
    }

    /// The response's token counts, when there is a response.
    ///
    /// ```
    /// use vertex_batch::batch_file::Prediction;
    ///
    /// let row: Prediction = serde_json::from_str(
    ///     r#"{"response": {"usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 4}}}"#,
    /// ).unwrap();
    /// assert_eq!(row.usage().unwrap().prompt_token_count, 4);
    /// assert_eq!(row.usage().unwrap().candidates_token_count, 0);
    /// ```
    pub fn usage(&self) -> Option<&UsageMetadata> {
        self.response.as_ref()?.usage_metadata.as_ref()
    }
}

/// The model's answer to one request, as `generateContent` returns it.
///
/// ```
/// use vertex_batch::batch_file::GenerateContentResponse;
///
/// let response: GenerateContentResponse = serde_json::from_str(
///     r#"{"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": "STOP"}],
///         "modelVersion": "gemini-2.0-flash-001", "someNewField": true}"#,
/// ).unwrap();
/// assert_eq!(response.candidates[0].finish_reason.as_deref(), Some("STOP"));
/// assert_eq!(response.text().as_deref(), Some("Hi"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct GenerateContentResponse {
    /// The answers; one unless the request asked for more with `candidateCount`.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_metadata: Option<UsageMetadata>,
    /// The model version that answered, e.g. `gemini-2.0-flash-001`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// Set when the prompt itself was blocked (and there are no candidates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_feedback: Option<PromptFeedback>,
    /// The service's id for this response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
    /// When the response was made, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
}

impl GenerateContentResponse {
    /// The first candidate's text parts joined, thought parts left out.
    ///
    /// ```
    /// use vertex_batch::batch_file::GenerateContentResponse;
    ///
    /// assert_eq!(GenerateContentResponse::default().text(), None);
    /// ```
    pub fn text(&self) -> Option<String> {
        self.candidates.first()?.content.as_ref()?.text()
    }
}

/// One answer of a response.
///
/// ```
/// use vertex_batch::batch_file::Candidate;
///
/// let blocked: Candidate = serde_json::from_str(r#"{"finishReason": "SAFETY", "safetyRatings": []}"#).unwrap();
/// assert!(blocked.content.is_none());
/// assert_eq!(blocked.finish_reason.as_deref(), Some("SAFETY"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Candidate {
    /// What the model said; missing when the answer was blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// Why generation stopped: `STOP`, `MAX_TOKENS`, `SAFETY`, `RECITATION`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// More about the finish reason, when the service gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_message: Option<String>,
    /// The average log probability of the answer's tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_logprobs: Option<f64>,
}

/// Token counts of one response (a count the service leaves out is 0), or summed over many
/// ([`add`](Self::add)): the one token-usage type of the crate, for a predictions file's rows,
/// its [`Summary`](super::Summary) and a batch run's [`RunSummary`](crate::run::RunSummary)
/// alike. Reads camelCase, as the service writes, and snake_case, as a re-serialised echo may.
///
/// ```
/// use vertex_batch::batch_file::UsageMetadata;
///
/// let mut usage: UsageMetadata = serde_json::from_str(
///     r#"{"promptTokenCount": 8, "candidatesTokenCount": 12, "totalTokenCount": 20, "trafficType": "ON_DEMAND"}"#,
/// ).unwrap();
/// assert_eq!((usage.prompt_token_count, usage.candidates_token_count, usage.total_token_count), (8, 12, 20));
/// let other: UsageMetadata = serde_json::from_str(r#"{"prompt_token_count": 2, "total_token_count": 2}"#).unwrap();
/// usage.add(&other);
/// assert_eq!((usage.prompt_token_count, usage.total_token_count), (10, 22));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UsageMetadata {
    /// Tokens in the prompt.
    #[serde(default, alias = "prompt_token_count")]
    pub prompt_token_count: u64,
    /// Tokens in the answers.
    #[serde(default, alias = "candidates_token_count")]
    pub candidates_token_count: u64,
    /// Everything billed: prompt, answers and thoughts.
    #[serde(default, alias = "total_token_count")]
    pub total_token_count: u64,
    /// Prompt tokens served from a context cache.
    #[serde(default, alias = "cached_content_token_count")]
    pub cached_content_token_count: u64,
    /// Tokens a thinking model spent thinking.
    #[serde(default, alias = "thoughts_token_count")]
    pub thoughts_token_count: u64,
}

impl UsageMetadata {
    /// Adds `other`'s counts to these, saturating at `u64::MAX` rather than wrapping.
    pub fn add(&mut self, other: &UsageMetadata) {
        self.prompt_token_count = self
            .prompt_token_count
            .saturating_add(other.prompt_token_count);
        self.candidates_token_count = self
            .candidates_token_count
            .saturating_add(other.candidates_token_count);
        self.total_token_count = self
            .total_token_count
            .saturating_add(other.total_token_count);
        self.cached_content_token_count = self
            .cached_content_token_count
            .saturating_add(other.cached_content_token_count);
        self.thoughts_token_count = self
            .thoughts_token_count
            .saturating_add(other.thoughts_token_count);
    }
}

/// Why a prompt was blocked.
///
/// ```
/// use vertex_batch::batch_file::PromptFeedback;
///
/// let feedback: PromptFeedback = serde_json::from_str(r#"{"blockReason": "PROHIBITED_CONTENT"}"#).unwrap();
/// assert_eq!(feedback.block_reason.as_deref(), Some("PROHIBITED_CONTENT"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PromptFeedback {
    /// `SAFETY`, `BLOCKLIST`, `PROHIBITED_CONTENT`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_reason: Option<String>,
    /// A readable explanation, when the service gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_reason_message: Option<String>,
}

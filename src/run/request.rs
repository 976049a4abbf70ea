//! [`RunRequest`]: one prompt of a batch run, with the key its result comes back under.

use serde_json::Value;

use super::isolate::Scanned;
use crate::batch_file::BatchRequest;
use crate::error::{Error, Result};

/// One request of a batch run: a Gemini `generateContent` request (the `request` object of a
/// batch input line) and an optional key.
///
/// The key is any string the caller picks to recognise the result (an id from a database, a
/// file name); without one, a run uses the request's position in the input, counting from 1.
/// Keys must be unique within a run. The key never goes to the service: the run puts a short
/// row id of its own in the request's `labels` and maps it back on this side.
///
/// ```
/// use vertex_batch::batch_file::BatchRequest;
/// use vertex_batch::run::RunRequest;
///
/// let a = RunRequest::text("Why is the sky blue?").with_key("sky");
/// let b = RunRequest::from_json(&serde_json::json!({
///     "contents": [{"role": "user", "parts": [{"text": "Why is grass green?"}]}],
/// }))
/// .with_key("grass");
/// let c = RunRequest::from_batch_request(&BatchRequest::new().with_user_text("Hi"))?;
/// assert_eq!(a.key(), Some("sky"));
/// assert_eq!(c.key(), None);
/// assert!(b.request_json().starts_with(r#"{"contents""#));
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRequest {
    key: Option<String>,
    /// The input line it came from, for messages.
    line: Option<u64>,
    /// What the one scan of it found, when it was scanned as it was read (`InputLines`).
    scanned: Option<Scanned>,
    /// The request object as JSON text; checked when it is staged.
    request: String,
}

impl RunRequest {
    /// A request given as the JSON text of its object, `{"contents": [...], ...}`, as it would
    /// stand after `"request":` in a batch input line. It is checked when the run stages it:
    /// text that is not a JSON object is an error naming the request's position.
    pub fn from_json_text(request: impl Into<String>) -> Self {
        RunRequest {
            key: None,
            line: None,
            scanned: None,
            request: request.into(),
        }
    }

    /// A request scanned as it was read.
    pub(crate) fn scanned(request: impl Into<String>, scanned: Scanned) -> Self {
        RunRequest {
            scanned: Some(scanned),
            ..RunRequest::from_json_text(request)
        }
    }

    /// A request given as a JSON value (an object).
    pub fn from_json(request: &Value) -> Self {
        RunRequest::from_json_text(request.to_string())
    }

    /// A request written with the typed [`BatchRequest`] builder (its line keys are not sent).
    ///
    /// # Errors
    /// As [`BatchRequest::to_json`]: a request without contents, a bad part.
    pub fn from_batch_request(request: &BatchRequest) -> Result<Self> {
        let mut line = request.to_json()?;
        let request = line
            .get_mut("request")
            .map(Value::take)
            .ok_or_else(|| Error::invalid("request", "the batch line has no request"))?;
        Ok(RunRequest::from_json(&request))
    }

    /// A single-turn text prompt: `{"contents": [{"role": "user", "parts": [{"text": ...}]}]}`.
    pub fn text(prompt: &str) -> Self {
        let mut request = String::new();
        text_request_into(prompt, &mut request);
        RunRequest::from_json_text(request)
    }

    /// The key the result comes back under.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The key, when one was given.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The request object's JSON text.
    pub fn request_json(&self) -> &str {
        &self.request
    }

    pub(crate) fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    pub(crate) fn into_parts(self) -> (Option<String>, Option<u64>, String, Option<Scanned>) {
        (self.key, self.line, self.request, self.scanned)
    }
}

/// Appends the request of a single-turn text prompt to `out`:
/// `{"contents":[{"role":"user","parts":[{"text":...}]}]}`.
pub(crate) fn text_request_into(prompt: &str, out: &mut String) {
    out.push_str(r#"{"contents":[{"role":"user","parts":[{"text":"#);
    // A string always serialises.
    let quoted = serde_json::to_string(prompt).unwrap_or_default();
    out.push_str(&quoted);
    out.push_str("}]}]}");
}

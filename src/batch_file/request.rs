//! `BatchRequest`: one line of a batch input file, `{"request": {...}}`.

use serde::Serialize;
use serde_json::{Map, Value};

use super::content::{Content, Part};
use crate::params::GenerationConfig;
use crate::{Error, Result};

/// Request keys this type writes itself; `with_extra` may not set them (in either spelling the
/// service accepts), or the line would carry the key twice.
const TYPED_REQUEST_KEYS: [(&str, &str); 5] = [
    ("contents", "with_user_text or with_content"),
    ("systemInstruction", "with_system_instruction"),
    ("system_instruction", "with_system_instruction"),
    ("generationConfig", "with_generation_config"),
    ("generation_config", "with_generation_config"),
];

/// One line of a batch input file: a Gemini `generateContent` request, and optional keys
/// beside it.
///
/// The line is `{"request": {"contents": [...], "systemInstruction": ..., "generationConfig":
/// ..., <extra keys>}, <line keys>}`. Build it with the `with_*` methods, write it with
/// [`BatchFileWriter`](super::BatchFileWriter). A request without contents is an error when it
/// is written, naming the field.
///
/// ```
/// use serde_json::json;
/// use vertex_batch::GenerationConfig;
/// use vertex_batch::batch_file::BatchRequest;
///
/// let request = BatchRequest::new()
///     .with_system_instruction("Answer in one word.")
///     .with_user_text("What colour is the sky?")
///     .with_generation_config(GenerationConfig::new().with_temperature(0.2).with_max_output_tokens(200))
///     .with_line_key("id", "sky-1");
/// assert_eq!(
///     request.to_json()?,
///     json!({
///         "request": {
///             "contents": [{"role": "user", "parts": [{"text": "What colour is the sky?"}]}],
///             "systemInstruction": {"parts": [{"text": "Answer in one word."}]},
///             "generationConfig": {"temperature": 0.2, "maxOutputTokens": 200}
///         },
///         "id": "sky-1"
///     })
/// );
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchRequest {
    contents: Vec<Content>,
    system_instruction: Option<Content>,
    generation_config: Option<GenerationConfig>,
    extra: Map<String, Value>,
    line_keys: Map<String, Value>,
}

impl BatchRequest {
    /// An empty request; add at least one content before writing it.
    ///
    /// ```
    /// use vertex_batch::batch_file::BatchRequest;
    ///
    /// let err = BatchRequest::new().to_json().unwrap_err();
    /// assert!(err.to_string().starts_with("invalid request.contents: is empty"));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a `user` turn holding one text part: the usual one-prompt request.
    ///
    /// ```
    /// use vertex_batch::batch_file::BatchRequest;
    ///
    /// let request = BatchRequest::new().with_user_text("Why is the sky blue?");
    /// assert_eq!(request.contents()[0].text().as_deref(), Some("Why is the sky blue?"));
    /// ```
    pub fn with_user_text(self, text: impl Into<String>) -> Self {
        self.with_content(Content::user([Part::text(text)]))
    }

    /// Adds a turn: several parts (text, files, inline data), or an earlier `model` answer for
    /// a multi-turn request.
    ///
    /// ```
    /// use vertex_batch::batch_file::{BatchRequest, Content, Part};
    ///
    /// let request = BatchRequest::new().with_content(Content {
    ///     role: "user".into(),
    ///     parts: vec![
    ///         Part::text("List the objects in this image."),
    ///         Part::file_data("gs://cloud-samples-data/generative-ai/image/office-desk.jpeg", "image/jpeg"),
    ///     ],
    /// });
    /// assert_eq!(request.contents()[0].parts.len(), 2);
    /// ```
    pub fn with_content(mut self, content: Content) -> Self {
        self.contents.push(content);
        self
    }

    /// Sets the system instruction, `{"systemInstruction": {"parts": [{"text": ...}]}}`.
    ///
    /// ```
    /// use vertex_batch::batch_file::BatchRequest;
    ///
    /// let line = BatchRequest::new()
    ///     .with_system_instruction("You are a terse assistant.")
    ///     .with_user_text("Hi")
    ///     .to_json()?;
    /// assert_eq!(line["request"]["systemInstruction"]["parts"][0]["text"], "You are a terse assistant.");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_system_instruction(mut self, text: impl Into<String>) -> Self {
        self.system_instruction = Some(Content {
            role: String::new(),
            parts: vec![Part::text(text)],
        });
        self
    }

    /// Sets this request's generation config (temperature, maxOutputTokens, ...): per-request
    /// parameters, beside the job-wide `model_parameters`. An empty config is left out.
    ///
    /// ```
    /// use vertex_batch::GenerationConfig;
    /// use vertex_batch::batch_file::BatchRequest;
    ///
    /// let line = BatchRequest::new()
    ///     .with_user_text("Write a haiku.")
    ///     .with_generation_config(GenerationConfig::new().with_temperature(0.9))
    ///     .to_json()?;
    /// assert_eq!(line["request"]["generationConfig"]["temperature"], 0.9);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_generation_config(mut self, config: GenerationConfig) -> Self {
        self.generation_config = Some(config);
        self
    }

    /// Sets any other key of the request: `tools`, `toolConfig`, `safetySettings`, `labels`,
    /// `cachedContent`, ... Keys this type writes itself (`contents`, `systemInstruction`,
    /// `generationConfig`) are an error when the request is written: use their own methods.
    ///
    /// ```
    /// use serde_json::json;
    /// use vertex_batch::batch_file::BatchRequest;
    ///
    /// let line = BatchRequest::new()
    ///     .with_user_text("Hi")
    ///     .with_extra("safetySettings", json!([{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_ONLY_HIGH"}]))
    ///     .to_json()?;
    /// assert_eq!(line["request"]["safetySettings"][0]["threshold"], "BLOCK_ONLY_HIGH");
    ///
    /// let clash = BatchRequest::new().with_user_text("Hi").with_extra("contents", json!([]));
    /// assert!(clash.to_json().unwrap_err().to_string().contains("with_user_text or with_content"));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_extra(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// Sets a key of the line beside `request`, such as an id of your own. Every output line
    /// echoes its `request`, so an id you must get back with the answer is safest inside the
    /// request too, e.g. in `labels` (with [`with_extra`](Self::with_extra)). `request` itself
    /// is an error when the request is written.
    ///
    /// ```
    /// use vertex_batch::batch_file::BatchRequest;
    ///
    /// let line = BatchRequest::new().with_user_text("Hi").with_line_key("id", 7).to_json()?;
    /// assert_eq!(line["id"], 7);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_line_key(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.line_keys.insert(key.into(), value.into());
        self
    }

    /// The turns added so far.
    ///
    /// ```
    /// use vertex_batch::batch_file::BatchRequest;
    ///
    /// assert!(BatchRequest::new().contents().is_empty());
    /// assert_eq!(BatchRequest::new().with_user_text("a").with_user_text("b").contents().len(), 2);
    /// ```
    pub fn contents(&self) -> &[Content] {
        &self.contents
    }

    /// The whole line as JSON, after the same checks as writing it.
    ///
    /// ```
    /// use vertex_batch::batch_file::BatchRequest;
    ///
    /// let line = BatchRequest::new().with_user_text("Hello").to_json()?;
    /// assert_eq!(line["request"]["contents"][0]["role"], "user");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn to_json(&self) -> Result<Value> {
        let line = self.line()?;
        serde_json::to_value(&line).map_err(|err| Error::invalid("request", err.to_string()))
    }

    /// Checks the request and borrows it as the shape of a line, ready to serialize.
    pub(super) fn line(&self) -> Result<Line<'_>> {
        if self.contents.is_empty() {
            return Err(Error::invalid(
                "request.contents",
                "is empty; add at least one turn with with_user_text or with_content",
            ));
        }
        for (i, content) in self.contents.iter().enumerate() {
            let field = format!("request.contents[{i}]");
            if content.role.is_empty() {
                return Err(Error::invalid(
                    format!("{field}.role"),
                    "is empty; expected `user` or `model` (Content::user, Content::model)",
                ));
            }
            validate_parts(&field, &content.parts)?;
        }
        if let Some(instruction) = &self.system_instruction {
            validate_parts("request.systemInstruction", &instruction.parts)?;
        }
        for (key, method) in TYPED_REQUEST_KEYS {
            if self.extra.contains_key(key) {
                return Err(Error::invalid(
                    format!("request.{key}"),
                    format!(
                        "is written by the request itself; set it with {method}, not with_extra"
                    ),
                ));
            }
        }
        if self.line_keys.contains_key("request") {
            return Err(Error::invalid(
                "line key `request`",
                "is the line's request object; with_line_key may not set it",
            ));
        }
        let generation_config = match &self.generation_config {
            Some(config) if !config.is_empty() => {
                let json = config.to_json().map_err(in_request)?;
                // The generation parameters' promise, in a line as in a job.
                if let Some(big) = crate::params::big_integer_in_value(&json) {
                    return Err(crate::params::big_integer_error(
                        "request.generationConfig",
                        &big,
                    ));
                }
                Some(json)
            }
            _ => None,
        };
        Ok(Line {
            request: RequestBody {
                contents: &self.contents,
                system_instruction: self.system_instruction.as_ref(),
                generation_config,
                extra: &self.extra,
            },
            line_keys: &self.line_keys,
        })
    }
}

fn validate_parts(field: &str, parts: &[Part]) -> Result<()> {
    if parts.is_empty() {
        return Err(Error::invalid(
            format!("{field}.parts"),
            "is empty; a turn needs at least one part (Part::text, Part::file_data, Part::inline_data)",
        ));
    }
    for (i, part) in parts.iter().enumerate() {
        part.validate(&format!("{field}.parts[{i}]"))?;
    }
    Ok(())
}

/// GenerationConfig names its fields `generation_config.<key>`; in a line they are
/// `request.generationConfig.<key>`.
fn in_request(err: Error) -> Error {
    match err {
        Error::InvalidInput { field, reason } => {
            let field = field.to_string();
            let key = field.strip_prefix("generation_config.").unwrap_or(&field);
            Error::invalid(format!("request.generationConfig.{key}"), reason)
        }
        other => other,
    }
}

/// A checked request, borrowed in the shape of its line.
#[derive(Serialize)]
pub(super) struct Line<'a> {
    request: RequestBody<'a>,
    #[serde(flatten)]
    line_keys: &'a Map<String, Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestBody<'a> {
    contents: &'a [Content],
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<&'a Content>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation_config: Option<Value>,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

//! `Content` and `Part`: the turns of a Gemini conversation, shared by request lines and the
//! responses in predictions.jsonl.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One turn of a conversation: a role and its parts, `{"role": "user", "parts": [...]}`.
///
/// In a request, `role` is `user` or `model`; in a response it is `model`. A system instruction
/// has no role (it is left out of the JSON when empty).
///
/// ```
/// use vertex_batch::batch_file::{Content, Part};
///
/// let turn = Content::user([Part::text("Describe this picture."), Part::file_data("gs://b/cat.jpg", "image/jpeg")]);
/// assert_eq!(turn.role, "user");
/// assert_eq!(
///     serde_json::to_value(&turn).unwrap(),
///     serde_json::json!({"role": "user", "parts": [
///         {"text": "Describe this picture."},
///         {"fileData": {"fileUri": "gs://b/cat.jpg", "mimeType": "image/jpeg"}}
///     ]})
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Content {
    /// `user` or `model`; empty for a system instruction.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role: String,
    /// What the turn says: text, files, inline data.
    #[serde(default)]
    pub parts: Vec<Part>,
}

impl Content {
    /// A `user` turn made of `parts`.
    ///
    /// ```
    /// use vertex_batch::batch_file::{Content, Part};
    ///
    /// let turn = Content::user([Part::text("Hello")]);
    /// assert_eq!(turn.text().as_deref(), Some("Hello"));
    /// ```
    pub fn user(parts: impl IntoIterator<Item = Part>) -> Self {
        Content {
            role: "user".into(),
            parts: parts.into_iter().collect(),
        }
    }

    /// A `model` turn made of `parts`: an earlier answer, for a multi-turn request.
    ///
    /// ```
    /// use vertex_batch::batch_file::{Content, Part};
    ///
    /// let turn = Content::model([Part::text("Hi! How can I help?")]);
    /// assert_eq!(turn.role, "model");
    /// ```
    pub fn model(parts: impl IntoIterator<Item = Part>) -> Self {
        Content {
            role: "model".into(),
            parts: parts.into_iter().collect(),
        }
    }

    /// The text parts joined, leaving out a thinking model's thought parts; `None` when there is
    /// no text part.
    ///
    /// ```
    /// use vertex_batch::batch_file::{Content, Part};
    ///
    /// let turn = Content::model([Part::text("The answer "), Part::text("is 42.")]);
    /// assert_eq!(turn.text().as_deref(), Some("The answer is 42."));
    /// assert_eq!(Content::model([]).text(), None);
    /// ```
    pub fn text(&self) -> Option<String> {
        let mut texts = self
            .parts
            .iter()
            .filter(|part| !part.thought)
            .filter_map(Part::as_text)
            .peekable();
        texts.peek()?;
        Some(texts.collect())
    }
}

/// One piece of a turn: text, a file by URI, or inline bytes.
///
/// Build one with [`Part::text`], [`Part::file_data`] or [`Part::inline_data`]. Reading a
/// response, parts of other kinds (function calls, executable code, ...) are tolerated and
/// come back with none of these fields set.
///
/// ```
/// use vertex_batch::batch_file::Part;
///
/// let part = Part::inline_data("text/plain", b"hi");
/// assert_eq!(
///     serde_json::to_value(&part).unwrap(),
///     serde_json::json!({"inlineData": {"mimeType": "text/plain", "data": "aGk="}})
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Part {
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A file by URI (`gs://...`, `https://...`) with its MIME type. Read from `file_data`
    /// too, as the service reads it (Google's batch notebook sends snake_case).
    #[serde(default, alias = "file_data", skip_serializing_if = "Option::is_none")]
    pub file_data: Option<FileData>,
    /// Bytes carried in the line itself, base64 on the wire.
    #[serde(
        default,
        alias = "inline_data",
        skip_serializing_if = "Option::is_none"
    )]
    pub inline_data: Option<InlineData>,
    /// Set by a thinking model on its thought summaries; [`Content::text`] leaves them out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub thought: bool,
}

impl Part {
    /// A text part, `{"text": ...}`.
    ///
    /// ```
    /// use vertex_batch::batch_file::Part;
    ///
    /// assert_eq!(Part::text("Hello").as_text(), Some("Hello"));
    /// ```
    pub fn text(text: impl Into<String>) -> Self {
        Part {
            text: Some(text.into()),
            ..Part::empty()
        }
    }

    /// A file by URI, `{"fileData": {"fileUri": ..., "mimeType": ...}}`: a `gs://` object, a
    /// public `https://` URL or a YouTube video.
    ///
    /// ```
    /// use vertex_batch::batch_file::Part;
    ///
    /// let part = Part::file_data("gs://cloud-samples-data/generative-ai/image/cat.jpg", "image/jpeg");
    /// let file = part.file_data.as_ref().unwrap();
    /// assert_eq!(file.mime_type, "image/jpeg");
    /// ```
    pub fn file_data(file_uri: impl Into<String>, mime_type: impl Into<String>) -> Self {
        Part {
            file_data: Some(FileData {
                file_uri: file_uri.into(),
                mime_type: mime_type.into(),
            }),
            ..Part::empty()
        }
    }

    /// Bytes carried in the line, `{"inlineData": {"mimeType": ..., "data": <base64>}}`.
    ///
    /// ```
    /// use vertex_batch::batch_file::Part;
    ///
    /// let part = Part::inline_data("image/png", [0x89, b'P', b'N', b'G']);
    /// assert_eq!(part.inline_data.unwrap().decode().unwrap(), [0x89, b'P', b'N', b'G']);
    /// ```
    pub fn inline_data(mime_type: impl Into<String>, bytes: impl AsRef<[u8]>) -> Self {
        Part {
            inline_data: Some(InlineData {
                mime_type: mime_type.into(),
                data: BASE64.encode(bytes),
            }),
            ..Part::empty()
        }
    }

    /// The text, when this is a text part.
    ///
    /// ```
    /// use vertex_batch::batch_file::Part;
    ///
    /// assert_eq!(Part::text("x").as_text(), Some("x"));
    /// assert_eq!(Part::file_data("gs://b/o.pdf", "application/pdf").as_text(), None);
    /// ```
    pub fn as_text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    fn empty() -> Self {
        Part {
            text: None,
            file_data: None,
            inline_data: None,
            thought: false,
        }
    }

    /// Checks a part of a request: exactly one kind of data, nothing empty.
    pub(crate) fn validate(&self, field: &str) -> Result<()> {
        let kinds = [
            self.text.is_some(),
            self.file_data.is_some(),
            self.inline_data.is_some(),
        ];
        match kinds.iter().filter(|set| **set).count() {
            0 => {
                return Err(Error::invalid(
                    field,
                    "is empty; a part holds text, fileData or inlineData",
                ));
            }
            1 => {}
            _ => {
                return Err(Error::invalid(
                    field,
                    "holds more than one of text, fileData and inlineData; put each in its own part",
                ));
            }
        }
        if self.text.as_deref() == Some("") {
            return Err(Error::invalid(
                format!("{field}.text"),
                "is empty; the service rejects empty text parts",
            ));
        }
        if let Some(file) = &self.file_data {
            if file.file_uri.is_empty() {
                return Err(Error::invalid(
                    format!("{field}.fileData.fileUri"),
                    "is empty; expected a URI like gs://bucket/object.jpg",
                ));
            }
            check_mime_type(&format!("{field}.fileData.mimeType"), &file.mime_type)?;
        }
        if let Some(inline) = &self.inline_data {
            check_mime_type(&format!("{field}.inlineData.mimeType"), &inline.mime_type)?;
        }
        Ok(())
    }
}

fn check_mime_type(field: &str, mime_type: &str) -> Result<()> {
    match mime_type.split_once('/') {
        Some((kind, subtype)) if !kind.is_empty() && !subtype.is_empty() => Ok(()),
        _ => Err(Error::invalid(
            field,
            format!(
                "`{mime_type}` is not a MIME type; expected one like image/jpeg or application/pdf"
            ),
        )),
    }
}

/// A file by URI and its MIME type, the `fileData` of a [`Part`].
///
/// ```
/// use vertex_batch::batch_file::FileData;
///
/// let file: FileData = serde_json::from_str(r#"{"fileUri": "gs://b/a.pdf", "mimeType": "application/pdf"}"#).unwrap();
/// assert_eq!(file.file_uri, "gs://b/a.pdf");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileData {
    /// Where the file is: `gs://bucket/object`, an `https://` URL.
    #[serde(alias = "file_uri")]
    pub file_uri: String,
    /// Its MIME type, e.g. `image/jpeg`, `application/pdf`, `video/mp4`.
    #[serde(alias = "mime_type")]
    pub mime_type: String,
}

/// Bytes carried in the line, the `inlineData` of a [`Part`]; `data` is base64 as on the wire.
///
/// ```
/// use vertex_batch::batch_file::InlineData;
///
/// let inline: InlineData = serde_json::from_str(r#"{"mimeType": "text/plain", "data": "aGk="}"#).unwrap();
/// assert_eq!(inline.decode().unwrap(), b"hi");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineData {
    /// The MIME type of the bytes.
    #[serde(alias = "mime_type")]
    pub mime_type: String,
    /// The bytes, standard base64 with padding.
    pub data: String,
}

impl InlineData {
    /// The bytes, decoded from base64.
    ///
    /// ```
    /// use vertex_batch::batch_file::InlineData;
    ///
    /// let bad = InlineData { mime_type: "text/plain".into(), data: "not base64!".into() };
    /// assert!(bad.decode().unwrap_err().is_invalid_input());
    /// ```
    pub fn decode(&self) -> Result<Vec<u8>> {
        BASE64.decode(&self.data).map_err(|err| {
            Error::invalid("inlineData.data", format!("is not standard base64: {err}"))
        })
    }
}

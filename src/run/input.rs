//! Reading a run's input file: JSONL lines `{"request": {...}, "key": "..."}`, or plain text with
//! one prompt a line.
//!
//! Blank lines are skipped; a line without a key gets its line number (counting from 1, blank
//! lines included), so a result can be traced back to its line. Every problem names its line,
//! as `input line N`.

use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::RunRequest;
use crate::error::{Error, Result};

/// How the lines of an input file read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputFormat {
    /// `{"request": {...}}` a line, as Vertex AI batch input, with an optional `"key"`.
    Jsonl,
    /// One prompt a line, sent as a single user text turn.
    Text,
}

/// The requests of an input file, read a line at a time (memory holds one line).
///
/// ```
/// use vertex_batch::run::{InputFormat, InputLines};
///
/// let file = "{\"request\": {\"contents\": [{\"role\": \"user\", \"parts\": [{\"text\": \"Hi\"}]}]}, \"key\": \"a\"}\n\n\
///             {\"request\": {\"contents\": [{\"role\": \"user\", \"parts\": [{\"text\": \"Bye\"}]}]}}\n";
/// let requests: Vec<_> = InputLines::new(file.as_bytes(), InputFormat::Jsonl).collect::<Result<_, _>>()?;
/// assert_eq!(requests.len(), 2);
/// assert_eq!(requests[0].key(), Some("a"));
/// // Without a key, the line number (blank lines count).
/// assert_eq!(requests[1].key(), Some("3"));
///
/// let err = InputLines::new("{\"request\": \n".as_bytes(), InputFormat::Jsonl).next().unwrap().unwrap_err();
/// assert!(err.to_string().starts_with("invalid input line 1: not JSON"), "{err}");
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Debug)]
pub struct InputLines<R> {
    reader: R,
    format: InputFormat,
    line: Vec<u8>,
    number: u64,
    /// The file, for read errors.
    path: Option<std::path::PathBuf>,
}

impl InputLines<std::io::BufReader<std::fs::File>> {
    /// Opens a local file.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file when it cannot be opened.
    pub fn open(path: impl AsRef<Path>, format: InputFormat) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: Some(path.to_path_buf()),
            error: source,
        })?;
        let mut lines = InputLines::new(std::io::BufReader::with_capacity(1 << 20, file), format);
        lines.path = Some(path.to_path_buf());
        Ok(lines)
    }
}

impl<R: BufRead> InputLines<R> {
    /// Reads lines from `reader`.
    pub fn new(reader: R, format: InputFormat) -> Self {
        InputLines {
            reader,
            format,
            line: Vec::new(),
            number: 0,
            path: None,
        }
    }

    fn field(&self) -> String {
        format!("input line {}", self.number)
    }

    fn parse(&self, text: &str) -> Result<RunRequest> {
        match self.format {
            InputFormat::Text => Ok(RunRequest::text(text)
                .with_key(self.number.to_string())
                .at_line(self.number)),
            InputFormat::Jsonl => {
                let line: Line<'_> = serde_json::from_str(text).map_err(|err| {
                    let what = if err.is_data() {
                        format!(
                            "{err}; expected {{\"request\": {{\"contents\": [...]}}}} with an \
                             optional \"key\": \"...\""
                        )
                    } else {
                        format!("not JSON ({err})")
                    };
                    Error::invalid(self.field(), what)
                })?;
                let request = line.request.get();
                if !request.starts_with('{') {
                    return Err(Error::invalid(
                        self.field(),
                        "\"request\" is not an object: expected {\"request\": {\"contents\": [...]}}",
                    ));
                }
                Ok(RunRequest::checked(request)
                    .with_key(line.key.unwrap_or_else(|| self.number.to_string()))
                    .at_line(self.number))
            }
        }
    }
}

/// One JSONL line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow)]
    request: &'a RawValue,
    #[serde(default)]
    key: Option<String>,
}

impl<R: BufRead> Iterator for InputLines<R> {
    type Item = Result<RunRequest>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.line.clear();
            match self.reader.read_until(b'\n', &mut self.line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(source) => {
                    return Some(Err(Error::Io {
                        path: self.path.clone(),
                        error: source,
                    }));
                }
            }
            self.number += 1;
            let text = match std::str::from_utf8(&self.line) {
                Ok(text) => text.trim_end_matches(['\n', '\r']),
                Err(_) => {
                    return Some(Err(Error::invalid(self.field(), "is not UTF-8 text")));
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            return Some(self.parse(text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_error(input: &str, format: InputFormat) -> String {
        InputLines::new(input.as_bytes(), format)
            .find_map(Result::err)
            .unwrap()
            .to_string()
    }

    #[test]
    fn bad_lines_are_named_with_what_is_expected() {
        let ok = r#"{"request": {"contents": []}}"#;
        for (input, expected) in [
            ("{\"request\": ", "invalid input line 1: not JSON"),
            (
                &format!("{ok}\n[1, 2]"),
                "invalid input line 2: invalid type",
            ),
            ("{\"key\": \"a\"}", "missing field `request`"),
            ("{\"request\": {}, \"id\": 3}", "unknown field `id`"),
            ("{\"request\": [1]}", "\"request\" is not an object"),
            ("{\"request\": {}, \"key\": 7}", "invalid type: integer `7`"),
        ] {
            let err = first_error(input, InputFormat::Jsonl);
            assert!(err.contains(expected), "{input}: {err}");
            assert!(err.starts_with("invalid input line"), "{err}");
        }
    }

    #[test]
    fn text_lines_are_prompts_keyed_by_line_number() {
        let requests: Vec<RunRequest> = InputLines::new(
            "a \"quoted\" prompt\r\n\nsecond\n".as_bytes(),
            InputFormat::Text,
        )
        .collect::<Result<_>>()
        .unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].key(), Some("1"));
        assert_eq!(requests[1].key(), Some("3"));
        let request: serde_json::Value = serde_json::from_str(requests[0].request_json()).unwrap();
        assert_eq!(
            request["contents"][0]["parts"][0]["text"],
            "a \"quoted\" prompt"
        );
    }
}

//! Reading a run's input file: JSONL lines `{"request": {...}, "key": "..."}`, or plain text with
//! one prompt a line.
//!
//! Blank lines are skipped; a line without a key gets its line number (counting from 1, blank
//! lines included), so a result can be traced back to its line. Every problem names its line,
//! as `input line N`. A line is at most [`MAX_LINE_BYTES`] long (a longer one ends the reading
//! with an error naming it and the limit); a UTF-8 byte-order mark at the start of the input
//! is skipped, in both formats.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::BufRead;
use std::ops::Range;
use std::path::Path;

use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::RunRequest;
use super::isolate::{ImportCheck, Scanned};
use super::request::text_request_into;
use crate::batch_file::{Line as ReadLine, MAX_LINE_BYTES, read_line};
use crate::error::size_text;
use crate::error::{Error, Result};
use crate::scan::{Key, Root, Scanner};

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
    /// The texts of the last request read by the iterator (kept for its capacity).
    texts: String,
    /// The longest line read, in bytes.
    max_line_bytes: usize,
    /// A line past the limit was met: reading stops there.
    ended: bool,
    /// The one scan of each line (`scan`), and the import check across lines.
    scanner: Scanner,
    import: ImportCheck,
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
            texts: String::new(),
            max_line_bytes: MAX_LINE_BYTES,
            ended: false,
            scanner: Scanner::with_kinds(),
            import: ImportCheck::default(),
        }
    }

    /// The longest line to read, in bytes (default [`MAX_LINE_BYTES`], as
    /// [`PredictionReader`](crate::batch_file::PredictionReader) reads): a longer one is an error
    /// naming its line and the limit, read no further, so a file that is not one prompt a line
    /// (`/dev/zero`, a disk image) is refused instead of filling memory.
    ///
    /// ```
    /// use vertex_batch::run::{InputFormat, InputLines};
    ///
    /// let mut lines = InputLines::new("short\na line too long\n".as_bytes(), InputFormat::Text)
    ///     .with_max_line_bytes(10);
    /// assert!(lines.next().unwrap().is_ok());
    /// let err = lines.next().unwrap().unwrap_err().to_string();
    /// assert!(err.starts_with("invalid input line 2: is longer than the limit of 10 bytes"), "{err}");
    /// assert!(lines.next().is_none());
    /// ```
    pub fn with_max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes;
        self
    }

    fn field(&self) -> String {
        format!("input line {}", self.number)
    }

    /// The request of the line read into `buffer`, appended to `out`; `None` for a blank line.
    fn parse_buffer(&mut self, buffer: &[u8], out: &mut String) -> Option<Result<Parts>> {
        // A UTF-8 byte-order mark (as some editors write) starts the file, not the prompt.
        let line = match buffer.strip_prefix(BOM) {
            Some(rest) if self.number == 1 => rest,
            _ => buffer,
        };
        let text = match std::str::from_utf8(line) {
            Ok(text) => text.trim_end_matches(['\n', '\r']),
            Err(_) => {
                return Some(Err(Error::invalid(self.field(), "is not UTF-8 text")));
            }
        };
        if text.trim().is_empty() {
            return None;
        }
        Some(self.parse_into(text, out))
    }

    /// Checks the line `text` and appends its request's JSON text and its key to `out`, in one
    /// pass over the line (`scan`) that also gives what staging needs of the request.
    fn parse_into(&mut self, text: &str, out: &mut String) -> Result<Parts> {
        let start = out.len();
        let (key, facts) = match self.format {
            InputFormat::Text => {
                text_request_into(text, out);
                let facts = self
                    .scanner
                    .scan(&out.as_bytes()[start..], Root::Request)
                    .map_err(|err| Error::internal(format!("a text request: {err:?}")))?;
                (None, facts)
            }
            InputFormat::Jsonl => match self.scanner.scan_input_line(text.as_bytes()) {
                Some(line) => {
                    out.push_str(&text[line.request.clone()]);
                    let key = match line.key {
                        None => None,
                        Some(Key::Plain(range)) => Some(Cow::Borrowed(&text[range])),
                        Some(Key::Unescaped(key)) => Some(Cow::Owned(key)),
                    };
                    (key, line.facts)
                }
                None => return Err(self.line_error(text)),
            },
        };
        let end = out.len();
        let scanned = self
            .import
            .scanned(&mut self.scanner, &out.as_bytes()[start..end], facts);
        match key {
            Some(key) => out.push_str(&key),
            None => {
                let _ = write!(out, "{}", self.number);
            }
        }
        Ok(Parts {
            request: start..end,
            key: end..out.len(),
            line: self.number,
            scanned,
        })
    }

    /// Why a line the scan could not read is not an input line, as serde_json words it.
    fn line_error(&self, text: &str) -> Error {
        match serde_json::from_str::<Line<'_>>(text) {
            Err(err) => {
                let what = if err.is_data() {
                    format!(
                        "{err}; expected {{\"request\": {{\"contents\": [...]}}}} with an \
                         optional \"key\": \"...\""
                    )
                } else {
                    format!("not JSON ({err})")
                };
                Error::invalid(self.field(), what)
            }
            Ok(line) if !line.request.get().starts_with('{') => Error::invalid(
                self.field(),
                "\"request\" is not an object: expected {\"request\": {\"contents\": [...]}}",
            ),
            // serde_json reads what the scan did not: a bug of the scan's, said as it is.
            Ok(_) => Error::invalid(
                self.field(),
                "could not be read by the run's JSON scanner, though serde_json reads it",
            ),
        }
    }

    /// The next request's parts, appended to `out`; `None` at the end of the input.
    fn next_into(&mut self, out: &mut String) -> Option<Result<Parts>> {
        loop {
            if self.ended {
                return None;
            }
            match read_line(&mut self.reader, &mut self.line, self.max_line_bytes) {
                Ok(ReadLine::End) => return None,
                Ok(ReadLine::Read) => {}
                Ok(ReadLine::TooLong) => {
                    self.number += 1;
                    self.ended = true;
                    return Some(Err(Error::invalid(
                        self.field(),
                        format!(
                            "is longer than the limit of {} a line may have",
                            size_text(self.max_line_bytes)
                        ),
                    )));
                }
                Err(source) => {
                    return Some(Err(Error::Io {
                        path: self.path.clone(),
                        error: source,
                    }));
                }
            }
            self.number += 1;
            // The line is lent out while it is parsed (which needs the reader's scanner).
            let buffer = std::mem::take(&mut self.line);
            let parsed = self.parse_buffer(&buffer, out);
            self.line = buffer;
            match parsed {
                None => continue,
                Some(parsed) => return Some(parsed),
            }
        }
    }
}

/// Where one request's texts are in a buffer of several, its line, and what its scan found.
#[derive(Debug)]
struct Parts {
    request: Range<usize>,
    key: Range<usize>,
    line: u64,
    scanned: Scanned,
}

impl Parts {
    fn request_in(self, text: &str) -> RunRequest {
        RunRequest::scanned(&text[self.request.clone()], self.scanned)
            .with_key(&text[self.key.clone()])
            .at_line(self.line)
    }
}

/// Requests read by the reading thread of [`InputLines::into_stream`]: their texts in one
/// buffer, so that the thread that reads them allocates once a batch and the run's task
/// allocates (and frees) each request's strings itself. Requests moving between threads one by
/// one would have every allocation freed by the other thread, which the system allocator makes
/// several times slower.
struct Batch {
    text: String,
    parts: Vec<Parts>,
    error: Option<Error>,
}

impl Batch {
    fn into_requests(self) -> impl Iterator<Item = Result<RunRequest>> {
        let Batch { text, parts, error } = self;
        parts
            .into_iter()
            .map(move |parts| Ok(parts.request_in(&text)))
            .chain(error.map(Err))
    }
}

/// One JSONL line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow)]
    request: &'a RawValue,
    /// Read for its errors only (a key that is not a string).
    #[serde(default, borrow, rename = "key")]
    _key: Option<Cow<'a, str>>,
}

/// The UTF-8 byte-order mark.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// Requests a reading thread hands over at a time.
const BATCH: usize = 1024;

/// The text a batch holds, at most (and one line more).
const BATCH_BYTES: usize = 256 * 1024;

/// Batches waiting for the run: a few thousand requests, or a megabyte, at most.
const BATCHES_QUEUED: usize = 4;

impl<R: BufRead + Send + 'static> InputLines<R> {
    /// The requests as a stream for [`BatchRun::run`](super::BatchRun::run), read and checked
    /// on a thread of their own, so that reading the input overlaps staging it (the iterator
    /// itself, through `futures_util::stream::iter`, reads on the run's task). Memory holds a
    /// few thousand requests at most. The stream ends after the first error, as the run does.
    ///
    /// ```no_run
    /// # async fn run(run: vertex_batch::run::BatchRun) -> vertex_batch::Result<()> {
    /// use vertex_batch::run::{InputFormat, InputLines};
    ///
    /// let requests = InputLines::open("prompts.jsonl", InputFormat::Jsonl)?.into_stream();
    /// let results = run.run(requests).await?;
    /// # Ok(()) }
    /// ```
    pub fn into_stream(self) -> impl Stream<Item = Result<RunRequest>> + Send + 'static {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Batch>(BATCHES_QUEUED);
        std::thread::spawn(move || {
            let mut lines = self;
            loop {
                let mut batch = Batch {
                    text: String::with_capacity(BATCH_BYTES + BATCH_BYTES / 8),
                    parts: Vec::with_capacity(BATCH),
                    error: None,
                };
                let mut ended = false;
                while batch.parts.len() < BATCH && batch.text.len() < BATCH_BYTES {
                    match lines.next_into(&mut batch.text) {
                        Some(Ok(parts)) => batch.parts.push(parts),
                        Some(Err(error)) => {
                            batch.error = Some(error);
                            ended = true;
                            break;
                        }
                        None => {
                            ended = true;
                            break;
                        }
                    }
                }
                let empty = batch.parts.is_empty() && batch.error.is_none();
                // A run that stopped early dropped the receiver: nothing more to read.
                if (!empty && sender.blocking_send(batch).is_err()) || ended {
                    return;
                }
            }
        });
        futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver
                .recv()
                .await
                .map(|batch| (futures_util::stream::iter(batch.into_requests()), receiver))
        })
        .flatten()
    }
}

impl<R: BufRead> Iterator for InputLines<R> {
    type Item = Result<RunRequest>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut text = std::mem::take(&mut self.texts);
        text.clear();
        let request = self
            .next_into(&mut text)
            .map(|parts| parts.map(|parts| parts.request_in(&text)));
        self.texts = text;
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

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

    #[tokio::test]
    async fn the_stream_gives_every_request_in_order_and_ends_at_the_first_error() {
        let ok = r#"{"request": {"contents": []}}"#;
        let mut input = vec![ok; 3000].join("\n");
        let requests: Vec<_> =
            InputLines::new(std::io::Cursor::new(input.clone()), InputFormat::Jsonl)
                .into_stream()
                .collect()
                .await;
        let keys: Vec<String> = requests
            .into_iter()
            .map(|request| request.unwrap().key().unwrap().to_owned())
            .collect();
        assert_eq!(keys, (1..=3000).map(|n| n.to_string()).collect::<Vec<_>>());

        input.push_str("\nnot json\n");
        input.push_str(ok);
        let requests: Vec<_> = InputLines::new(std::io::Cursor::new(input), InputFormat::Jsonl)
            .into_stream()
            .collect()
            .await;
        assert_eq!(requests.len(), 3001);
        let err = requests.last().unwrap().as_ref().unwrap_err().to_string();
        assert!(
            err.starts_with("invalid input line 3001: not JSON"),
            "{err}"
        );
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

    #[test]
    fn a_line_past_the_limit_is_an_error_naming_it_and_the_limit_and_ends_the_reading() {
        for format in [InputFormat::Jsonl, InputFormat::Text] {
            let ok = r#"{"request": {"contents": []}}"#;
            let input = format!("{ok}\n{}\n{ok}\n", "x".repeat(100));
            let results: Vec<_> = InputLines::new(input.as_bytes(), format)
                .with_max_line_bytes(64)
                .collect();
            assert_eq!(results.len(), 2, "nothing read past the long line");
            let err = results[1].as_ref().unwrap_err().to_string();
            assert_eq!(
                err,
                "invalid input line 2: is longer than the limit of 64 bytes a line may have"
            );
        }
        // A line of exactly the limit is read; its newline does not count.
        let line = format!("{}\n", "y".repeat(64));
        let mut lines = InputLines::new(line.as_bytes(), InputFormat::Text).with_max_line_bytes(64);
        assert!(lines.next().unwrap().is_ok());
        // An endless line without a newline, as /dev/zero: refused after the limit.
        let zeros = std::io::BufReader::new(std::io::repeat(0).take(1 << 20));
        let err = InputLines::new(zeros, InputFormat::Jsonl)
            .with_max_line_bytes(1 << 10)
            .next()
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 1: is longer than the limit of 1 KiB (1024 bytes)"),
            "{err}"
        );
    }

    #[test]
    fn a_byte_order_mark_starts_the_file_not_the_prompt() {
        let ok = r#"{"request": {"contents": []}, "key": "a"}"#;
        let jsonl = format!("\u{feff}{ok}\n");
        let requests: Vec<RunRequest> = InputLines::new(jsonl.as_bytes(), InputFormat::Jsonl)
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(requests[0].key(), Some("a"));
        let text = "\u{feff}first prompt\n\u{feff}second\n";
        let requests: Vec<RunRequest> = InputLines::new(text.as_bytes(), InputFormat::Text)
            .collect::<Result<_>>()
            .unwrap();
        let prompt = |request: &RunRequest| {
            let value: serde_json::Value = serde_json::from_str(request.request_json()).unwrap();
            value["contents"][0]["parts"][0]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(prompt(&requests[0]), "first prompt");
        // Only at the start of the input: later, it is the prompt's own character.
        assert_eq!(prompt(&requests[1]), "\u{feff}second");
        // A file that is only a mark has no prompt.
        assert_eq!(
            InputLines::new("\u{feff}\n".as_bytes(), InputFormat::Text).count(),
            0
        );
    }
}

//! `PredictionReader`: predictions.jsonl files read line by line, in constant memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::prediction::Prediction;
use crate::error::size_text;
use crate::{Error, Result};

/// How many characters of a malformed line its error shows.
const EXCERPT_CHARS: usize = 80;

/// The longest line a [`PredictionReader`] reads by default, in bytes (64 MiB): room for a
/// request with its inline data and its answer, while a file that is not JSONL at all
/// (`/dev/zero`, a disk image) is refused instead of read into memory until it runs out.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A line, in the buffer (with its newline, if it had one).
    Read,
    /// The end of the input.
    End,
    /// A line longer than the limit: the buffer holds its first `limit + 1` bytes, and the
    /// input is left inside it.
    TooLong,
}

/// Reads one line into `buf` (cleared first), never holding more than `limit + 1` bytes of it.
pub(crate) fn read_line(
    input: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Line> {
    buf.clear();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    if input.take(cap).read_until(b'\n', buf)? == 0 {
        return Ok(Line::End);
    }
    let content = buf.len() - usize::from(buf.ends_with(b"\n"));
    Ok(if content > limit {
        Line::TooLong
    } else {
        Line::Read
    })
}

/// Reads output lines as [`Prediction`]s, one at a time, from any `BufRead`, a file, or every
/// `predictions*.jsonl` file of a job's output directory.
///
/// It is an iterator of `Result<Prediction>`. Memory stays constant however long the file: one
/// line buffer is reused and each prediction is yours to keep or drop. Blank lines are skipped.
/// A line that is not a prediction (not JSON, not UTF-8) is an error naming the file and the line
/// number, never skipped silently; reading may go on after it. A line longer than
/// [`MAX_LINE_BYTES`] (or the limit set with [`with_max_line_bytes`](Self::with_max_line_bytes))
/// is an error naming the file, the line and the limit, and ends the iteration, as an I/O
/// error does.
///
/// After each item, [`line_number`](Self::line_number) and [`path`](Self::path) say where it
/// came from.
///
/// ```
/// use vertex_batch::batch_file::PredictionReader;
///
/// let file = concat!(
///     r#"{"request": {}, "response": {"candidates": [{"content": {"parts": [{"text": "4"}]}}]}, "status": ""}"#, "\n",
///     "\n",
///     r#"{"request": {}, "status": "Bad Request: contents is required"}"#, "\n",
///     "not json\n",
/// );
/// let mut reader = PredictionReader::new(file.as_bytes());
///
/// let first = reader.next().unwrap()?;
/// assert_eq!(first.text().as_deref(), Some("4"));
/// assert_eq!(reader.line_number(), 1);
///
/// let second = reader.next().unwrap()?;
/// assert_eq!(second.error(), Some("Bad Request: contents is required"));
/// assert_eq!(reader.line_number(), 3);
///
/// let err = reader.next().unwrap().unwrap_err();
/// assert!(err.to_string().starts_with("invalid line 4: is not a prediction line"));
/// assert!(reader.next().is_none());
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Debug)]
pub struct PredictionReader<R> {
    input: R,
    path: Option<PathBuf>,
    line: Vec<u8>,
    line_number: u64,
    max_line_bytes: usize,
    /// The files still to read, for a reader over a directory.
    next_files: std::vec::IntoIter<PathBuf>,
    /// Opens the next file; set only by `open_dir`, where `R` is a buffered file.
    open_next: Option<fn(&Path) -> io::Result<R>>,
    done: bool,
}

impl<R: BufRead> PredictionReader<R> {
    /// A reader over `input`, e.g. `std::io::stdin().lock()` or a decompressing reader.
    ///
    /// ```
    /// use vertex_batch::batch_file::PredictionReader;
    ///
    /// let reader = PredictionReader::new(&b"{\"status\": \"\"}\n"[..]);
    /// assert_eq!(reader.count(), 1);
    /// ```
    pub fn new(input: R) -> Self {
        PredictionReader {
            input,
            path: None,
            line: Vec::new(),
            line_number: 0,
            max_line_bytes: MAX_LINE_BYTES,
            next_files: Vec::new().into_iter(),
            open_next: None,
            done: false,
        }
    }

    /// The longest line to read, in bytes (default [`MAX_LINE_BYTES`]): a longer one is an
    /// error that ends the iteration, rather than memory used up.
    ///
    /// ```
    /// use vertex_batch::batch_file::PredictionReader;
    ///
    /// let mut reader = PredictionReader::new(&b"{\"status\": \"a long line\"}\n"[..]).with_max_line_bytes(10);
    /// let err = reader.next().unwrap().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid line 1: is longer than the limit of 10 bytes a line may have");
    /// assert!(reader.next().is_none());
    /// ```
    pub fn with_max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes;
        self
    }

    /// The line number (from 1) of the last line read, in the file being read.
    ///
    /// ```
    /// use vertex_batch::batch_file::PredictionReader;
    ///
    /// let mut reader = PredictionReader::new(&b"\n\n{}\n"[..]);
    /// reader.next();
    /// assert_eq!(reader.line_number(), 3);
    /// ```
    pub fn line_number(&self) -> u64 {
        self.line_number
    }

    /// The file being read, when the reader reads files.
    ///
    /// ```
    /// use vertex_batch::batch_file::PredictionReader;
    ///
    /// assert_eq!(PredictionReader::new(&b""[..]).path(), None);
    /// ```
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn line_error(&self, reason: String) -> Error {
        let place = match &self.path {
            Some(path) => format!("{} line {}", path.display(), self.line_number),
            None => format!("line {}", self.line_number),
        };
        Error::invalid(place, reason)
    }

    /// Moves on to the next file of a directory; `false` when there is none.
    fn open_next_file(&mut self) -> Result<bool> {
        let (Some(open), Some(path)) = (self.open_next, self.next_files.next()) else {
            return Ok(false);
        };
        self.input = open(&path).map_err(|error| Error::Io {
            path: Some(path.clone()),
            error,
        })?;
        self.path = Some(path);
        self.line_number = 0;
        Ok(true)
    }
}

impl PredictionReader<BufReader<File>> {
    /// A reader over the file at `path`.
    ///
    /// ```
    /// use vertex_batch::batch_file::PredictionReader;
    ///
    /// let path = std::env::temp_dir().join(format!("vertex-batch-doc-open-{}.jsonl", std::process::id()));
    /// std::fs::write(&path, "{\"status\": \"\"}\n{\"status\": \"boom\"}\n").unwrap();
    /// let failed = PredictionReader::open(&path)?.filter(|row| !row.as_ref().unwrap().is_ok()).count();
    /// assert_eq!(failed, 1);
    /// # std::fs::remove_file(&path).unwrap();
    ///
    /// let err = PredictionReader::open("/no/such/predictions.jsonl").unwrap_err();
    /// assert!(err.is_io() && err.to_string().contains("/no/such/predictions.jsonl"));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut reader = PredictionReader::new(open_buffered(path).map_err(|error| Error::Io {
            path: Some(path.to_path_buf()),
            error,
        })?);
        reader.path = Some(path.to_path_buf());
        Ok(reader)
    }

    /// A reader over every `predictions*.jsonl` file directly in `dir`, in name order: the
    /// job's output directory (`output_info.gcs_output_directory`, the
    /// `prediction-model-<timestamp>` folder), copied or mounted locally. Line numbers restart
    /// at each file; [`path`](Self::path) says which file.
    ///
    /// ```
    /// use vertex_batch::batch_file::PredictionReader;
    ///
    /// let dir = std::env::temp_dir().join(format!("vertex-batch-doc-dir-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("predictions_2.jsonl"), "{\"status\": \"b\"}\n").unwrap();
    /// std::fs::write(dir.join("predictions_1.jsonl"), "{\"status\": \"a\"}\n").unwrap();
    /// std::fs::write(dir.join("notes.txt"), "not read").unwrap();
    ///
    /// let statuses: Vec<String> = PredictionReader::open_dir(&dir)?.map(|row| row.unwrap().status).collect();
    /// assert_eq!(statuses, ["a", "b"]);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn open_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let dir_error = |error| Error::Io {
            path: Some(dir.to_path_buf()),
            error,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(dir_error)? {
            let entry = entry.map_err(dir_error)?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if super::is_predictions_file(&name) && entry.path().is_file() {
                files.push(entry.path());
            }
        }
        files.sort();
        let mut files = files.into_iter();
        let Some(first) = files.next() else {
            return Err(dir_error(io::Error::new(
                io::ErrorKind::NotFound,
                "no predictions*.jsonl file in this directory; a job writes them in its \
                 prediction-model-<timestamp> folder (output_info.gcs_output_directory)",
            )));
        };
        let mut reader = PredictionReader::open(first)?;
        reader.next_files = files;
        reader.open_next = Some(open_buffered);
        Ok(reader)
    }
}

fn open_buffered(path: &Path) -> io::Result<BufReader<File>> {
    File::open(path).map(BufReader::new)
}

impl<R: BufRead> Iterator for PredictionReader<R> {
    type Item = Result<Prediction>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match read_line(&mut self.input, &mut self.line, self.max_line_bytes) {
                Ok(Line::End) => match self.open_next_file() {
                    Ok(true) => {}
                    Ok(false) => self.done = true,
                    Err(err) => {
                        self.done = true;
                        return Some(Err(err));
                    }
                },
                Ok(Line::TooLong) => {
                    self.line_number += 1;
                    self.done = true;
                    return Some(Err(self.line_error(format!(
                        "is longer than the limit of {} a line may have",
                        size_text(self.max_line_bytes)
                    ))));
                }
                Ok(Line::Read) => {
                    self.line_number += 1;
                    // The whole line was read: reading may go on after a bad one.
                    let Ok(line) = std::str::from_utf8(&self.line) else {
                        return Some(Err(self.line_error("is not UTF-8 text".into())));
                    };
                    let line = line.trim();
                    if line.is_empty() {
                        continue;
                    }
                    return Some(serde_json::from_str(line).map_err(|err| {
                        self.line_error(format!(
                            "is not a prediction line ({err}): `{}`",
                            excerpt(line)
                        ))
                    }));
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.done = true;
                    return Some(Err(Error::Io {
                        path: self.path.clone(),
                        error,
                    }));
                }
            }
        }
        None
    }
}

/// The start of a line, cut on a character boundary.
fn excerpt(line: &str) -> String {
    match line.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => format!("{}...", &line[..end]),
        None => line.to_owned(),
    }
}

//! `PredictionReader`: predictions.jsonl files read line by line, in constant memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::prediction::Prediction;
use crate::{Error, Result};

/// How many characters of a malformed line its error shows.
const EXCERPT_CHARS: usize = 80;

/// Reads output lines as [`Prediction`]s, one at a time, from any `BufRead`, a file, or every
/// `predictions*.jsonl` file of a job's output directory.
///
/// It is an iterator of `Result<Prediction>`. Memory stays constant however long the file: one
/// line buffer is reused and each prediction is yours to keep or drop. Blank lines are skipped.
/// A line that is not a prediction (not JSON, not UTF-8) is an error naming the file and the line
/// number, never skipped silently; reading may go on after it. An I/O error ends the iteration.
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
    line: String,
    line_number: u64,
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
            line: String::new(),
            line_number: 0,
            next_files: Vec::new().into_iter(),
            open_next: None,
            done: false,
        }
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
        self.input = open(&path).map_err(|source| Error::Io {
            path: Some(path.clone()),
            source,
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
        let mut reader =
            PredictionReader::new(open_buffered(path).map_err(|source| Error::Io {
                path: Some(path.to_path_buf()),
                source,
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
        let dir_error = |source| Error::Io {
            path: Some(dir.to_path_buf()),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(dir_error)? {
            let entry = entry.map_err(dir_error)?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("predictions") && name.ends_with(".jsonl") && entry.path().is_file()
            {
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
            self.line.clear();
            match self.input.read_line(&mut self.line) {
                Ok(0) => match self.open_next_file() {
                    Ok(true) => {}
                    Ok(false) => self.done = true,
                    Err(err) => {
                        self.done = true;
                        return Some(Err(err));
                    }
                },
                Ok(_) => {
                    self.line_number += 1;
                    let line = self.line.trim();
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
                // read_line consumed the line up to its newline: reading may go on after it.
                Err(err) if err.kind() == io::ErrorKind::InvalidData => {
                    self.line_number += 1;
                    return Some(Err(self.line_error("is not UTF-8 text".into())));
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    self.done = true;
                    return Some(Err(Error::Io {
                        path: self.path.clone(),
                        source,
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

//! `BatchFileWriter`: batch input lines to any `io::Write` or a file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::request::BatchRequest;
use crate::{Error, Result};

/// Writes [`BatchRequest`]s as a batch input file, one JSON line each.
///
/// A request is checked before anything is written: a bad one is an error naming its line and
/// field, and leaves the output as it was, so you may skip it and go on. Call
/// [`finish`](Self::finish) at the end: it flushes, and reports an error a drop would swallow.
///
/// ```
/// use vertex_batch::batch_file::{BatchFileWriter, BatchRequest};
///
/// let mut writer = BatchFileWriter::new(Vec::new());
/// for prompt in ["Why is the sky blue?", "Why is grass green?"] {
///     writer.write(&BatchRequest::new().with_user_text(prompt))?;
/// }
/// assert_eq!(writer.count(), 2);
///
/// let err = writer.write(&BatchRequest::new()).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid line 3: request.contents: is empty; add at least one turn with with_user_text or with_content"
/// );
///
/// let bytes = writer.finish()?;
/// let text = String::from_utf8(bytes).unwrap();
/// assert_eq!(text.lines().count(), 2);
/// assert!(text.starts_with(r#"{"request":{"contents":[{"role":"user","parts":[{"text":"Why is the sky blue?"}]}]}}"#));
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Debug)]
pub struct BatchFileWriter<W> {
    out: W,
    path: Option<PathBuf>,
    /// One line, serialized here first so that a failure writes nothing; reused across lines.
    line: Vec<u8>,
    count: u64,
}

impl<W: Write> BatchFileWriter<W> {
    /// A writer to `out`. Wrap unbuffered outputs (files, sockets) in a `BufWriter`, or use
    /// [`BatchFileWriter::create`].
    ///
    /// ```
    /// use vertex_batch::batch_file::BatchFileWriter;
    ///
    /// let writer = BatchFileWriter::new(std::io::sink());
    /// assert_eq!(writer.count(), 0);
    /// ```
    pub fn new(out: W) -> Self {
        BatchFileWriter {
            out,
            path: None,
            line: Vec::new(),
            count: 0,
        }
    }

    /// Checks `request` and writes it as the next line.
    ///
    /// ```
    /// use vertex_batch::batch_file::{BatchFileWriter, BatchRequest};
    ///
    /// let mut writer = BatchFileWriter::new(Vec::new());
    /// writer.write(&BatchRequest::new().with_user_text("Hello"))?;
    /// assert!(writer.finish()?.ends_with(b"}\n"));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn write(&mut self, request: &BatchRequest) -> Result<()> {
        let line_number = self.count + 1;
        let at_line = |err: Error| match err {
            Error::InvalidInput { field, reason } => {
                Error::invalid(format!("line {line_number}: {field}"), reason)
            }
            other => other,
        };
        let line = request.line().map_err(at_line)?;
        self.line.clear();
        serde_json::to_writer(&mut self.line, &line)
            .map_err(|err| at_line(Error::invalid("request", err.to_string())))?;
        self.line.push(b'\n');
        self.out.write_all(&self.line).map_err(|error| Error::Io {
            path: self.path.clone(),
            error,
        })?;
        self.count += 1;
        Ok(())
    }

    /// How many lines have been written.
    ///
    /// ```
    /// use vertex_batch::batch_file::{BatchFileWriter, BatchRequest};
    ///
    /// let mut writer = BatchFileWriter::new(std::io::sink());
    /// writer.write(&BatchRequest::new().with_user_text("a"))?;
    /// assert_eq!(writer.count(), 1);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Flushes and gives the output back.
    ///
    /// ```
    /// use vertex_batch::batch_file::BatchFileWriter;
    ///
    /// let bytes: Vec<u8> = BatchFileWriter::new(Vec::new()).finish()?;
    /// assert!(bytes.is_empty());
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn finish(mut self) -> Result<W> {
        self.out.flush().map_err(|error| Error::Io {
            path: self.path.take(),
            error,
        })?;
        Ok(self.out)
    }
}

impl BatchFileWriter<BufWriter<File>> {
    /// Creates (or truncates) the file at `path` and writes to it, buffered.
    ///
    /// ```
    /// use vertex_batch::batch_file::{BatchFileWriter, BatchRequest};
    ///
    /// let path = std::env::temp_dir().join(format!("vertex-batch-doc-{}.jsonl", std::process::id()));
    /// let mut writer = BatchFileWriter::create(&path)?;
    /// writer.write(&BatchRequest::new().with_user_text("Hello"))?;
    /// writer.finish()?;
    /// assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    /// # std::fs::remove_file(&path).unwrap();
    ///
    /// let err = BatchFileWriter::create("/no/such/dir/input.jsonl").unwrap_err();
    /// assert!(err.is_io() && err.to_string().contains("/no/such/dir/input.jsonl"));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::create(path).map_err(|error| Error::Io {
            path: Some(path.to_path_buf()),
            error,
        })?;
        let mut writer = BatchFileWriter::new(BufWriter::new(file));
        writer.path = Some(path.to_path_buf());
        Ok(writer)
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    /// An output that fails every write: the error carries the path and nothing is counted.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn io_errors_are_reported_and_not_counted() {
        let mut writer = BatchFileWriter::new(Broken);
        let err = writer
            .write(&BatchRequest::new().with_user_text("hi"))
            .unwrap_err();
        assert!(err.is_io());
        assert_eq!(err.to_string(), "I/O error: disk on fire");
        assert_eq!(writer.count(), 0);
    }
}

//! `Summary`: the counts of a predictions file, and where its failed rows are.

use std::io::BufRead;
use std::path::PathBuf;

use super::reader::PredictionReader;
use super::{Prediction, UsageMetadata};
use crate::Result;

/// Counts of a predictions file (or directory): rows, successes, failures with their line and
/// status, and tokens.
///
/// Token totals saturate: sums that would pass `u64::MAX` (only a damaged or hostile file has
/// such counts) stay at `u64::MAX` rather than wrapping round to a small, plausible number.
///
/// ```
/// use vertex_batch::batch_file::{PredictionReader, Summary};
///
/// let file = concat!(
///     r#"{"response": {"usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 7, "totalTokenCount": 12}}, "status": ""}"#, "\n",
///     r#"{"status": "Bad Request: contents is required"}"#, "\n",
/// );
/// let summary = Summary::from_reader(PredictionReader::new(file.as_bytes()))?;
/// assert_eq!((summary.total, summary.succeeded, summary.failed), (2, 1, 1));
/// assert_eq!(summary.failed_rows[0].line, 2);
/// assert_eq!(summary.failed_rows[0].status, "Bad Request: contents is required");
/// assert_eq!(summary.usage.total_token_count, 12);
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// Rows read.
    pub total: u64,
    /// Rows with an empty status.
    pub succeeded: u64,
    /// Rows with an error status.
    pub failed: u64,
    /// Where each failed row is, and its status, in file order.
    pub failed_rows: Vec<FailedRow>,
    /// Tokens over all rows, by kind (saturating at `u64::MAX`).
    pub usage: UsageMetadata,
}

/// A failed row of a predictions file: where it is and why it failed.
///
/// ```
/// use vertex_batch::batch_file::{PredictionReader, Summary};
///
/// let summary = Summary::from_reader(PredictionReader::new(&b"{\"status\": \"quota\"}\n"[..]))?;
/// let row = &summary.failed_rows[0];
/// assert_eq!((row.path.as_deref(), row.line, row.status.as_str()), (None, 1, "quota"));
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedRow {
    /// The file, when the reader reads files.
    pub path: Option<PathBuf>,
    /// The line number in that file, from 1.
    pub line: u64,
    /// The row's error status.
    pub status: String,
}

impl Summary {
    /// Reads everything `reader` has and counts it. A line that is not a prediction stops the
    /// count with its error: a damaged file should not pass for a good one.
    ///
    /// ```
    /// use vertex_batch::batch_file::{PredictionReader, Summary};
    ///
    /// let err = Summary::from_reader(PredictionReader::new(&b"{\"status\": \"\"}\n{oops\n"[..])).unwrap_err();
    /// assert!(err.to_string().starts_with("invalid line 2:"));
    /// ```
    pub fn from_reader<R: BufRead>(mut reader: PredictionReader<R>) -> Result<Summary> {
        let mut summary = Summary::default();
        while let Some(row) = reader.next() {
            let row = row?;
            summary.add(row, reader.path(), reader.line_number());
        }
        Ok(summary)
    }

    /// Counts one more row: `row`, at `line` (from 1) of `path` (a file, or a table's URI;
    /// for a table, `line` is the row's place in the order it was read).
    ///
    /// ```
    /// use std::path::Path;
    /// use vertex_batch::batch_file::{Prediction, Summary};
    ///
    /// let mut summary = Summary::default();
    /// let failed: Prediction = serde_json::from_str(r#"{"status": "quota"}"#)?;
    /// summary.add(failed, Some(Path::new("bq://my-project.d.results")), 3);
    /// assert_eq!((summary.total, summary.failed, summary.failed_rows[0].line), (1, 1, 3));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn add(&mut self, row: Prediction, path: Option<&std::path::Path>, line: u64) {
        self.total += 1;
        if let Some(usage) = row.usage() {
            self.usage.add(usage);
        }
        match row.error() {
            None => self.succeeded += 1,
            Some(_) => {
                self.failed += 1;
                self.failed_rows.push(FailedRow {
                    path: path.map(Into::into),
                    line,
                    status: row.status,
                });
            }
        }
    }
}

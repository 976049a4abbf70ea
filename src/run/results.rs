//! What a run gives back: one [`RowResult`] per request in input order, and a [`RunSummary`].

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::rows::{RowState, RowTable};
use super::spool::{KeyReader, LineSpool, ScratchDir};
use super::status::RowStatus;
use crate::batch_file::{GenerateContentResponse, UsageMetadata};
use crate::error::{Error, Result};

/// One request's result.
#[derive(Debug)]
#[non_exhaustive]
pub struct RowResult {
    /// The key the request was given (its position, counting from 1, when it had none).
    pub key: String,
    /// The request's position in the input, counting from 0.
    pub row: u64,
    /// The answer, or why there is none.
    pub outcome: std::result::Result<Answer, RowError>,
}

/// An answered request.
#[derive(Debug)]
#[non_exhaustive]
pub struct Answer {
    /// The whole `GenerateContentResponse`, exactly as the service wrote it.
    pub response: Box<RawValue>,
    /// The first candidate's text parts joined (thoughts left out); `None` when it has none
    /// (a blocked prompt, only function calls).
    pub text: Option<String>,
}

/// Why a request has no answer. Displays as `429: Resource exhausted...`; an
/// [`std::error::Error`], so `?` takes it.
///
/// ```
/// # fn first(results: &mut vertex_batch::run::RunResults) -> Result<(), Box<dyn std::error::Error>> {
/// if let Some(row) = results.next_result() {
///     let answer = row?.outcome?;
///     println!("{}", answer.text.unwrap_or_default());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RowError {
    /// An HTTP-style code: 400 for a bad request, 429 for quota, 504 for a job that expired
    /// first; 0 when the service's text names none.
    pub code: u16,
    /// The service's message, or what happened to the row's job.
    pub message: String,
    /// The failure could pass (the run gave up after its follow-up rounds); `false` for a
    /// request the service refuses as it is.
    pub transient: bool,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if self.transient {
            f.write_str(" (transient: a later run may answer it)")?;
        }
        Ok(())
    }
}

impl std::error::Error for RowError {}

/// What a run did, complete once the run's jobs have ended (before the results are read).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunSummary {
    /// Requests in the input.
    pub rows: u64,
    /// Requests answered.
    pub answered: u64,
    /// Requests without an answer.
    pub failed: u64,
    /// Failed requests by code.
    pub failed_by_code: BTreeMap<u16, u64>,
    /// Rounds run: 1, plus the follow-up rounds that had rows to try again.
    pub rounds: u8,
    /// Jobs, all rounds together.
    pub jobs: u64,
    /// Tokens of the answers.
    pub usage: UsageMetadata,
    /// Output lines for a row already seen in the same round (the first good answer is kept).
    pub repeated_lines: u64,
    /// Output lines of no row the job was sent (no row id, or another's).
    pub unexpected_lines: u64,
    /// Output lines that are not JSON.
    pub unreadable_lines: u64,
    /// Times a row sent in a job was missing from its output (each was tried again or
    /// reported).
    pub missing_rows: u64,
    /// Output lines joined to no row because their echoed request was not the one staged for
    /// the row they name, or because their key and their request's label named two rows;
    /// each such row was sent again (or reported, after the last round).
    pub mismatched_lines: u64,
    /// Requests the service's import would refuse (nesting deeper than 15, an empty object, a
    /// field name BigQuery refuses, a field whose type differs from earlier requests'), staged
    /// in shards of their own so that only their jobs can fail for them
    /// ([`BatchRun::with_unimportable_refused`](super::BatchRun::with_unimportable_refused)
    /// refuses them instead).
    pub staged_apart: u64,
    /// Those requests by what the import refuses in them (`"an empty object"`, ...).
    pub staged_apart_by_reason: BTreeMap<String, u64>,
    /// Bytes staged by this process (a resumed run does not stage again what was staged).
    pub staged_bytes: u64,
    /// Time this process spent reading the input and staging it (round 0 and follow-ups).
    pub staging_time: std::time::Duration,
    /// Bytes of output read by this process.
    pub output_bytes: u64,
    /// Time this process spent reading outputs into the join.
    pub collecting_time: std::time::Duration,
    /// Set when the run was ended for good ([`BatchRun::end`](super::BatchRun::end)) or by its
    /// deadline: when and why.
    pub ended: Option<String>,
    /// Cloud Storage requests this process sent again after a transient failure (429, 5xx, a
    /// broken connection, a download cut part way).
    pub storage_retries: u64,
    /// Calls to Vertex AI this process sent again (polls, creates, cancels) because the service
    /// could not be reached, beyond the client's own retries.
    pub service_unreachable: u64,
    /// Jobs this process cancelled because they were still queued at the queue deadline.
    pub jobs_past_queue_deadline: u64,
    /// Jobs of the manifest the service no longer had, resolved from their outputs.
    pub jobs_lost: u64,
    /// This process took the run's lease over from a holder whose lease had lapsed.
    pub lease_taken_over: bool,
}

/// Why the rows of a job missing from its output failed: code and message.
pub(crate) type MissingReasons = Vec<Vec<(u16, String)>>;

/// The results of a run, one per request in input order, read from local scratch files (never
/// from the network). As a [`Stream`](futures_util::Stream) it reads them in batches on tokio's
/// blocking pool, so the async runtime never waits on a file; [`next_result`](Self::next_result)
/// reads one at once, for code that is not async.
///
/// The scratch folder goes away when this is dropped.
#[derive(Debug)]
pub struct RunResults {
    summary: RunSummary,
    /// The reader, when no batch is being read.
    reader: Option<Box<Reader>>,
    /// A batch being read on the blocking pool.
    reading: Option<tokio::task::JoinHandle<Batch>>,
    /// Results read and not yet given.
    ready: VecDeque<Result<RowResult>>,
}

/// Results read from the scratch files a batch at a time.
const BATCH: usize = 1024;

/// A batch read on the blocking pool, and the reader back.
type Batch = (Box<Reader>, VecDeque<Result<RowResult>>);

/// Reads results from the scratch files, in input order.
#[derive(Debug)]
struct Reader {
    table: RowTable,
    spool: LineSpool,
    keys: KeyReader,
    missing: MissingReasons,
    next: u64,
    line: Vec<u8>,
    _scratch: ScratchDir,
}

impl RunResults {
    pub(crate) fn new(
        mut summary: RunSummary,
        table: RowTable,
        mut spool: LineSpool,
        keys: KeyReader,
        missing: MissingReasons,
        scratch: ScratchDir,
    ) -> Result<Self> {
        spool.flush()?;
        let mut reader = Reader {
            table,
            spool,
            keys,
            missing,
            next: 0,
            line: Vec::new(),
            _scratch: scratch,
        };
        // Failed rows are few: read their codes now, so the summary is whole before the results.
        let (answered, failed) = reader.table.counts();
        summary.answered = answered;
        summary.failed = failed;
        for row in 0..reader.table.len() {
            if matches!(
                reader.table.slot(row).state,
                RowState::Failed | RowState::Missing | RowState::Mismatched | RowState::Pending
            ) {
                let code = reader.error_of(row)?.code;
                *summary.failed_by_code.entry(code).or_default() += 1;
            }
        }
        Ok(RunResults {
            summary,
            reader: Some(Box::new(reader)),
            reading: None,
            ready: VecDeque::new(),
        })
    }

    /// What the run did.
    pub fn summary(&self) -> &RunSummary {
        &self.summary
    }

    /// The next result in input order, or `None` after the last, read at once (a blocking
    /// read of a local file: from async code, read the results as a stream).
    ///
    /// # Errors
    /// [`Error::Io`] when a scratch file cannot be read; [`Error::Internal`] when called while
    /// the stream is reading a batch.
    pub fn next_result(&mut self) -> Option<Result<RowResult>> {
        if let Some(ready) = self.ready.pop_front() {
            return Some(ready);
        }
        match &mut self.reader {
            Some(reader) => reader.next_result(),
            None if self.reading.is_some() => Some(Err(Error::internal(
                "next_result was called while the results stream was reading a batch",
            ))),
            None => None,
        }
    }
}

impl futures_util::Stream for RunResults {
    type Item = Result<RowResult>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(ready) = this.ready.pop_front() {
                // The next batch is read while this one is given out.
                this.read_ahead();
                return Poll::Ready(Some(ready));
            }
            if let Some(reading) = &mut this.reading {
                let done = std::task::ready!(Pin::new(reading).poll(cx));
                this.reading = None;
                let (reader, batch) = match done {
                    Ok(done) => done,
                    Err(err) => {
                        return Poll::Ready(Some(Err(Error::internal(format!(
                            "reading a run's results stopped: {err}"
                        )))));
                    }
                };
                if batch.is_empty() {
                    return Poll::Ready(None);
                }
                this.reader = Some(reader);
                this.ready = batch;
                continue;
            }
            if this.reader.is_none() {
                return Poll::Ready(None);
            }
            this.read_ahead();
        }
    }
}

impl RunResults {
    /// Starts reading the next batch, on the blocking pool (or here, outside a tokio runtime),
    /// unless one is being read or every result was read.
    fn read_ahead(&mut self) {
        if self.reading.is_some() {
            return;
        }
        let Some(mut reader) = self.reader.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                self.reading = Some(runtime.spawn_blocking(move || {
                    let batch = reader.read_batch(BATCH);
                    (reader, batch)
                }));
            }
            Err(_) => {
                let batch = reader.read_batch(BATCH);
                if !batch.is_empty() {
                    self.reader = Some(reader);
                }
                self.ready.extend(batch);
            }
        }
    }
}

impl Reader {
    fn read_batch(&mut self, most: usize) -> VecDeque<Result<RowResult>> {
        let mut batch = VecDeque::with_capacity(most.min(1024));
        while batch.len() < most {
            match self.next_result() {
                Some(result) => batch.push_back(result),
                None => break,
            }
        }
        batch
    }

    fn next_result(&mut self) -> Option<Result<RowResult>> {
        if self.next >= self.table.len() {
            return None;
        }
        let row = self.next;
        self.next += 1;
        Some(self.result_of(row))
    }

    fn result_of(&mut self, row: u64) -> Result<RowResult> {
        let key = self.keys.next_key()?;
        let outcome = match self.table.slot(row).state {
            RowState::Answered => Ok(self.answer_of(row)?),
            _ => Err(self.error_of(row)?),
        };
        Ok(RowResult { key, row, outcome })
    }

    fn answer_of(&mut self, row: u64) -> Result<Answer> {
        let slot = *self.table.slot(row);
        self.spool.read(slot.offset, slot.len, &mut self.line)?;
        let chosen: Chosen<'_> = serde_json::from_slice(&self.line).map_err(corrupt)?;
        let response = chosen
            .response
            .map_or_else(
                || RawValue::from_string("null".to_owned()),
                |r| RawValue::from_string(r.get().to_owned()),
            )
            .map_err(corrupt)?;
        let text = answer_text(&response);
        Ok(Answer { response, text })
    }

    fn error_of(&mut self, row: u64) -> Result<RowError> {
        let slot = *self.table.slot(row);
        match slot.state {
            RowState::Failed => {
                self.spool.read(slot.offset, slot.len, &mut self.line)?;
                let chosen: Chosen<'_> = serde_json::from_slice(&self.line).map_err(corrupt)?;
                let status = RowStatus::of(chosen.status).unwrap_or_else(|| RowStatus::parse(""));
                Ok(RowError {
                    code: status.code,
                    message: status.message,
                    transient: status.transient,
                })
            }
            RowState::Missing => {
                let (code, mut message) = self
                    .missing
                    .get(usize::from(slot.round))
                    .and_then(|round| round.get(slot.offset as usize))
                    .cloned()
                    .unwrap_or((500, "missing from its job's output".to_owned()));
                if let Some(reason) = self.table.apart.reason_of(row) {
                    message.push_str(&format!(
                        " (the request was staged in a job of its own: {reason})"
                    ));
                }
                Ok(RowError {
                    code,
                    message,
                    transient: slot.transient,
                })
            }
            RowState::Mismatched => Ok(RowError {
                code: 502,
                message: format!(
                    "the output of this row's job in round {} had a line for it echoing another \
                     request than the one staged for it (or naming another row too): it was \
                     not joined",
                    slot.round
                ),
                transient: true,
            }),
            RowState::Pending | RowState::Answered => Ok(RowError {
                code: 500,
                message: "the run ended before this row was sent".to_owned(),
                transient: true,
            }),
        }
    }
}

/// A response's text, read with `batch_file`'s types (the one reading of an output line), so a
/// run's answer text is what [`PredictionReader`](crate::batch_file::PredictionReader) gives.
fn answer_text(response: &RawValue) -> Option<String> {
    serde_json::from_str::<GenerateContentResponse>(response.get())
        .ok()?
        .text()
}

fn corrupt(err: serde_json::Error) -> Error {
    Error::Io {
        path: None,
        error: std::io::Error::other(format!("a run's scratch line no longer reads: {err}")),
    }
}

/// The parts of a chosen output line a result needs.
#[derive(Deserialize)]
struct Chosen<'a> {
    #[serde(default, borrow)]
    response: Option<&'a RawValue>,
    #[serde(default, borrow)]
    status: Option<&'a RawValue>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch_file::PredictionReader;

    /// Each golden line (typed in from Vertex AI's public samples): the run's text of its
    /// response is the reader's.
    #[test]
    fn the_runs_text_is_the_readers_text_on_every_golden_line() {
        let golden = include_str!("../../tests/data/golden_predictions.jsonl");
        let rows: Vec<_> = PredictionReader::new(golden.as_bytes())
            .map(|row| row.unwrap())
            .collect();
        assert_eq!(rows.len(), golden.lines().count());
        let mut answered = 0;
        for (line, row) in golden.lines().zip(&rows) {
            let chosen: Chosen<'_> = serde_json::from_str(line).unwrap();
            let text = chosen.response.and_then(answer_text);
            assert_eq!(text, row.text(), "{line}");
            answered += usize::from(text.is_some());
        }
        assert!(answered >= 2, "the golden lines hold answers with text");
    }
}

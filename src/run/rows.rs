//! The join: one fixed-size slot per input row, filled from output lines in whatever order and
//! however often they come, and only by a line that echoes the request staged for that row.
//!
//! A slot is 16 bytes (a test checks it): where the row's chosen output line is in the spool, its
//! state, and the rounds it was last sent in and last seen in; beside it, the canonical hash of
//! the row's request (8 bytes, `scan::hash`), computed as the input is read. The first good
//! answer of a row wins; a failed line is kept until a good one comes; a row seen twice in one
//! round is counted as repeated; a line whose row id this run did not send in that job is
//! counted as unexpected; a row sent but never seen is missing. Nothing is dropped without being
//! counted.
//!
//! The row id is read from the line's top-level `key` or from its request's labels, whichever
//! came back (`label.rs`); when both came back and disagree, the line joins no row. A line whose
//! echoed request does not hash as the one staged for its row joins no row either: it is counted
//! as mismatched, logged naming the row, and the row (unless another line answers it) goes to
//! the next round. Answers paired with the wrong prompt are the loudest complaint about batch
//! output (python-genai #1909, python-aiplatform #1166, curator #276); this is why it cannot
//! happen here.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::isolate::{Apart, RowGroup};
use super::label::{KeyRow, row_id_in_raw_line};
use super::spool::LineSpool;
use super::status::RowStatus;
use crate::batch_file::UsageMetadata;
use crate::error::Result;
use crate::scan::{Root, Scanner};

/// Where a row stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum RowState {
    /// Sent (or to be sent) in its round; no line seen yet.
    Pending,
    /// A good answer, in the spool.
    Answered,
    /// A failed line, in the spool; `transient` says whether a later round may answer it.
    Failed,
    /// Sent, but its job's output has no line for it; `offset` holds the job's shard index.
    Missing,
    /// Sent, and its job's output has only lines for it that echo another request (or name
    /// it beside another row); `offset` holds the job's shard index. Always sent again.
    Mismatched,
}

/// One row. `offset` and `len` locate its line in the spool (for a missing row, `offset` is
/// the shard it was sent in).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub(crate) offset: u64,
    pub(crate) len: u32,
    pub(crate) state: RowState,
    pub(crate) transient: bool,
    /// The round the row was last sent in.
    pub(crate) round: u8,
    /// 1 + the round of the last line seen for it; 0 before any.
    seen: u8,
}

/// What the collection of a job found, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Lines for a row already seen in the same round.
    pub(crate) repeated: u64,
    /// Lines for a row this job was not sent, or with no row id.
    pub(crate) unexpected: u64,
    /// Lines that are not JSON.
    pub(crate) unreadable: u64,
    /// Rows sent and not seen.
    pub(crate) missing: u64,
    /// Lines whose echoed request is not the one staged for their row, or whose two row ids
    /// disagree: joined to no row.
    pub(crate) mismatched: u64,
}

impl Tally {
    pub(crate) fn add(&mut self, other: Tally) {
        self.mismatched += other.mismatched;
        self.repeated += other.repeated;
        self.unexpected += other.unexpected;
        self.unreadable += other.unreadable;
        self.missing += other.missing;
    }
}

/// Every row of a run.
#[derive(Debug)]
pub(crate) struct RowTable {
    slots: Vec<Slot>,
    /// Each row's request's canonical hash, as staged.
    hashes: Vec<u64>,
    /// The rows staged apart (`isolate.rs`): their shards' row ranges overlap others'.
    pub(crate) apart: Apart,
    /// Whether a line must echo its row's request to join it (always, but to measure what
    /// the check costs).
    check: bool,
    scanner: Scanner,
    pub(crate) usage: UsageMetadata,
}

/// The rows of one job: sent in `round`, of `group`, with row ids from `first` to `last`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JobRows {
    pub(crate) round: u8,
    pub(crate) shard: u32,
    pub(crate) first: u64,
    pub(crate) last: u64,
    pub(crate) group: RowGroup,
}

impl RowTable {
    /// A row per hash (each row's request's canonical hash), all to be sent in round 0; the
    /// rows staged apart in `apart`.
    pub(crate) fn new(hashes: Vec<u64>, apart: Apart) -> Self {
        let slot = Slot {
            offset: 0,
            len: 0,
            state: RowState::Pending,
            transient: false,
            round: 0,
            seen: 0,
        };
        RowTable {
            slots: vec![slot; hashes.len()],
            hashes,
            apart,
            check: true,
            scanner: Scanner::default(),
            usage: UsageMetadata::default(),
        }
    }

    /// Joins without checking echoed requests against the staged ones, by the key alone when
    /// a line has it (to measure what the check costs).
    pub(crate) fn without_check(mut self) -> Self {
        self.check = false;
        self
    }

    pub(crate) fn len(&self) -> u64 {
        self.slots.len() as u64
    }

    pub(crate) fn slot(&self, row: u64) -> &Slot {
        &self.slots[row as usize]
    }

    /// Whether `row` goes out in `round`.
    pub(crate) fn is_sent_in(&self, row: u64, round: u8) -> bool {
        self.slots
            .get(row as usize)
            .is_some_and(|s| s.round == round && s.state == RowState::Pending)
    }

    /// Takes one output line of the job sent `rows`; keeps it in `spool` when it decides the row.
    pub(crate) fn take_line(
        &mut self,
        line: &[u8],
        rows: JobRows,
        spool: &mut LineSpool,
        tally: &mut Tally,
    ) -> Result<()> {
        let Ok(peek) = serde_json::from_slice::<Peek<'_>>(line) else {
            tally.unreadable += 1;
            return Ok(());
        };
        let key_row = peek.key.and_then(|key| key.0);
        // Unchecked (only to measure the check), a line with its key needs no scan.
        let (label_row, echoed) = if !self.check && key_row.is_some() {
            (None, Echoed::Hash(0))
        } else {
            self.read_request(peek.request)
        };
        let sent = |table: &RowTable, row: u64| {
            (rows.first..=rows.last).contains(&row)
                && table
                    .slots
                    .get(row as usize)
                    .is_some_and(|s| s.round == rows.round)
                && table.apart.group_of(row) == rows.group
        };
        let row = match (key_row, label_row) {
            (Some(key), Some(label)) if key != label => {
                tracing::warn!(
                    target: "vertex_batch::run::step",
                    key_row = key, label_row = label, round = rows.round, shard = rows.shard,
                    "an output line names two rows (its key and its request's label disagree): \
                     joined to neither"
                );
                tally.mismatched += 1;
                for row in [key, label] {
                    if sent(self, row) {
                        self.mismatch(row, rows);
                    }
                }
                return Ok(());
            }
            (Some(row), _) | (None, Some(row)) => row,
            (None, None) => {
                tally.unexpected += 1;
                return Ok(());
            }
        };
        if !sent(self, row) {
            tally.unexpected += 1;
            return Ok(());
        }
        // The echoed request must be the one staged for the row. A request the service could
        // not parse and echoed as raw text is a failed row: its status is kept (no answer
        // can join by it).
        let failure = RowStatus::of(peek.status);
        let matches = match echoed {
            Echoed::Hash(hash) => !self.check || hash == self.hashes[row as usize],
            Echoed::Raw => failure.is_some(),
            Echoed::Unreadable => false,
        };
        if !matches {
            tracing::warn!(
                target: "vertex_batch::run::step",
                row, round = rows.round, shard = rows.shard,
                "an output line's echoed request is not the request staged for its row: not joined"
            );
            tally.mismatched += 1;
            self.mismatch(row, rows);
            return Ok(());
        }
        let slot = &mut self.slots[row as usize];
        let ok = failure.is_none();
        if slot.seen == rows.round + 1 {
            tally.repeated += 1;
            // The first good answer stays; a good one replaces a failure.
            if slot.state == RowState::Answered || !ok {
                return Ok(());
            }
        }
        slot.seen = rows.round + 1;
        let (offset, len) = spool.append(line)?;
        slot.offset = offset;
        slot.len = len;
        if ok {
            slot.state = RowState::Answered;
            slot.transient = false;
            if let Some(usage) = peek.response.and_then(|r| r.usage) {
                self.usage.add(&usage);
            }
        } else {
            slot.state = RowState::Failed;
            slot.transient = failure.is_some_and(|status| status.transient);
        }
        Ok(())
    }

    /// The row id in an echoed request's labels, and what the request was.
    fn read_request(&mut self, request: Option<&RawValue>) -> (Option<u64>, Echoed) {
        let Some(request) = request else {
            return (None, Echoed::Unreadable);
        };
        let text = request.get();
        if text.starts_with('"') {
            let raw: String = serde_json::from_str(text).unwrap_or_default();
            return (row_id_in_raw_line(&raw), Echoed::Raw);
        }
        match self.scanner.scan(text.as_bytes(), Root::Request) {
            Ok(facts) => (facts.row_label, Echoed::Hash(facts.hash)),
            Err(_) => (None, Echoed::Unreadable),
        }
    }

    /// A line for `row` of the job sent `rows` echoed another request: the row, unless a line
    /// of this round decided it already, is mismatched (sent again in the next round).
    fn mismatch(&mut self, row: u64, rows: JobRows) {
        let slot = &mut self.slots[row as usize];
        if slot.seen != rows.round + 1 && slot.state == RowState::Pending {
            slot.state = RowState::Mismatched;
            slot.offset = u64::from(rows.shard);
            slot.len = 0;
            slot.transient = true;
        }
    }

    /// After every output line of the job sent `rows` is taken: its rows never seen are
    /// missing, to be sent again when `retriable` (mismatched rows always are).
    pub(crate) fn close_job(&mut self, rows: JobRows, retriable: bool, tally: &mut Tally) {
        let (first, last) = (
            rows.first as usize,
            (rows.last as usize).min(self.slots.len() - 1),
        );
        if self.slots.is_empty() || first > last {
            return;
        }
        for (row, slot) in (first..=last).zip(&mut self.slots[first..=last]) {
            if slot.round == rows.round
                && self.apart.group_of(row as u64) == rows.group
                && slot.seen != rows.round + 1
                && slot.state != RowState::Mismatched
            {
                slot.state = RowState::Missing;
                slot.offset = u64::from(rows.shard);
                slot.len = 0;
                slot.transient = retriable;
                tally.missing += 1;
            }
        }
    }

    /// Marks the rows a follow-up `round` sends again: failed with a transient status, or
    /// missing from a job that may answer them another time. Gives how many.
    pub(crate) fn plan_retry(&mut self, round: u8) -> u64 {
        let mut count = 0;
        for slot in &mut self.slots {
            if matches!(
                slot.state,
                RowState::Failed | RowState::Missing | RowState::Mismatched
            ) && slot.transient
            {
                slot.state = RowState::Pending;
                slot.round = round;
                count += 1;
            }
        }
        count
    }

    /// (answered, failed) so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        let answered = self
            .slots
            .iter()
            .filter(|s| s.state == RowState::Answered)
            .count() as u64;
        let failed = self
            .slots
            .iter()
            .filter(|s| {
                matches!(
                    s.state,
                    RowState::Failed | RowState::Missing | RowState::Mismatched
                )
            })
            .count() as u64;
        (answered, failed)
    }
}

/// What the join reads of an output line; everything else is skipped without being built.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(default, borrow)]
    status: Option<&'a RawValue>,
    #[serde(default)]
    key: Option<KeyRow>,
    #[serde(default, borrow)]
    request: Option<&'a RawValue>,
    #[serde(default)]
    response: Option<ResponseUsage>,
}

/// What an output line's `request` was.
enum Echoed {
    /// A JSON object, with its canonical hash.
    Hash(u64),
    /// The raw text of a line the service could not parse.
    Raw,
    /// Missing, or not what a request can be.
    Unreadable,
}

/// A response's token counts, under either spelling.
#[derive(Deserialize)]
struct ResponseUsage {
    #[serde(default, rename = "usageMetadata", alias = "usage_metadata")]
    usage: Option<UsageMetadata>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::run::spool::ScratchDir;

    fn line(row: &str, status: &str, text: &str) -> Vec<u8> {
        format!(
            r#"{{"status":{status},"request":{{"contents":[],"labels":{{"team":"x","vertex_batch_row":{row}}}}},"response":{{"candidates":[{{"content":{{"parts":[{{"text":"{text}"}}]}}}}],"usageMetadata":{{"promptTokenCount":2,"totalTokenCount":5}}}}}}"#
        )
        .into_bytes()
    }

    /// A request's canonical hash, as staging computes it.
    pub(crate) fn hash_of(request: &str) -> u64 {
        Scanner::default()
            .scan(request.as_bytes(), Root::Request)
            .unwrap()
            .hash
    }

    #[test]
    fn a_slot_is_16_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 16);
    }

    #[test]
    fn rows_join_in_any_order_and_repeats_and_strays_are_counted() {
        let dir = ScratchDir::new(&std::env::temp_dir(), "rowstest").unwrap();
        let mut spool = LineSpool::create(dir.file("lines")).unwrap();
        let mut table = RowTable::new(
            vec![hash_of(r#"{"contents":[],"labels":{"team":"x"}}"#); 4],
            Apart::default(),
        );
        let job = JobRows {
            round: 0,
            shard: 0,
            first: 0,
            last: 3,
            group: RowGroup::Importable,
        };
        let mut tally = Tally::default();
        let quota = r#""Too Many Requests: {\"error\": {\"code\": 429}}""#;
        let bad = r#""Bad Request: {\"error\": {\"code\": 400}}""#;
        for line in [
            line("\"2\"", "\"\"", "two"),
            line("0", "null", "zero"),
            line("\"2\"", "\"\"", "two again"),
            line("\"1\"", quota, ""),
            line("\"9\"", "\"\"", "not ours"),
            b"not json".to_vec(),
        ] {
            table.take_line(&line, job, &mut spool, &mut tally).unwrap();
        }
        table.close_job(job, true, &mut tally);
        assert_eq!(
            tally,
            Tally {
                repeated: 1,
                unexpected: 1,
                unreadable: 1,
                missing: 1,
                mismatched: 0,
            }
        );
        assert_eq!(table.slot(0).state, RowState::Answered);
        assert_eq!(table.slot(1).state, RowState::Failed);
        assert!(table.slot(1).transient);
        assert_eq!(table.slot(3).state, RowState::Missing);
        assert_eq!(
            table.usage.total_token_count, 10,
            "two answers counted once each"
        );
        spool.flush().unwrap();
        let mut buf = Vec::new();
        let slot = table.slot(2);
        spool.read(slot.offset, slot.len, &mut buf).unwrap();
        assert!(
            String::from_utf8(buf).unwrap().contains("\"two\""),
            "the first answer stays"
        );

        // Round 1 sends rows 1 and 3 again; an answer to row 0 in it is not expected.
        assert_eq!(table.plan_retry(1), 2);
        let retry = JobRows {
            round: 1,
            shard: 0,
            first: 1,
            last: 3,
            group: RowGroup::Importable,
        };
        let mut tally = Tally::default();
        for line in [
            line("3", "\"\"", "three"),
            line("1", bad, ""),
            line("0", "\"\"", "x"),
        ] {
            table
                .take_line(&line, retry, &mut spool, &mut tally)
                .unwrap();
        }
        table.close_job(retry, true, &mut tally);
        assert_eq!(
            tally,
            Tally {
                unexpected: 1,
                ..Tally::default()
            }
        );
        assert_eq!(table.counts(), (3, 1));
        assert!(!table.slot(1).transient);
        assert_eq!(table.plan_retry(2), 0);
    }

    /// An echoed line as a service might write it: the key and the label each optional.
    fn echoed(key: Option<&str>, label: Option<&str>, request: &str) -> Vec<u8> {
        let mut request: serde_json::Value = serde_json::from_str(request).unwrap();
        if let Some(label) = label {
            request["labels"] = serde_json::json!({ "vertex_batch_row": label });
        }
        let mut line = serde_json::json!({"status": "", "request": request, "response": {}});
        if let Some(key) = key {
            line["key"] = key.into();
        }
        line.to_string().into_bytes()
    }

    #[test]
    fn a_line_echoing_another_request_or_naming_two_rows_joins_none() {
        let dir = ScratchDir::new(&std::env::temp_dir(), "rowsmismatch").unwrap();
        let mut spool = LineSpool::create(dir.file("lines")).unwrap();
        let requests = [
            r#"{"contents":[{"role":"user","parts":[{"text":"zero"}]}]}"#,
            r#"{"contents":[{"role":"user","parts":[{"text":"one"}]}]}"#,
            r#"{"contents":[{"role":"user","parts":[{"text":"two"}]}],"generationConfig":{"temperature":0.5}}"#,
        ];
        let mut table = RowTable::new(
            requests.iter().map(|r| hash_of(r)).collect(),
            Apart::default(),
        );
        let job = JobRows {
            round: 0,
            shard: 0,
            first: 0,
            last: 2,
            group: RowGroup::Importable,
        };
        let mut tally = Tally::default();
        // Another row's request under row 0's ids; key and label naming two rows.
        for line in [
            echoed(Some("0"), Some("0"), requests[1]),
            echoed(Some("1"), Some("2"), requests[1]),
            // Row 2's own request, re-serialised (5e-1), by its key alone.
            echoed(
                Some("2"),
                None,
                r#"{"generationConfig":{"temperature":5e-1},"contents":[{"parts":[{"text":"two"}],"role":"user"}]}"#,
            ),
        ] {
            table.take_line(&line, job, &mut spool, &mut tally).unwrap();
        }
        table.close_job(job, false, &mut tally);
        assert_eq!(
            tally,
            Tally {
                mismatched: 2,
                ..Tally::default()
            }
        );
        let states: Vec<RowState> = (0..3).map(|row| table.slot(row).state).collect();
        assert_eq!(
            states,
            [
                RowState::Mismatched,
                RowState::Mismatched,
                RowState::Answered
            ]
        );
        // Sent again, whatever the job's end; then answered by the key or the label alone.
        assert_eq!(table.plan_retry(1), 2);
        let retry = JobRows {
            round: 1,
            shard: 0,
            first: 0,
            last: 1,
            group: RowGroup::Importable,
        };
        let mut tally = Tally::default();
        for line in [
            echoed(Some("0"), None, requests[0]),
            echoed(None, Some("1"), requests[1]),
        ] {
            table
                .take_line(&line, retry, &mut spool, &mut tally)
                .unwrap();
        }
        table.close_job(retry, false, &mut tally);
        assert_eq!(tally, Tally::default());
        assert_eq!(table.counts(), (3, 0));
    }
}

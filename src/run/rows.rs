//! The join: one fixed-size slot per input row, filled from output lines in whatever order and
//! however often they come.
//!
//! A slot is 16 bytes (a test checks it): where the row's chosen output line is in the spool, its
//! state, and the rounds it was last sent in and last seen in. The first good answer of a row
//! wins; a failed line is kept until a good one comes; a row seen twice in one round is counted
//! as repeated; a line whose row id this run did not send in that job is counted as unexpected;
//! a row sent but never seen is missing. Nothing is dropped without being counted.

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

use super::label::RowId;
use super::spool::LineSpool;
use super::status::RowStatus;
use crate::batch_file::UsageMetadata;
use crate::error::Result;

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
}

impl Tally {
    pub(crate) fn add(&mut self, other: Tally) {
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
    pub(crate) usage: UsageMetadata,
}

/// The rows of one job: sent in `round`, with row ids from `first` to `last`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JobRows {
    pub(crate) round: u8,
    pub(crate) shard: u32,
    pub(crate) first: u64,
    pub(crate) last: u64,
}

impl RowTable {
    /// `rows` rows, all to be sent in round 0.
    pub(crate) fn new(rows: u64) -> Self {
        let slot = Slot {
            offset: 0,
            len: 0,
            state: RowState::Pending,
            transient: false,
            round: 0,
            seen: 0,
        };
        RowTable {
            slots: vec![slot; rows as usize],
            usage: UsageMetadata::default(),
        }
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
        let Some(row) = peek.request.and_then(|r| r.0).filter(|row| {
            (rows.first..=rows.last).contains(row)
                && self
                    .slots
                    .get(*row as usize)
                    .is_some_and(|s| s.round == rows.round)
        }) else {
            tally.unexpected += 1;
            return Ok(());
        };
        let slot = &mut self.slots[row as usize];
        let failure = RowStatus::of(peek.status);
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

    /// After every output line of the job sent `rows` is taken: its rows never seen are
    /// missing, to be sent again when `retriable`.
    pub(crate) fn close_job(&mut self, rows: JobRows, retriable: bool, tally: &mut Tally) {
        let (first, last) = (
            rows.first as usize,
            (rows.last as usize).min(self.slots.len() - 1),
        );
        if self.slots.is_empty() || first > last {
            return;
        }
        for slot in &mut self.slots[first..=last] {
            if slot.round == rows.round && slot.seen != rows.round + 1 {
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
            if matches!(slot.state, RowState::Failed | RowState::Missing) && slot.transient {
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
            .filter(|s| matches!(s.state, RowState::Failed | RowState::Missing))
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
    request: Option<RequestRowId>,
    #[serde(default)]
    response: Option<ResponseUsage>,
}

/// The row id in a request's labels, or in the raw text of a line the service echoed as a
/// string; `None` when there is none.
struct RequestRowId(Option<u64>);

impl<'de> Deserialize<'de> for RequestRowId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RequestRowId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a request")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RequestRowId, A::Error> {
                let mut row = None;
                while let Some(key) = map.next_key::<FieldIs>()? {
                    if key.0 {
                        row = map.next_value::<RowId>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(RequestRowId(row))
            }
            // A line the service could not parse is echoed as its raw text: the row id is
            // still in it, and the row keeps the status the service gave.
            fn visit_str<E>(self, raw: &str) -> Result<RequestRowId, E> {
                Ok(RequestRowId(super::label::row_id_in_raw_line(raw)))
            }
            fn visit_unit<E>(self) -> Result<RequestRowId, E> {
                Ok(RequestRowId(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Whether a request key is `labels`, without allocating.
struct FieldIs(bool);

impl<'de> Deserialize<'de> for FieldIs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FieldIs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, v: &str) -> Result<FieldIs, E> {
                Ok(FieldIs(v == "labels"))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A response's token counts, under either spelling.
#[derive(Deserialize)]
struct ResponseUsage {
    #[serde(default, rename = "usageMetadata", alias = "usage_metadata")]
    usage: Option<UsageMetadata>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::spool::ScratchDir;

    fn line(row: &str, status: &str, text: &str) -> Vec<u8> {
        format!(
            r#"{{"status":{status},"request":{{"contents":[],"labels":{{"team":"x","vertex_batch_row":{row}}}}},"response":{{"candidates":[{{"content":{{"parts":[{{"text":"{text}"}}]}}}}],"usageMetadata":{{"promptTokenCount":2,"totalTokenCount":5}}}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_slot_is_16_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 16);
    }

    #[test]
    fn rows_join_in_any_order_and_repeats_and_strays_are_counted() {
        let dir = ScratchDir::new(&std::env::temp_dir(), "rowstest").unwrap();
        let mut spool = LineSpool::create(dir.file("lines")).unwrap();
        let mut table = RowTable::new(4);
        let job = JobRows {
            round: 0,
            shard: 0,
            first: 0,
            last: 3,
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
                missing: 1
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
}

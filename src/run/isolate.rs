//! Lines the service's import would refuse, found before staging, so that one bad line costs
//! its own job and no one else's (issue 20).
//!
//! Vertex AI loads a job's input through a BigQuery-style import that fails the whole job,
//! code 3, `Failed to import data ...`, for one line it cannot load: nesting deeper than 15, an
//! empty object (`"googleSearch": {}` in `tools`), a field name BigQuery refuses (`$defs` in a
//! JSON schema), a field whose type differs between rows (OpenRouterTeam/docs
//! `docs/batch-research/google-vertex.md`; python-aiplatform #4110): one such line among
//! 200,000 costs them all. The rule is the crate's one definition, `scan::import`, found by
//! the same scan of each line that hashes it (`scan`).
//!
//! Each request falls in one of three groups, staged in shards of their own (within the job
//! limits, each group's rows in order):
//! - **importable**: nothing refused, and each field's type is the type the first row that had
//!   the field gave it (the run's rows are one import, as far as types go);
//! - **conflicting**: a field's type differs from the importable rows': such rows may well
//!   import among themselves (the service infers types per job, and the evidence that it
//!   refuses a type change is thin), so they get jobs of their own, with types of their own, by
//!   the same first-seen rule;
//! - **refused**: nesting, an empty object, a refused name, or a type that conflicts within
//!   the conflicting rows too: the service refuses these, so their jobs fail, with the
//!   import's error as each row's result.
//!
//! Types are judged in the order the lines are read (for an [`InputLines`](super::InputLines)
//! stream on its reading thread, for other requests as the run takes them), so the same input
//! gives the same groups in every process (a resumed run checks that it finds as many rows
//! apart as were staged). With
//! [`BatchRun::with_unimportable_refused`](super::BatchRun::with_unimportable_refused) a line
//! that is not importable is refused before any job instead, naming its line and JSON path.

use std::collections::{BTreeMap, HashMap};

use crate::scan::import::{Finding, Kinds};
use crate::scan::{Facts, Root, Scanner};

/// The three groups, as a shard and a row record them.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RowGroup {
    #[default]
    Importable,
    Conflicting,
    Refused,
}

impl RowGroup {
    pub(crate) const ALL: [RowGroup; 3] = [
        RowGroup::Importable,
        RowGroup::Conflicting,
        RowGroup::Refused,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The first letter of its shards' input file names (`s00000-000.jsonl`, `c...`, `x...`).
    pub(crate) fn file_prefix(self) -> char {
        match self {
            RowGroup::Importable => 's',
            RowGroup::Conflicting => 'c',
            RowGroup::Refused => 'x',
        }
    }

    pub(crate) fn is_importable(&self) -> bool {
        *self == RowGroup::Importable
    }
}

/// Which shards a request goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Group {
    /// Nothing the import refuses.
    Importable,
    /// A field's type differs from the importable rows'.
    Conflicting(Box<Finding>),
    /// What the import refuses in any job.
    Refused(Box<Finding>),
}

impl Group {
    pub(crate) fn row_group(&self) -> RowGroup {
        match self {
            Group::Importable => RowGroup::Importable,
            Group::Conflicting(_) => RowGroup::Conflicting,
            Group::Refused(_) => RowGroup::Refused,
        }
    }

    /// Why it is not importable.
    pub(crate) fn finding(&self) -> Option<&Finding> {
        match self {
            Group::Importable => None,
            Group::Conflicting(finding) | Group::Refused(finding) => Some(finding),
        }
    }
}

/// What the one scan of a request gave staging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// The request's canonical hash (`scan::hash`), for the join.
    pub(crate) hash: u64,
    /// Whether the request has its own `labels` (then staging merges the row's into them).
    pub(crate) has_labels: bool,
    /// Whether those have the run's row label (refused).
    pub(crate) has_row_label: bool,
    pub(crate) group: Group,
}

/// The import check of a run's requests, across rows.
#[derive(Debug, Default)]
pub(crate) struct ImportCheck {
    importable: Kinds,
    conflicting: Kinds,
}

impl ImportCheck {
    /// Sorts the request `text`, whose scan (by `scanner`, which recorded the fields' types)
    /// gave `facts`.
    pub(crate) fn scanned(&mut self, scanner: &mut Scanner, text: &[u8], facts: Facts) -> Scanned {
        let group = match facts.refusal {
            Some(finding) => Group::Refused(Box::new(finding)),
            None => match self.importable.check(&scanner.kinds) {
                None => Group::Importable,
                Some(conflict) => {
                    let again = self.conflicting.check(&scanner.kinds);
                    let (path, before, now) = again.unwrap_or(conflict);
                    let finding = Box::new(Finding::TypeConflict {
                        path: scanner
                            .path_of(text, Root::Request, path)
                            .unwrap_or_default(),
                        before,
                        now,
                    });
                    if again.is_some() {
                        Group::Refused(finding)
                    } else {
                        Group::Conflicting(finding)
                    }
                }
            },
        };
        Scanned {
            hash: facts.hash,
            has_labels: facts.labels.is_some(),
            has_row_label: facts.has_row_label,
            group,
        }
    }
}

/// The rows of a run staged apart, with why: few, so kept in a map.
#[derive(Debug, Default)]
pub(crate) struct Apart {
    rows: HashMap<u64, (RowGroup, u32)>,
    /// Each distinct reason once.
    reasons: Vec<String>,
    index: HashMap<String, u32>,
    /// Rows by what the import refuses in them.
    by_kind: BTreeMap<String, u64>,
}

impl Apart {
    /// Records that `row` goes to `group` because of `finding`.
    pub(crate) fn add(&mut self, row: u64, group: RowGroup, finding: &Finding) {
        let reason = format!(
            "{} at {}: {}",
            finding.kind(),
            finding.json_path(),
            finding.service_message()
        );
        let next = self.reasons.len() as u32;
        let at = *self.index.entry(reason.clone()).or_insert(next);
        if at == next {
            self.reasons.push(reason);
        }
        self.rows.insert(row, (group, at));
        *self.by_kind.entry(finding.kind().to_owned()).or_default() += 1;
    }

    /// The group of `row`.
    #[inline]
    pub(crate) fn group_of(&self, row: u64) -> RowGroup {
        if self.rows.is_empty() {
            return RowGroup::Importable;
        }
        self.rows
            .get(&row)
            .map_or(RowGroup::Importable, |(group, _)| *group)
    }

    /// Why `row` was staged apart, if it was.
    pub(crate) fn reason_of(&self, row: u64) -> Option<&str> {
        let (_, at) = self.rows.get(&row)?;
        self.reasons.get(*at as usize).map(String::as_str)
    }

    /// How many rows were staged apart.
    pub(crate) fn len(&self) -> u64 {
        self.rows.len() as u64
    }

    /// Those rows by what the import refuses in them.
    pub(crate) fn by_kind(&self) -> &BTreeMap<String, u64> {
        &self.by_kind
    }
}

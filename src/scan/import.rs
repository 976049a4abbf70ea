//! The rule of the BigQuery-style import that Vertex AI runs over a job's input before any
//! prediction: what it cannot load, which fails the whole job (FAILED, code 3, `Failed to
//! import data. ...`). One definition, for the run's check before staging (`run::isolate`)
//! and the emulator's import (`emulator::import`).
//!
//! Sources: OpenRouterTeam/docs `docs/batch-research/google-vertex.md` ("Importer
//! constraints", 75 jobs in 7 days, with the message fragments used below) and
//! googleapis/python-aiplatform #4110 (`Job failed: code: 3 message: "Failed to import data.
//! ..."`, a `_vertex_row_id` whose type changed). The four kinds:
//! - nesting deeper than 15 levels: `Schema nested too deeply, at least 16 compared to the
//!   maximum allowed level of 15` (objects count, arrays do not: a repeated record is one
//!   level);
//! - an empty object (`"googleSearch": {}` in `tools`): `Cannot store struct
//!   'request.tools.google_search' with no fields`;
//! - a field name BigQuery refuses (`$defs`, `$schema`, a name with spaces): `Invalid field
//!   name "$defs"`, the text of BigQuery's column-name rule
//!   (cloud.google.com/bigquery/docs/schemas#column_names);
//! - a field whose type differs between rows (the importer infers one type per key across the
//!   file): `Repeated field must be imported as a JSON array. Field: ...` was captured for an
//!   array beside a scalar; the text for other changes is this crate's.
//!
//! Field paths are dotted and leave array indices out, as BigQuery names columns; a finding
//! also keeps the JSON path with indices, for a person to find the spot.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::FieldPath;

/// BigQuery's deepest nesting of records.
pub(crate) const MAX_LEVEL: usize = 15;

/// BigQuery's longest column name.
const MAX_NAME: usize = 300;

/// The JSON type of a field, as the import infers a column's (null gives none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Number,
    String,
    Record,
    Repeated,
}

impl Kind {
    /// BigQuery's name of the type.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Bool => "BOOLEAN",
            Kind::Number => "FLOAT",
            Kind::String => "STRING",
            Kind::Record => "RECORD",
            Kind::Repeated => "REPEATED",
        }
    }
}

/// Something in a line that the import refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    /// Records nested deeper than [`MAX_LEVEL`]; `level` is the deepest.
    TooDeep { path: FieldPath, level: usize },
    /// An object with no fields.
    EmptyRecord { path: FieldPath },
    /// A field name BigQuery refuses.
    BadName { name: String, path: FieldPath },
    /// A field whose type differs from the one an earlier row (or element) gave it.
    TypeConflict {
        path: FieldPath,
        before: Kind,
        now: Kind,
    },
}

impl Finding {
    /// The import's message, as the service words it (after `Failed to import data. ...`).
    pub(crate) fn service_message(&self) -> String {
        match self {
            Finding::TooDeep { level, .. } => format!(
                "Schema nested too deeply, at least {level} compared to the maximum allowed \
                 level of {MAX_LEVEL}"
            ),
            Finding::EmptyRecord { path } => {
                format!("Cannot store struct '{}' with no fields", path.column)
            }
            Finding::BadName { name, .. } => format!(
                "Invalid field name \"{name}\". Fields must contain only letters, numbers, and \
                 underscores, start with a letter or underscore, and be at most {MAX_NAME} \
                 characters long."
            ),
            Finding::TypeConflict { path, before, now } => {
                if *before == Kind::Repeated || *now == Kind::Repeated {
                    format!(
                        "Repeated field must be imported as a JSON array. Field: {}",
                        path.column
                    )
                } else {
                    format!(
                        "Field {} has changed type from {} to {}",
                        path.column,
                        before.name(),
                        now.name()
                    )
                }
            }
        }
    }

    /// The JSON path of the field it is about: `request.tools[0].google_search`.
    #[cfg(feature = "storage")]
    pub(crate) fn json_path(&self) -> &str {
        match self {
            Finding::TooDeep { path, .. }
            | Finding::EmptyRecord { path }
            | Finding::BadName { path, .. }
            | Finding::TypeConflict { path, .. } => &path.json,
        }
    }

    /// Which of the four kinds, in a few words for a summary.
    #[cfg(feature = "storage")]
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Finding::TooDeep { .. } => "nesting deeper than 15",
            Finding::EmptyRecord { .. } => "an empty object",
            Finding::BadName { .. } => "a field name BigQuery refuses",
            Finding::TypeConflict { .. } => "a field whose type differs from earlier rows",
        }
    }
}

/// BigQuery's rule for a column name: letters, digits and underscores, not starting with a
/// digit, at most 300 characters.
pub(crate) fn is_field_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && !name[0].is_ascii_digit()
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// The type each field path has had so far, across the rows of one import.
#[derive(Debug, Default)]
pub(crate) struct Kinds {
    map: HashMap<u64, Kind, BuildHasherDefault<PathHasher>>,
    /// Paths the line being checked added, taken back if it conflicts.
    added: Vec<u64>,
}

/// A conflict: the path hash, the type it had and the type it now has.
pub(crate) type Conflict = (u64, Kind, Kind);

impl Kinds {
    /// Checks one line's field types (`Scanner::kinds`) against the rows before it and
    /// against each other. Without a conflict they are recorded; with one, the line's types
    /// are left out, so the rows after it are checked against the rows that import.
    pub(crate) fn check(&mut self, kinds: &[(u64, Kind)]) -> Option<Conflict> {
        self.added.clear();
        for &(path, kind) in kinds {
            match self.map.get(&path) {
                None => {
                    self.map.insert(path, kind);
                    self.added.push(path);
                }
                Some(&before) if before == kind => {}
                Some(&before) => {
                    for path in self.added.drain(..) {
                        self.map.remove(&path);
                    }
                    return Some((path, before, kind));
                }
            }
        }
        None
    }
}

/// Path hashes are mixed already: the map uses them as they are.
#[derive(Default)]
struct PathHasher(u64);

impl Hasher for PathHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 << 8) | u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

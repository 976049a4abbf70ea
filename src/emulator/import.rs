//! The import every job's input goes through before any row is run, and what makes it fail
//! the whole job.
//!
//! Vertex AI loads a JSONL input through a BigQuery-style import that infers one column type
//! per JSON key across the whole file. Input it cannot load fails the job before any
//! prediction, FAILED with code 3 (INVALID_ARGUMENT) and a message beginning `Failed to
//! import data. Please check 'Prepare input' section of the batch predictions
//! documentation.`, and writes no output. Source: OpenRouterTeam/docs
//! `docs/batch-research/google-vertex.md` ("Importer constraints", 75 jobs in 7 days, with the
//! message fragments used below), and googleapis/python-aiplatform #4110 (`Job failed: code:
//! 3 message: "Failed to import data. ..."`). The four kinds:
//! - nesting deeper than 15 levels: `Schema nested too deeply, at least 16 compared to the
//!   maximum allowed level of 15` (objects count, arrays do not: a repeated record is one
//!   level);
//! - an empty object (`"googleSearch": {}` in `tools`): `Cannot store struct
//!   'request.tools.google_search' with no fields`;
//! - a field name BigQuery refuses (`$defs`, `$schema`, a name with spaces): `Invalid field
//!   name "$defs"`, the text of BigQuery's column-name rule
//!   (cloud.google.com/bigquery/docs/schemas#column_names);
//! - a field whose type differs between rows: `Repeated field must be imported as a JSON
//!   array. Field: ...` was captured for an array beside a scalar; the text for other type
//!   changes is this emulator's, and the check can be turned off ([`super::truth`]).
//!
//! Field paths are dotted and leave array indices out, as BigQuery names columns. A line that
//! is not a JSON object is not checked here: it becomes a failed row, as before.

use std::collections::HashMap;

use serde_json::Value;

/// The start of every import failure's message.
pub(crate) const IMPORT_FAILED: &str = "Failed to import data. Please check 'Prepare input' \
                                        section of the batch predictions documentation.";

/// BigQuery's deepest nesting of records.
const MAX_DEPTH: usize = 15;

/// BigQuery's longest column name.
const MAX_NAME: usize = 300;

/// The JSON type a field had in the first row that gave it one (null gives none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Number,
    String,
    Record,
    Repeated,
}

impl Kind {
    fn of(value: &Value) -> Option<Kind> {
        Some(match value {
            Value::Null => return None,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Object(_) => Kind::Record,
            Value::Array(_) => Kind::Repeated,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Bool => "BOOLEAN",
            Kind::Number => "FLOAT",
            Kind::String => "STRING",
            Kind::Record => "RECORD",
            Kind::Repeated => "REPEATED",
        }
    }
}

/// The import of one job's input, fed line by line.
#[derive(Debug, Default)]
pub(crate) struct Import {
    /// Whether a type that differs between rows fails the import.
    refuse_type_conflicts: bool,
    /// Each field path's type so far (for an array, its elements' under `path[]`).
    kinds: HashMap<String, Kind>,
}

impl Import {
    pub(crate) fn new(refuse_type_conflicts: bool) -> Self {
        Import {
            refuse_type_conflicts,
            kinds: HashMap::new(),
        }
    }

    /// Checks one input line, parsed; the reason the import fails if it does.
    pub(crate) fn check(&mut self, line: &Value) -> Result<(), String> {
        let Value::Object(fields) = line else {
            return Ok(());
        };
        let depth = depth(line);
        if depth > MAX_DEPTH + 1 {
            return Err(format!(
                "Schema nested too deeply, at least {} compared to the maximum allowed level of \
                 {MAX_DEPTH}",
                depth - 1
            ));
        }
        let mut path = String::new();
        for (name, value) in fields {
            self.field(&mut path, name, value)?;
        }
        Ok(())
    }

    /// The field `name` of the record at `path` (empty for the line itself); `path` is
    /// restored on return, so no row allocates a path per field.
    fn field(&mut self, path: &mut String, name: &str, value: &Value) -> Result<(), String> {
        check_name(name)?;
        let len = path.len();
        if len > 0 {
            path.push('.');
        }
        path.push_str(name);
        let checked = self.value(path, value);
        path.truncate(len);
        checked
    }

    fn value(&mut self, path: &mut String, value: &Value) -> Result<(), String> {
        self.kind(path, value)?;
        match value {
            Value::Object(fields) if fields.is_empty() => {
                Err(format!("Cannot store struct '{path}' with no fields"))
            }
            Value::Object(fields) => {
                for (name, value) in fields {
                    self.field(path, name, value)?;
                }
                Ok(())
            }
            Value::Array(items) => {
                for item in items {
                    self.element(path, item)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// An element of the array at `path`: its type is the elements' type (kept under
    /// `path[]`), its fields the array's.
    fn element(&mut self, path: &mut String, item: &Value) -> Result<(), String> {
        let len = path.len();
        path.push_str("[]");
        let kind = self.kind(path, item);
        path.truncate(len);
        kind?;
        match item {
            Value::Object(fields) if fields.is_empty() => {
                Err(format!("Cannot store struct '{path}' with no fields"))
            }
            Value::Object(fields) => {
                for (name, value) in fields {
                    self.field(path, name, value)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Records the type of `path`, or says how it changed.
    fn kind(&mut self, path: &str, value: &Value) -> Result<(), String> {
        let Some(kind) = Kind::of(value) else {
            return Ok(());
        };
        let Some(&before) = self.kinds.get(path) else {
            self.kinds.insert(path.to_owned(), kind);
            return Ok(());
        };
        if before == kind || !self.refuse_type_conflicts {
            return Ok(());
        }
        let field = path.trim_end_matches("[]");
        if before == Kind::Repeated || kind == Kind::Repeated {
            Err(format!(
                "Repeated field must be imported as a JSON array. Field: {field}"
            ))
        } else {
            Err(format!(
                "Field {field} has changed type from {} to {}",
                before.name(),
                kind.name()
            ))
        }
    }
}

/// The levels of records in `value`, itself included (arrays add none).
fn depth(value: &Value) -> usize {
    match value {
        Value::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// BigQuery's rule for a column name: letters, digits and underscores, not starting with a
/// digit, at most 300 characters.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Invalid field name \"{name}\". Fields must contain only letters, numbers, and \
             underscores, start with a letter or underscore, and be at most {MAX_NAME} \
             characters long."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(lines: &[Value]) -> Option<String> {
        let mut import = Import::new(true);
        lines.iter().find_map(|line| import.check(line).err())
    }

    fn nested(levels: usize) -> Value {
        let mut value = json!("x");
        for _ in 0..levels {
            value = json!({ "a": value });
        }
        json!({ "request": value })
    }

    #[test]
    fn good_rows_import() {
        let row = json!({"key": "q1", "request": {"contents": [{"role": "user", "parts": [{"text": "hi"}, {"file_data": {"file_uri": "gs://b/x", "mime_type": "image/png"}}]}], "generationConfig": {"temperature": 1}, "labels": {"vertex_batch_row": "0"}}});
        let other = json!({"key": null, "request": {"contents": [{"role": "user", "parts": [{"text": null}]}], "generationConfig": {"temperature": 0.5}}});
        assert_eq!(refused(&[row, other, json!("not an object")]), None);
    }

    #[test]
    fn nesting_deeper_than_fifteen_fails() {
        // `request` is level 1: 15 records in all is the most.
        assert_eq!(refused(&[nested(15)]), None);
        let message = refused(&[nested(16)]).unwrap();
        assert_eq!(
            message,
            "Schema nested too deeply, at least 16 compared to the maximum allowed level of 15"
        );
        // Arrays add no level.
        let mut arrays = json!("x");
        for _ in 0..15 {
            arrays = json!([{ "a": arrays }]);
        }
        assert_eq!(refused(&[json!({ "request": arrays })]), None);
    }

    #[test]
    fn empty_objects_fail() {
        let line = json!({"request": {"contents": [{"role": "user", "parts": [{"text": "x"}]}], "tools": [{"google_search": {}}]}});
        assert_eq!(
            refused(&[line]).unwrap(),
            "Cannot store struct 'request.tools.google_search' with no fields"
        );
        assert!(refused(&[json!({"request": {"tools": [{}]}})]).is_some());
    }

    #[test]
    fn names_bigquery_refuses_fail() {
        for name in ["$defs", "$schema", "first name", "a-b", "a.b", "1st", ""] {
            let line = json!({"request": {"schema": {name: "x"}}});
            let message = refused(&[line]).unwrap();
            assert!(
                message.starts_with(&format!("Invalid field name \"{name}\"")),
                "{message}"
            );
        }
        for name in ["_x", "responseJsonSchema", "max_output_tokens", "A1"] {
            assert_eq!(refused(&[json!({"request": {name: 1}})]), None, "{name}");
        }
    }

    #[test]
    fn a_type_that_changes_between_rows_fails_unless_turned_off() {
        let first = json!({"request": {"labels": {"id": "1"}, "n": 1}});
        let text = json!({"request": {"labels": {"id": 2}}});
        assert_eq!(
            refused(&[first.clone(), text.clone()]).unwrap(),
            "Field request.labels.id has changed type from STRING to FLOAT"
        );
        let repeated = json!({"request": {"n": [1]}});
        assert_eq!(
            refused(&[first.clone(), repeated.clone()]).unwrap(),
            "Repeated field must be imported as a JSON array. Field: request.n"
        );
        // Within one array too.
        let mixed = json!({"request": {"parts": [{"text": "a"}, "b"]}});
        assert!(refused(&[mixed]).unwrap().contains("request.parts"));
        // Integers and decimals are one type; null is any.
        let numbers = [json!({"t": 1}), json!({"t": 0.5}), json!({"t": null})];
        assert_eq!(refused(&numbers), None);

        let mut lenient = Import::new(false);
        for line in [first, text, repeated] {
            assert_eq!(lenient.check(&line), Ok(()));
        }
    }
}

//! The import every job's input goes through before any row is run, and what makes it fail
//! the whole job.
//!
//! Vertex AI loads a JSONL input through a BigQuery-style import that infers one column type
//! per JSON key across the whole file. Input it cannot load fails the job before any
//! prediction, FAILED with code 3 (INVALID_ARGUMENT) and a message beginning `Failed to
//! import data. Please check 'Prepare input' section of the batch predictions
//! documentation.`, and writes no output. Source: OpenRouterTeam/docs
//! `docs/batch-research/google-vertex.md` and googleapis/python-aiplatform #4110. The rule
//! (nesting over 15, empty objects, refused field names, types that change between rows) and
//! its messages are the crate's one definition in `scan::import`, which a batch run checks
//! its lines against before staging them; this file feeds it a job's lines and wraps its
//! message. A type that changes between rows fails the import only while the emulator refuses
//! type conflicts ([`super::truth`]). A line that is not a JSON object is not checked here: it
//! becomes a failed row.

use crate::scan::import::{Finding, Kinds};
use crate::scan::{Root, Scanner};

/// The start of every import failure's message.
pub(crate) const IMPORT_FAILED: &str = "Failed to import data. Please check 'Prepare input' \
                                        section of the batch predictions documentation.";

/// The import of one job's input, fed line by line: the crate's one import rule
/// ([`crate::scan::import`]) over one scan of each line.
#[derive(Debug, Default)]
pub(crate) struct Import {
    /// Whether a type that differs between rows fails the import.
    refuse_type_conflicts: bool,
    scanner: Scanner,
    /// Each field path's type so far.
    kinds: Kinds,
}

impl Import {
    pub(crate) fn new(refuse_type_conflicts: bool) -> Self {
        Import {
            refuse_type_conflicts,
            scanner: Scanner::with_kinds(),
            kinds: Kinds::default(),
        }
    }

    /// Checks one input line (its JSON text); the reason the import fails if it does.
    pub(crate) fn check(&mut self, line: &[u8]) -> Result<(), String> {
        let Ok(facts) = self.scanner.scan(line, Root::Line) else {
            // Not a JSON object: a failed row, not the import's concern.
            return Ok(());
        };
        if let Some(refusal) = facts.refusal {
            return Err(refusal.service_message());
        }
        if !self.refuse_type_conflicts {
            return Ok(());
        }
        match self.kinds.check(&self.scanner.kinds) {
            None => Ok(()),
            Some((path, before, now)) => {
                let path = self
                    .scanner
                    .path_of(line, Root::Line, path)
                    .unwrap_or_default();
                Err(Finding::TypeConflict { path, before, now }.service_message())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn refused(lines: &[Value]) -> Option<String> {
        let mut import = Import::new(true);
        lines
            .iter()
            .find_map(|line| import.check(line.to_string().as_bytes()).err())
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
            assert_eq!(lenient.check(line.to_string().as_bytes()), Ok(()));
        }
    }
}

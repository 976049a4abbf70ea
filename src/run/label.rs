//! The row id a run puts in each staged line, twice, and the staged line that carries it.
//!
//! A batch job's output has no id of its own per row and its order is not the input's
//! (googleapis/python-aiplatform issue #2621), but each output line echoes its request and the
//! input line's other fields. So the run writes the row id (the request's position in the
//! input, counting from 0) in two places, and joins by whichever comes back
//! (issue 20):
//! - a top-level `"key": "<row>"` beside `request`: fields of the input line beside `request`
//!   are echoed (Gemini embedding batch input is documented as `{"key": "id_1", "request":
//!   {...}}` with the key in the output, "Get batch predictions for Gemini embeddings";
//!   google/langextract `langextract/providers/gemini_batch.py` writes and reads `key`);
//! - `"labels": {"vertex_batch_row": "<row>"}` in the request: a `GenerateContentRequest`'s
//!   user metadata, echoed inside the request (the output sample in LiteLLM's Vertex AI batch
//!   docs; LiteLLM joins by a label, BerriAI/litellm pull request #25627), but shown by no
//!   captured line.
//!
//! A staged line is `{"key":"<row>","request":{"labels":{...,"vertex_batch_row":"<row>"},...}}`:
//! the key first, so that the row id of a line the service echoes as raw text is found at its
//! start. The user's key stays on this side. The echo is re-serialised (keys sorted,
//! numbers in another format), so the row id is read from the parsed line, as a string or as a
//! number.

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;

use super::isolate::Scanned;
pub use crate::scan::ROW_LABEL;

/// The most labels a request may have, the run's own included (as a job's labels).
const MAX_LABELS: usize = 64;

/// Appends the staged input line of `request` (the JSON text of a request object), row `row`:
/// `{"request":{"labels":{...,"vertex_batch_row":"<row>"},...}}` and a newline. The request's
/// own labels are kept; its other fields are copied as they are.
///
/// # Errors
/// What is wrong with the request, to be prefixed with where it is: not a JSON object, a
/// `labels` that is not an object of strings, or one that already has [`ROW_LABEL`].
pub(crate) fn stage_line(request: &str, row: u64, out: &mut Vec<u8>) -> Result<(), String> {
    let Entries(entries) = serde_json::from_str(request).map_err(|err| {
        if err.is_data() {
            format!("the request is not a JSON object ({err})")
        } else {
            format!("the request is not JSON ({err})")
        }
    })?;
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    if let Some((_, raw)) = entries.iter().find(|(key, _)| key == "labels") {
        labels = serde_json::from_str(raw.get()).map_err(|err| {
            format!("the request's \"labels\" is not an object of strings ({err})")
        })?;
        if labels.contains_key(ROW_LABEL) {
            return Err(format!(
                "the request's \"labels\" has the key `{ROW_LABEL}`, which the run keeps for \
                 its row ids; rename that label"
            ));
        }
        // The service's rules for a request's labels, checked before any job exists.
        if labels.len() >= MAX_LABELS {
            return Err(format!(
                "the request has {} labels; with the run's own `{ROW_LABEL}` that makes {}, and \
                 the service takes at most {MAX_LABELS}",
                labels.len(),
                labels.len() + 1
            ));
        }
        for (key, value) in &labels {
            if let Some(reason) = crate::job::label_problem(key, value) {
                return Err(format!("the request's label {key:?}: {reason}"));
            }
        }
    }
    labels.insert(ROW_LABEL.to_owned(), row.to_string());
    line_start(row, out);
    out.extend_from_slice(b"\"labels\":");
    serde_json::to_writer(&mut *out, &labels).map_err(|err| err.to_string())?;
    for (key, raw) in &entries {
        if key == "labels" {
            continue;
        }
        out.push(b',');
        serde_json::to_writer(&mut *out, key).map_err(|err| err.to_string())?;
        out.push(b':');
        out.extend_from_slice(raw.get().as_bytes());
    }
    out.extend_from_slice(b"}}\n");
    Ok(())
}

/// The start of every staged line, up to the request's first field:
/// `{"key":"<row>","request":{`.
fn line_start(row: u64, out: &mut Vec<u8>) {
    let mut digits = [0; 20];
    let row = itoa(row, &mut digits);
    out.extend_from_slice(b"{\"key\":\"");
    out.extend_from_slice(row);
    out.extend_from_slice(b"\",\"request\":{");
}

/// [`stage_line`] for a request whose one scan (`scanned`) found it a JSON object: when it has
/// no `labels`, the row's labels are spliced in after its opening brace without parsing it
/// again. Otherwise as [`stage_line`], which checks the request's own labels.
pub(crate) fn stage_scanned_line(
    request: &str,
    scanned: &Scanned,
    row: u64,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if scanned.has_row_label || scanned.has_labels {
        return stage_line(request, row, out);
    }
    let Some(rest) = request.trim_start().strip_prefix('{') else {
        return stage_line(request, row, out);
    };
    line_start(row, out);
    out.extend_from_slice(b"\"labels\":{\"");
    out.extend_from_slice(ROW_LABEL.as_bytes());
    out.extend_from_slice(b"\":\"");
    out.extend_from_slice(itoa(row, &mut [0; 20]));
    out.extend_from_slice(b"\"}");
    if !rest.trim_start().starts_with('}') {
        out.push(b',');
    }
    out.extend_from_slice(rest.trim_end().as_bytes());
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// The row id at the start of a line the run staged (`{"key":"<row>",...`): how a
/// follow-up round finds the row of each line it reads back.
pub(crate) fn staged_row(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{\"key\":\"")?;
    let end = memchr::memchr(b'"', rest)?;
    digits_row(std::str::from_utf8(&rest[..end]).ok()?)
}

/// A row id written as digits.
fn digits_row(digits: &str) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The row id in a staged line (or its request) that the service could not parse and echoed
/// as a string (a lone surrogate `\ud800`, a number past f64, nesting past its limit), so that
/// the row keeps the status the service gave it. The run writes the key first and the labels
/// first in the request, and label keys and values hold no `"` nor `}`, so the id is read
/// from those places only, never from a prompt's text.
pub(crate) fn row_id_in_raw_line(raw: &str) -> Option<u64> {
    if let Some(row) = staged_row(raw.as_bytes()) {
        return Some(row);
    }
    let labels = raw
        .strip_prefix("{\"request\":{\"labels\":{")
        .or_else(|| raw.strip_prefix("{\"labels\":{"))?;
    let labels = &labels[..labels.find('}')?];
    let key = format!("\"{ROW_LABEL}\":\"");
    let at = labels.find(&key)? + key.len();
    let (digits, _) = labels[at..].split_once('"')?;
    digits_row(digits)
}

/// The row id in an output line's top-level `key`: `"42"` or `42`; `None` when it is missing
/// or not a row id.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct KeyRow(pub(crate) Option<u64>);

impl<'de> Deserialize<'de> for KeyRow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyRow;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a row id")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyRow, E> {
                Ok(KeyRow(digits_row(v.trim())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyRow, E> {
                Ok(KeyRow(Some(v)))
            }
            fn visit_i64<E>(self, _: i64) -> Result<KeyRow, E> {
                Ok(KeyRow(None))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyRow, E> {
                Ok(KeyRow(
                    (v.fract() == 0.0 && (0.0..9.0e15).contains(&v)).then_some(v as u64),
                ))
            }
            fn visit_bool<E>(self, _: bool) -> Result<KeyRow, E> {
                Ok(KeyRow(None))
            }
            fn visit_unit<E>(self) -> Result<KeyRow, E> {
                Ok(KeyRow(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyRow, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(KeyRow(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<KeyRow, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(KeyRow(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `n` in decimal, without allocating.
fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// A JSON object's top-level entries, values left as raw text.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(request: &str, row: u64) -> Result<String, String> {
        let mut out = Vec::new();
        stage_line(request, row, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn the_row_id_joins_the_requests_own_labels() {
        assert_eq!(
            staged(
                r#"{"contents": [{"role": "user"}], "generationConfig": {"seed": 1}}"#,
                7
            )
            .unwrap(),
            "{\"key\":\"7\",\"request\":{\"labels\":{\"vertex_batch_row\":\"7\"},\"contents\":[{\"role\": \"user\"}],\"generationConfig\":{\"seed\": 1}}}\n"
        );
        assert_eq!(
            staged(r#"{"labels": {"team": "ml"}, "contents": []}"#, 0).unwrap(),
            "{\"key\":\"0\",\"request\":{\"labels\":{\"team\":\"ml\",\"vertex_batch_row\":\"0\"},\"contents\":[]}}\n"
        );
    }

    #[test]
    fn a_checked_request_gets_the_same_line_by_the_short_way() {
        for request in [
            r#"{"contents": [{"role": "user"}], "generationConfig": {"seed": 1}}"#,
            r#"{ }"#,
            r#"{"contents":[]}"#,
            r#"{"labels": {"team": "ml"}, "contents": []}"#,
        ] {
            for row in [0, 7, 1234567890123] {
                let mut short = Vec::new();
                let mut scanner = crate::scan::Scanner::with_kinds();
                let facts = scanner
                    .scan(request.as_bytes(), crate::scan::Root::Request)
                    .unwrap();
                let scanned = super::super::isolate::ImportCheck::default().scanned(
                    &mut scanner,
                    request.as_bytes(),
                    facts,
                );
                stage_scanned_line(request, &scanned, row, &mut short).unwrap();
                let short: serde_json::Value =
                    serde_json::from_slice(&short).expect("the short way writes JSON");
                let long: serde_json::Value =
                    serde_json::from_str(&staged(request, row).unwrap()).unwrap();
                assert_eq!(short, long, "{request}");
            }
        }
    }

    #[test]
    fn requests_that_cannot_carry_it_are_refused() {
        for (request, expected) in [
            ("[1]", "not a JSON object"),
            ("{\"contents\": ", "not JSON"),
            (r#"{"labels": ["a"]}"#, "not an object of strings"),
            (
                r#"{"labels": {"vertex_batch_row": "1"}}"#,
                "keeps for its row ids",
            ),
            (
                r#"{"labels": {"Team": "ml"}}"#,
                "does not start with a lower-case letter",
            ),
            (r#"{"labels": {"team": "ML"}}"#, "contains 'M'"),
            (r#"{"labels": {"te am": "ml"}}"#, "contains ' '"),
            (r#"{"labels": {"": "ml"}}"#, "the key is empty"),
        ] {
            let err = staged(request, 1).unwrap_err();
            assert!(err.contains(expected), "{request}: {err}");
        }
        // 63 labels of the user's and the run's own make 64, the most; 64 would make 65.
        let labels = |n: usize| -> String {
            let pairs: Vec<String> = (0..n).map(|i| format!(r#""k{i}": "v""#)).collect();
            format!(r#"{{"labels": {{{}}}}}"#, pairs.join(", "))
        };
        staged(&labels(63), 1).unwrap();
        let err = staged(&labels(64), 1).unwrap_err();
        assert!(err.contains("that makes 65"), "{err}");
        // International lower-case letters, empty values: the service takes them.
        staged(r#"{"labels": {"équipe": "données", "empty": ""}}"#, 1).unwrap();
    }

    #[test]
    fn the_row_id_is_found_in_a_line_echoed_raw_and_only_in_its_labels() {
        for (request, row) in [
            (r#"{"contents": [{"parts": [{"text": "\ud800"}]}]}"#, 7),
            (r#"{"labels": {"team": "ml"}, "contents": [1e400]}"#, 12),
        ] {
            let line = staged(request, row).unwrap();
            let line = line.trim_end();
            assert_eq!(row_id_in_raw_line(line), Some(row), "{line}");
            assert_eq!(staged_row(line.as_bytes()), Some(row), "{line}");
            let request_only = &line[line.find("{\"labels\"").unwrap()..line.len() - 1];
            assert_eq!(
                row_id_in_raw_line(request_only),
                Some(row),
                "{request_only}"
            );
        }
        for raw in [
            "not json",
            r#"{"request":{"contents":[{"parts":[{"text":"\"vertex_batch_row\":\"5\""}]}]}}"#,
            r#"{"request":{"labels":{"vertex_batch_row":"x5"}}}"#,
            r#"{"request":{"labels":{"vertex_batch_row":""}}}"#,
            r#"{"key":"1x","request":{}}"#,
        ] {
            assert_eq!(row_id_in_raw_line(raw), None, "{raw}");
        }
    }

    #[test]
    fn the_row_id_reads_back_as_text_or_as_a_number() {
        for (labels, expected) in [
            (
                r#"{"labels": {"vertex_batch_row": "42", "team": "ml"}}"#,
                Some(42),
            ),
            (r#"{"labels": {"vertex_batch_row": 42}}"#, Some(42)),
            (r#"{"labels": {"vertex_batch_row": 4.2e1}}"#, Some(42)),
            (r#"{"labels": {"vertex_batch_row": "x"}}"#, None),
            (r#"{"labels": {"team": "ml"}}"#, None),
            (
                r#"{"labels": {"vertex_batch_row": ["1"], "b": {"c": 1}}}"#,
                None,
            ),
            (r#"{"labels": {"vertex\u005fbatch_row": "9"}}"#, Some(9)),
            (r#"{"other": {"vertex_batch_row": "9"}}"#, None),
        ] {
            let facts = crate::scan::Scanner::default()
                .scan(labels.as_bytes(), crate::scan::Root::Request)
                .unwrap();
            assert_eq!(facts.row_label, expected, "{labels}");
        }
        for (key, expected) in [
            (r#""42""#, Some(42)),
            ("42", Some(42)),
            ("4.2e1", Some(42)),
            (r#""x""#, None),
            ("-1", None),
            ("null", None),
            (r#"{"a": 1}"#, None),
        ] {
            let row: KeyRow = serde_json::from_str(key).unwrap();
            assert_eq!(row.0, expected, "{key}");
        }
    }
}

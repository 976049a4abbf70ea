//! An output line as the service writes it.
//!
//! What public sources show of Vertex AI's Gemini batch output
//! (`prediction-model-<timestamp>/predictions*.jsonl`):
//! - The line's keys come as `status`, `processed_time`, `request`, `response`; `status` is
//!   `""` on an answered row, `processed_time` is RFC 3339 with milliseconds and `+00:00`
//!   (`2025-09-19T21:29:47.352+00:00`). Source: the output sample in LiteLLM's Vertex AI batch
//!   documentation (github.com/BerriAI/litellm, "Get file content"), copied from a real job;
//!   Google's own sample on "Batch prediction for Cloud Storage" has the same shape and time
//!   format (`2024-11-01T18:13:16.826+00:00`).
//! - A failed row keeps the same keys, `status` holding the error
//!   (`Bad Request: {"error": {"code": 400, "message": "...", "status": "INVALID_ARGUMENT"}}`)
//!   and `"response": {}` (GoogleCloudPlatform/generative-ai issue #1308; the "Batch inference
//!   from Cloud Storage" page shows the status text).
//! - `request` is the input's request re-serialised, not the input text: keys come sorted at
//!   every depth (`"parts"` before `"role"`, `"contents"` before `"generationConfig"` before
//!   `"system_instruction"`), compact, and field names as they were sent (the same sample
//!   echoes `max_output_tokens` and `system_instruction` in snake_case beside
//!   `generationConfig`). In an array of objects every object gets the union of its
//!   siblings' keys, the missing ones `null`: the sample output of
//!   GoogleCloudPlatform/generative-ai `gemini/batch-prediction/intro_batch_prediction.ipynb`
//!   echoes the parts `{"text": "..."}` and `{"file_data": {...}}` as
//!   `{"file_data": null, "text": "..."}` and `{"file_data": {...}, "text": null}`, as a
//!   BigQuery import and export of the rows would (see [`super::import`]). The same sample's
//!   `response` has its keys sorted too.
//! - Fields of the input line beside `request` travel with the row and come back in the
//!   output line: Gemini embedding batch input is `{"key": "id_1", "request": {...}}` with the
//!   key echoed ("Get batch predictions for Gemini embeddings"); Google's langextract
//!   (`langextract/providers/gemini_batch.py`) writes and reads `key`; OpenRouter captured a
//!   `custom_id` sibling round-tripping (OpenRouterTeam/docs
//!   `docs/batch-research/google-vertex.md`). They come first, before `status`, as a BigQuery
//!   output table has the input's other columns before `status`, `processed_time`, `request`,
//!   `response` (the "Batch inference from BigQuery" page).
//! - `labels` (a `GenerateContentRequest` field, user metadata) travels inside `request` and
//!   comes back with it: LiteLLM correlates batch outputs to inputs by a `labels` entry it adds
//!   to each request (BerriAI/litellm pull request #25627, `_get_litellm_batch_custom_id_from_labels`
//!   reads `request.labels`), since the service has no per-row id of its own
//!   (googleapis/python-aiplatform issue #2621). No captured line shows it, so it can be
//!   turned off ([`super::truth`]).
//! - `response` is the `GenerateContentResponse` in camelCase, with `createTime`,
//!   `modelVersion`, `responseId` and `usageMetadata`.
//!
//! The emulator writes lines that way, so a client's join is tested against re-serialised
//! requests, not against its own bytes.

use serde_json::{Map, Value};

/// A value re-serialised as the service does: keys sorted at every depth, compact, names
/// kept, and the objects of an array null-filled with each other's keys. (serde_json's maps
/// are sorted; rebuilding makes it hold even if a dependency turns on `preserve_order`.)
pub(crate) fn reserialised(value: &Value) -> Value {
    rebuilt(value, true)
}

/// `value` with its keys sorted at every depth, and when `fill`, the objects of each array
/// null-filled with each other's keys.
fn rebuilt(value: &Value, fill: bool) -> Value {
    match value {
        Value::Object(map) => sorted(map, fill),
        Value::Array(items) if !fill => {
            Value::Array(items.iter().map(|item| rebuilt(item, false)).collect())
        }
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(reserialised).collect();
            let mut union: Vec<&String> = Vec::new();
            let keys: Vec<String> = {
                for item in &items {
                    if let Value::Object(map) = item {
                        union.extend(map.keys());
                    }
                }
                union.sort();
                union.dedup();
                union.into_iter().cloned().collect()
            };
            for item in &mut items {
                if let Value::Object(map) = item
                    && map.len() < keys.len()
                {
                    for key in &keys {
                        map.entry(key.clone()).or_insert(Value::Null);
                    }
                    *item = sorted(map, false);
                }
            }
            Value::Array(items)
        }
        other => other.clone(),
    }
}

fn sorted(map: &Map<String, Value>, fill: bool) -> Value {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    Value::Object(
        keys.into_iter()
            .map(|key| (key.clone(), rebuilt(&map[key], fill)))
            .collect(),
    )
}

/// One output line (without its newline): the input line's other fields (`extra`), then
/// `status`, `processed_time`, `request`, `response` (`{}` on a failed row).
pub(crate) fn line(
    extra: &Map<String, Value>,
    status: &str,
    processed_time: &str,
    request: &Value,
    response: Option<&Value>,
) -> String {
    let text = |value: &Value| value.to_string();
    let mut line = String::from("{");
    for (key, value) in extra {
        line.push_str(&text(&Value::String(key.clone())));
        line.push(':');
        line.push_str(&text(&reserialised(value)));
        line.push(',');
    }
    line.push_str(&format!(
        "\"status\":{},\"processed_time\":{},\"request\":{},\"response\":",
        text(&Value::String(status.to_owned())),
        text(&Value::String(processed_time.to_owned())),
        text(&reserialised(request)),
    ));
    match response {
        // Sorted as the notebook's sample has it; nothing shows a response null-filled.
        Some(response) => line.push_str(&text(&rebuilt(response, false))),
        None => line.push_str("{}"),
    }
    line.push('}');
    line
}

/// `processed_time` as the service writes it: `2025-09-19T21:29:47.352+00:00`.
pub(crate) fn processed_time(at: std::time::SystemTime) -> String {
    let stamp = prost_types::Timestamp::from(at);
    let whole = prost_types::Timestamp {
        seconds: stamp.seconds,
        nanos: 0,
    }
    .to_string();
    format!(
        "{}.{:03}+00:00",
        whole.trim_end_matches('Z'),
        stamp.nanos / 1_000_000
    )
}

/// The name of a job's output directory below its prefix, as the service names it:
/// `prediction-model-2025-12-26T20:29:02.829566Z`, the create time with six fractional
/// digits (googleapis/java-genai #760; googleapis/python-genai #486; OpenRouterTeam/docs
/// `docs/batch-research/google-vertex.md` captured
/// `prediction-model-2026-09-02T20:06:30.166279Z`).
pub(crate) fn output_folder(created: std::time::SystemTime) -> String {
    let stamp = prost_types::Timestamp::from(created);
    let whole = prost_types::Timestamp {
        seconds: stamp.seconds,
        nanos: 0,
    }
    .to_string();
    format!(
        "prediction-model-{}.{:06}Z",
        whole.trim_end_matches('Z'),
        stamp.nanos / 1_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_have_the_service_order_and_a_sorted_request() {
        let request = json!({"labels": {"k": "7"}, "contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"max_output_tokens": 10}});
        let line = line(
            &Map::new(),
            "",
            "2025-09-19T21:29:47.352+00:00",
            &request,
            Some(&json!({"x": 1, "a": [{"b": 1}, {"c": 2}]})),
        );
        assert_eq!(
            line,
            r#"{"status":"","processed_time":"2025-09-19T21:29:47.352+00:00","request":{"contents":[{"parts":[{"text":"hi"}],"role":"user"}],"generationConfig":{"max_output_tokens":10},"labels":{"k":"7"}},"response":{"a":[{"b":1},{"c":2}],"x":1}}"#
        );
    }

    #[test]
    fn a_failed_row_has_an_empty_response_and_extra_fields_come_first() {
        let extra: Map<String, Value> =
            serde_json::from_value(json!({"key": "id_1", "custom_id": {"b": 1, "a": 2}})).unwrap();
        let line = line(&extra, "Bad Request: x", "t", &json!({}), None);
        assert_eq!(
            line,
            r#"{"custom_id":{"a":2,"b":1},"key":"id_1","status":"Bad Request: x","processed_time":"t","request":{},"response":{}}"#
        );
    }

    /// The notebook's sample: parts null-filled with each other's keys.
    #[test]
    fn sibling_objects_get_each_others_keys_as_null() {
        let sent = json!({"contents": [{"role": "user", "parts": [
            {"text": "List objects in this image."},
            {"file_data": {"file_uri": "gs://cloud-samples-data/generative-ai/image/gardening-tools.jpeg", "mime_type": "image/jpeg"}}
        ]}], "generationConfig": {"temperature": 0.4}});
        assert_eq!(
            reserialised(&sent).to_string(),
            r#"{"contents":[{"parts":[{"file_data":null,"text":"List objects in this image."},{"file_data":{"file_uri":"gs://cloud-samples-data/generative-ai/image/gardening-tools.jpeg","mime_type":"image/jpeg"},"text":null}],"role":"user"}],"generationConfig":{"temperature":0.4}}"#
        );
        // Deeper arrays too; scalars in an array are left alone.
        let deep = json!({"a": [{"b": [{"x": 1}, {"y": [1, "z"]}]}]});
        assert_eq!(
            reserialised(&deep).to_string(),
            r#"{"a":[{"b":[{"x":1,"y":null},{"x":null,"y":[1,"z"]}]}]}"#
        );
    }

    #[test]
    fn processed_time_has_milliseconds_and_an_offset() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_726_781_387_352);
        assert_eq!(processed_time(at), "2024-09-19T21:29:47.352+00:00");
    }

    #[test]
    fn the_output_folder_has_six_fractional_digits() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(1_766_780_942_829_566_123);
        assert_eq!(
            output_folder(at),
            "prediction-model-2025-12-26T20:29:02.829566Z"
        );
        assert_eq!(
            output_folder(std::time::UNIX_EPOCH),
            "prediction-model-1970-01-01T00:00:00.000000Z"
        );
    }
}

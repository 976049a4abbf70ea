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
//! - `request` is the input's request re-serialised, not the input text: keys come sorted
//!   (`"parts"` before `"role"`, `"contents"` before `"generationConfig"` before
//!   `"system_instruction"`), compact, and field names as they were sent (the same sample
//!   echoes `max_output_tokens` and `system_instruction` in snake_case beside
//!   `generationConfig`).
//! - `labels` (a `GenerateContentRequest` field, user metadata) travels inside `request` and
//!   comes back with it: LiteLLM correlates batch outputs to inputs by a `labels` entry it adds
//!   to each request (BerriAI/litellm pull request #25627, `_get_litellm_batch_custom_id_from_labels`
//!   reads `request.labels`), since the service has no per-row id of its own
//!   (googleapis/python-aiplatform issue #2621).
//! - `response` is the `GenerateContentResponse` in camelCase, with `createTime`,
//!   `modelVersion`, `responseId` and `usageMetadata`.
//!
//! The emulator writes lines that way, so a client's join is tested against re-serialised
//! requests, not against its own bytes.

use serde_json::Value;

/// The request re-serialised as the service does: keys sorted at every depth, compact, names
/// kept. (serde_json's maps are sorted; rebuilding makes it hold even if a dependency turns
/// on `preserve_order`.)
pub(crate) fn reserialised(request: &Value) -> Value {
    match request {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|key| (key.clone(), reserialised(&map[key])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(reserialised).collect()),
        other => other.clone(),
    }
}

/// One output line (without its newline), keys in the service's order.
pub(crate) fn line(
    status: &str,
    processed_time: &str,
    request: &Value,
    response: Option<&Value>,
) -> String {
    let text = |value: &Value| value.to_string();
    let mut line = format!(
        "{{\"status\":{},\"processed_time\":{},\"request\":{}",
        text(&Value::String(status.to_owned())),
        text(&Value::String(processed_time.to_owned())),
        text(&reserialised(request)),
    );
    if let Some(response) = response {
        line.push_str(",\"response\":");
        line.push_str(&text(response));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_have_the_service_order_and_a_sorted_request() {
        let request = json!({"labels": {"k": "7"}, "contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"max_output_tokens": 10}});
        let line = line(
            "",
            "2025-09-19T21:29:47.352+00:00",
            &request,
            Some(&json!({"x": 1})),
        );
        assert_eq!(
            line,
            r#"{"status":"","processed_time":"2025-09-19T21:29:47.352+00:00","request":{"contents":[{"parts":[{"text":"hi"}],"role":"user"}],"generationConfig":{"max_output_tokens":10},"labels":{"k":"7"}},"response":{"x":1}}"#
        );
    }

    #[test]
    fn processed_time_has_milliseconds_and_an_offset() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_726_781_387_352);
        assert_eq!(processed_time(at), "2024-09-19T21:29:47.352+00:00");
    }
}

//! What the emulated model makes of one input line: a deterministic answer for a good request,
//! a failed row with the service's status text for a bad one.
//!
//! The answer to a request is `echo: <its first text>`, so tests can tell which answer belongs
//! to which prompt without a real model.

use serde::Deserialize;
use serde_json::Value;

use crate::Error;
use crate::batch_file::{
    Candidate, Content, GenerateContentResponse, Part, Prediction, UsageMetadata,
};

/// The row for one line of input (without its newline). `model_version` goes into every
/// response; `processed_time` (RFC 3339) into every row.
pub(crate) fn row(line: &[u8], model_version: &str, processed_time: &str) -> Prediction {
    let (request, outcome) = match check(line) {
        Ok((request, contents)) => {
            let response = respond(&contents, model_version);
            (request, Ok(response))
        }
        Err((request, message)) => (request, Err(message)),
    };
    let (response, status) = match outcome {
        Ok(response) => (Some(response), String::new()),
        Err(message) => (None, bad_request(&message)),
    };
    Prediction {
        request,
        response,
        status,
        processed_time: Some(processed_time.to_string()),
    }
}

/// The request object and its contents, or what to echo as the request (the raw line when it is
/// not JSON) and why the line was refused.
fn check(line: &[u8]) -> Result<(Value, Vec<Content>), (Value, String)> {
    let Ok(text) = std::str::from_utf8(line) else {
        let raw = Value::String(String::from_utf8_lossy(line).into_owned());
        return Err((
            raw,
            "Invalid JSON payload received. The line is not UTF-8 text.".into(),
        ));
    };
    let parsed: Value = serde_json::from_str(text).map_err(|err| {
        (
            Value::String(text.to_string()),
            format!("Invalid JSON payload received. {err}."),
        )
    })?;
    let Some(request) = parsed.get("request").filter(|r| r.is_object()).cloned() else {
        return Err((
            parsed,
            "Invalid JSON payload received. The line has no \"request\" object: expected \
             {\"request\": {\"contents\": [...]}}."
                .into(),
        ));
    };
    let contents = match request.get("contents") {
        None | Some(Value::Null) => None,
        Some(contents) => Some(Vec::<Content>::deserialize(contents).map_err(|err| {
            (
                request.clone(),
                format!("Invalid JSON payload received. contents: {err}."),
            )
        })?),
    };
    let contents = match contents {
        Some(contents) if !contents.is_empty() => contents,
        _ => {
            return Err((
                request,
                "* GenerateContentRequest.contents: contents is not specified\n".into(),
            ));
        }
    };
    for (i, content) in contents.iter().enumerate() {
        if content.role != "user" && content.role != "model" {
            return Err((request, "Please use a valid role: user, model.".into()));
        }
        let field = format!("GenerateContentRequest.contents[{i}].parts");
        if content.parts.is_empty() {
            return Err((
                request,
                format!("* {field}: contents.parts must not be empty.\n"),
            ));
        }
        for (j, part) in content.parts.iter().enumerate() {
            if let Err(Error::InvalidInput { field, reason }) =
                part.validate(&format!("GenerateContentRequest.contents[{i}].parts[{j}]"))
            {
                return Err((request, format!("* {field}: {reason}\n")));
            }
        }
    }
    if let Err(message) = super::validate::request_labels(&request) {
        return Err((request, message));
    }
    Ok((request, contents))
}

/// The service's status text for a refused row.
fn bad_request(message: &str) -> String {
    // serde_json escapes the message; the service writes the envelope with spaces.
    let message = Value::String(message.to_string());
    format!(
        r#"Bad Request: {{"error": {{"code": 400, "message": {message}, "status": "INVALID_ARGUMENT"}}}}"#
    )
}

/// The deterministic answer to a checked request: its first text echoed, token counts from text
/// lengths (about four characters a token, as Gemini's tokenizer averages on English).
fn respond(contents: &[Content], model_version: &str) -> GenerateContentResponse {
    let prompt = contents.iter().find_map(Content::text).unwrap_or_default();
    let answer = format!("echo: {prompt}");
    let prompt_chars: usize = contents
        .iter()
        .flat_map(|content| &content.parts)
        .map(|part| part.as_text().map_or(0, |text| text.chars().count()))
        .sum();
    let prompt_token_count = tokens(prompt_chars);
    let candidates_token_count = tokens(answer.chars().count());
    GenerateContentResponse {
        candidates: vec![Candidate {
            content: Some(Content::model([Part::text(answer)])),
            finish_reason: Some("STOP".into()),
            finish_message: None,
            avg_logprobs: None,
        }],
        usage_metadata: Some(UsageMetadata {
            prompt_token_count,
            candidates_token_count,
            total_token_count: prompt_token_count + candidates_token_count,
            cached_content_token_count: 0,
            thoughts_token_count: 0,
        }),
        model_version: Some(model_version.to_string()),
        prompt_feedback: None,
        response_id: None,
        create_time: None,
    }
}

/// Tokens for `chars` characters of text: at least one for any text.
fn tokens(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIME: &str = "2025-01-01T00:00:00Z";

    fn status_message(row: &Prediction) -> String {
        let json = row.status.strip_prefix("Bad Request: ").unwrap();
        let value: Value = serde_json::from_str(json).unwrap();
        assert_eq!(value["error"]["code"], 400);
        assert_eq!(value["error"]["status"], "INVALID_ARGUMENT");
        value["error"]["message"].as_str().unwrap().to_string()
    }

    #[test]
    fn a_good_line_is_echoed_with_counted_tokens() {
        let line = br#"{"request": {"contents": [{"role": "user", "parts": [{"text": "Why is the sky blue?"}]}]}}"#;
        let row = row(line, "gemini-2.0-flash-001", TIME);
        assert!(row.is_ok());
        assert_eq!(row.text().as_deref(), Some("echo: Why is the sky blue?"));
        let usage = row.usage().unwrap();
        // 20 characters -> 5 tokens; "echo: " + 20 = 26 -> 7.
        assert_eq!(
            (
                usage.prompt_token_count,
                usage.candidates_token_count,
                usage.total_token_count
            ),
            (5, 7, 12)
        );
        assert_eq!(
            row.request["contents"][0]["parts"][0]["text"],
            "Why is the sky blue?"
        );
        assert_eq!(row.processed_time.as_deref(), Some(TIME));
        let response = row.response.unwrap();
        assert_eq!(
            response.model_version.as_deref(),
            Some("gemini-2.0-flash-001")
        );
        assert_eq!(
            response.candidates[0].finish_reason.as_deref(),
            Some("STOP")
        );
        assert_eq!(
            response.candidates[0].content.as_ref().unwrap().role,
            "model"
        );
    }

    #[test]
    fn request_labels_are_checked_as_the_service_checks_them() {
        let line = |labels: &str| {
            format!(
                r#"{{"request": {{"labels": {labels}, "contents": [{{"role": "user", "parts": [{{"text": "x"}}]}}]}}}}"#
            )
        };
        let many: Vec<String> = (0..65).map(|i| format!(r#""k{i}": "v""#)).collect();
        let many = format!("{{{}}}", many.join(","));
        for (labels, expected) in [
            (
                r#"{"Team": "ml"}"#,
                "labels[Team]: the key does not start with a lower-case letter",
            ),
            (r#"{"team": "M L"}"#, "contains 'M'"),
            (
                "{\"k\": \"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\"}",
                "longer than 63",
            ),
            (r#"{"team": 7}"#, "expected a string"),
            (r#"["team"]"#, "expected an object of strings"),
            (many.as_str(), "65 labels: at most 64"),
        ] {
            let row = row(line(labels).as_bytes(), "m", TIME);
            assert!(!row.is_ok(), "{labels}");
            let message = status_message(&row);
            assert!(message.contains(expected), "{labels}: {message}");
        }
        for labels in [
            r#"{"équipe": "données", "empty": ""}"#,
            r#"{"数据": "值"}"#,
            "null",
            "{}",
        ] {
            assert!(row(line(labels).as_bytes(), "m", TIME).is_ok(), "{labels}");
        }
    }

    #[test]
    fn a_line_that_is_not_json_is_echoed_raw() {
        let row = row(b"{not json", "m", TIME);
        assert_eq!(row.request, Value::String("{not json".into()));
        assert!(row.response.is_none());
        assert!(status_message(&row).starts_with("Invalid JSON payload received."));
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let cases: [(&[u8], &str); 6] = [
            (br#"{"prompt": "hi"}"#, "no \"request\" object"),
            (br#"{"request": {}}"#, "contents is not specified"),
            (
                br#"{"request": {"contents": []}}"#,
                "contents is not specified",
            ),
            (
                br#"{"request": {"contents": "hi"}}"#,
                "contents: invalid type",
            ),
            (
                br#"{"request": {"contents": [{"role": "bot", "parts": [{"text": "x"}]}]}}"#,
                "valid role",
            ),
            (
                br#"{"request": {"contents": [{"role": "user", "parts": [{"text": ""}]}]}}"#,
                "contents[0].parts[0].text",
            ),
        ];
        for (line, expected) in cases {
            let row = row(line, "m", TIME);
            assert!(!row.is_ok());
            let message = status_message(&row);
            assert!(message.contains(expected), "{message}");
            assert!(
                row.request.is_object(),
                "the parsed line or request is echoed"
            );
        }
    }

    #[test]
    fn a_line_that_is_not_utf8_is_a_failed_row() {
        let row = row(b"{\"request\": \xff}", "m", TIME);
        assert!(status_message(&row).contains("not UTF-8"));
        assert!(row.request.is_string());
    }
}

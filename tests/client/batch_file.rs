//! Batch input files written and read back; predictions files read, with good rows, failed
//! rows, damaged lines and fields this crate does not know.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use serde_json::{Value, json};
use vertex_batch::GenerationConfig;
use vertex_batch::batch_file::{
    BatchFileWriter, BatchRequest, Content, Part, PredictionReader, Summary,
};

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("vertex-batch-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The i-th of the test's prompts, exercising every kind of part and option in turn.
fn prompt(i: usize) -> BatchRequest {
    let mut request = BatchRequest::new().with_line_key("id", format!("row-{i}"));
    request = match i % 4 {
        0 => request.with_user_text(format!("prompt {i}")),
        1 => request.with_content(Content::user([
            Part::text(format!("prompt {i}")),
            Part::file_data(format!("gs://bucket/images/{i}.jpg"), "image/jpeg"),
        ])),
        2 => request.with_content(Content::user([
            Part::text(format!("prompt {i}")),
            Part::inline_data("text/plain", format!("attachment {i}")),
        ])),
        _ => request
            .with_user_text(format!("prompt {i}"))
            .with_content(Content::model([Part::text("an earlier answer")]))
            .with_user_text("and then?"),
    };
    if i.is_multiple_of(3) {
        request = request.with_generation_config(
            GenerationConfig::new()
                .with_temperature(0.2)
                .with_max_output_tokens(200),
        );
    }
    if i.is_multiple_of(5) {
        request = request
            .with_system_instruction("Answer briefly.")
            .with_extra("labels", json!({"row": i.to_string()}));
    }
    request
}

#[test]
fn a_thousand_prompts_are_written_one_line_each_and_read_back_in_shape() {
    let dir = TempDir::new("write-1000");
    let path = dir.0.join("input.jsonl");

    let mut writer = BatchFileWriter::create(&path).unwrap();
    for i in 0..1000 {
        writer.write(&prompt(i)).unwrap();
    }
    assert_eq!(writer.count(), 1000);
    writer.finish().unwrap();

    let file = BufReader::new(fs::File::open(&path).unwrap());
    let mut lines = 0;
    for (i, line) in file.lines().enumerate() {
        let line: Value = serde_json::from_str(&line.unwrap()).unwrap();
        lines += 1;
        assert_eq!(line["id"], format!("row-{i}"));
        let request = &line["request"];
        let contents = request["contents"].as_array().unwrap();
        assert_eq!(contents[0]["role"], "user");
        assert_eq!(contents[0]["parts"][0]["text"], format!("prompt {i}"));
        match i % 4 {
            0 => assert_eq!(contents[0]["parts"].as_array().unwrap().len(), 1),
            1 => assert_eq!(
                contents[0]["parts"][1],
                json!({"fileData": {"fileUri": format!("gs://bucket/images/{i}.jpg"), "mimeType": "image/jpeg"}})
            ),
            2 => {
                let inline = &contents[0]["parts"][1]["inlineData"];
                assert_eq!(inline["mimeType"], "text/plain");
                let data: vertex_batch::batch_file::InlineData =
                    serde_json::from_value(inline.clone()).unwrap();
                assert_eq!(data.decode().unwrap(), format!("attachment {i}").as_bytes());
            }
            _ => {
                let roles: Vec<&str> = contents
                    .iter()
                    .map(|c| c["role"].as_str().unwrap())
                    .collect();
                assert_eq!(roles, ["user", "model", "user"]);
            }
        }
        if i.is_multiple_of(3) {
            assert_eq!(
                request["generationConfig"],
                json!({"temperature": 0.2, "maxOutputTokens": 200})
            );
        } else {
            assert!(request.get("generationConfig").is_none());
        }
        if i.is_multiple_of(5) {
            assert_eq!(
                request["systemInstruction"],
                json!({"parts": [{"text": "Answer briefly."}]})
            );
            assert_eq!(request["labels"]["row"], i.to_string());
        } else {
            assert!(request.get("systemInstruction").is_none());
        }
    }
    assert_eq!(lines, 1000);
}

#[test]
fn bad_requests_are_errors_naming_line_and_field_and_write_nothing() {
    let mut writer = BatchFileWriter::new(Vec::new());
    writer
        .write(&BatchRequest::new().with_user_text("fine"))
        .unwrap();

    let cases = [
        (BatchRequest::new(), "line 2: request.contents"),
        (
            BatchRequest::new().with_user_text(""),
            "line 2: request.contents[0].parts[0].text",
        ),
        (
            BatchRequest::new().with_content(Content {
                role: String::new(),
                parts: vec![Part::text("hi")],
            }),
            "line 2: request.contents[0].role",
        ),
        (
            BatchRequest::new().with_content(Content::user([])),
            "line 2: request.contents[0].parts",
        ),
        (
            BatchRequest::new().with_content(Content::user([
                Part::text("a"),
                Part::file_data("gs://b/o", "jpeg"),
            ])),
            "line 2: request.contents[0].parts[1].fileData.mimeType",
        ),
        (
            BatchRequest::new().with_content(Content::user([Part::file_data("", "image/png")])),
            "line 2: request.contents[0].parts[0].fileData.fileUri",
        ),
        (
            BatchRequest::new()
                .with_user_text("hi")
                .with_system_instruction(""),
            "line 2: request.systemInstruction.parts[0].text",
        ),
        (
            BatchRequest::new()
                .with_user_text("hi")
                .with_extra("generationConfig", json!({})),
            "line 2: request.generationConfig",
        ),
        (
            BatchRequest::new()
                .with_user_text("hi")
                .with_line_key("request", json!({})),
            "line 2: line key `request`",
        ),
        (
            BatchRequest::new()
                .with_user_text("hi")
                .with_generation_config(GenerationConfig::new().with_temperature(f64::NAN)),
            "line 2: request.generationConfig.temperature",
        ),
    ];
    for (request, field) in cases {
        let err = writer.write(&request).unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(
            err.to_string().starts_with(&format!("invalid {field}: ")),
            "expected the error to name `{field}`: {err}"
        );
    }

    assert_eq!(writer.count(), 1);
    let bytes = writer.finish().unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        "{\"request\":{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"fine\"}]}]}}\n"
    );
}

/// A predictions file like the service's: good rows, a failed row, and fields this crate has
/// no type for (safetyRatings, trafficType, thought parts, function calls, top-level extras).
fn predictions_file() -> String {
    let good = |i: usize| {
        json!({
            "request": {"contents": [{"role": "user", "parts": [{"text": format!("prompt {i}")}]}]},
            "response": {
                "candidates": [{
                    "content": {"role": "model", "parts": [
                        {"text": "thinking about it", "thought": true},
                        {"text": format!("answer {i}")},
                        {"functionCall": {"name": "lookup", "args": {}}}
                    ]},
                    "finishReason": "STOP",
                    "avgLogprobs": -0.25,
                    "safetyRatings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"}]
                }],
                "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 5, "totalTokenCount": 8, "trafficType": "ON_DEMAND"},
                "modelVersion": "gemini-2.0-flash-001",
                "createTime": "2024-11-01T18:13:16.826Z",
                "responseId": format!("resp-{i}")
            },
            "status": "",
            "processed_time": "2024-11-01T18:13:16.826+00:00",
            "somethingNew": {"nested": [1, 2, 3]}
        })
        .to_string()
    };
    let failed = json!({
        "request": {"contents": [{"role": "user", "parts": [{"fileData": {"fileUri": "gs://b/missing.jpg", "mimeType": "image/jpeg"}}]}]},
        "status": "Bad Request: {\"error\": {\"code\": 400, \"message\": \"File gs://b/missing.jpg not found\"}}",
        "processed_time": "2024-11-01T18:13:17.001+00:00"
    })
    .to_string();
    [
        good(1),
        String::new(),
        failed,
        good(4),
        "{\"request\": {\"contents\": [".to_owned(),
        good(6),
    ]
    .join("\n")
        + "\n"
}

#[test]
fn predictions_read_typed_with_failed_rows_and_a_damaged_line_named_by_number() {
    let dir = TempDir::new("read-predictions");
    let path = dir.0.join("predictions.jsonl");
    fs::write(&path, predictions_file()).unwrap();

    let mut reader = PredictionReader::open(&path).unwrap();

    let first = reader.next().unwrap().unwrap();
    assert_eq!(reader.line_number(), 1);
    assert!(first.is_ok());
    assert_eq!(first.error(), None);
    assert_eq!(first.text().as_deref(), Some("answer 1"));
    assert_eq!(first.request["contents"][0]["parts"][0]["text"], "prompt 1");
    let response = first.response.as_ref().unwrap();
    assert_eq!(
        response.candidates[0].finish_reason.as_deref(),
        Some("STOP")
    );
    assert_eq!(response.candidates[0].avg_logprobs, Some(-0.25));
    assert_eq!(
        response.model_version.as_deref(),
        Some("gemini-2.0-flash-001")
    );
    assert_eq!(response.response_id.as_deref(), Some("resp-1"));
    let usage = first.usage().unwrap();
    assert_eq!(
        (
            usage.prompt_token_count,
            usage.candidates_token_count,
            usage.total_token_count
        ),
        (3, 5, 8)
    );
    assert_eq!(
        first.processed_time.as_deref(),
        Some("2024-11-01T18:13:16.826+00:00")
    );
    // The function call part is kept as a part with no text, the thought part is marked.
    let parts = &response.candidates[0].content.as_ref().unwrap().parts;
    assert_eq!(parts.len(), 3);
    assert!(parts[0].thought);
    assert_eq!(parts[2].as_text(), None);

    // Line 2 is blank and skipped; line 3 is the failed row, carrying its request.
    let failed = reader.next().unwrap().unwrap();
    assert_eq!(reader.line_number(), 3);
    assert!(!failed.is_ok());
    assert!(
        failed
            .error()
            .unwrap()
            .contains("gs://b/missing.jpg not found")
    );
    assert_eq!(failed.text(), None);
    assert_eq!(
        failed.request["contents"][0]["parts"][0]["fileData"]["fileUri"],
        "gs://b/missing.jpg"
    );

    let fourth = reader.next().unwrap().unwrap();
    assert_eq!(fourth.text().as_deref(), Some("answer 4"));

    let err = reader.next().unwrap().unwrap_err();
    assert!(err.is_invalid_input());
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "invalid {} line 5: is not a prediction line",
            path.display()
        )),
        "{message}"
    );
    assert!(
        message.contains("{\"request\": {\"contents\": ["),
        "{message}"
    );

    // Reading goes on after a damaged line.
    let sixth = reader.next().unwrap().unwrap();
    assert_eq!(reader.line_number(), 6);
    assert_eq!(sixth.text().as_deref(), Some("answer 6"));
    assert!(reader.next().is_none());
    assert!(reader.next().is_none());

    // A summary refuses a damaged file, naming the line.
    let err = Summary::from_reader(PredictionReader::open(&path).unwrap()).unwrap_err();
    assert!(err.to_string().contains("line 5"), "{err}");
}

#[test]
fn summary_counts_rows_failures_and_tokens() {
    let text: String = predictions_file()
        .lines()
        .filter(|line| !line.ends_with('['))
        .map(|line| format!("{line}\n"))
        .collect();
    let summary = Summary::from_reader(PredictionReader::new(text.as_bytes())).unwrap();
    assert_eq!(summary.total, 4);
    assert_eq!(summary.succeeded, 3);
    assert_eq!(summary.failed, 1);
    assert_eq!(summary.failed_rows.len(), 1);
    assert_eq!(summary.failed_rows[0].line, 3);
    assert!(summary.failed_rows[0].status.starts_with("Bad Request"));
    assert_eq!(
        (
            summary.usage.prompt_token_count,
            summary.usage.candidates_token_count,
            summary.usage.total_token_count
        ),
        (9, 15, 24)
    );
}

#[test]
fn a_directory_reads_every_predictions_file_in_name_order() {
    let dir = TempDir::new("read-dir");
    fs::write(
        dir.0.join("predictions_00002.jsonl"),
        "{\"status\": \"\"}\n{\"status\": \"quota exceeded\"}\n",
    )
    .unwrap();
    fs::write(
        dir.0.join("predictions_00001.jsonl"),
        "{\"status\": \"boom\"}\n",
    )
    .unwrap();
    fs::write(dir.0.join("input.jsonl"), "not read\n").unwrap();
    fs::create_dir(dir.0.join("predictions_sub.jsonl")).unwrap();

    let summary = Summary::from_reader(PredictionReader::open_dir(&dir.0).unwrap()).unwrap();
    assert_eq!(
        (summary.total, summary.succeeded, summary.failed),
        (3, 1, 2)
    );
    let places: Vec<(PathBuf, u64, &str)> = summary
        .failed_rows
        .iter()
        .map(|row| (row.path.clone().unwrap(), row.line, row.status.as_str()))
        .collect();
    assert_eq!(
        places,
        [
            (dir.0.join("predictions_00001.jsonl"), 1, "boom"),
            (dir.0.join("predictions_00002.jsonl"), 2, "quota exceeded"),
        ]
    );

    let empty = TempDir::new("read-empty-dir");
    let err = PredictionReader::open_dir(&empty.0).unwrap_err();
    assert!(err.is_io());
    assert!(
        err.to_string().contains("no predictions*.jsonl file"),
        "{err}"
    );

    let err = PredictionReader::open_dir(dir.0.join("missing")).unwrap_err();
    assert!(err.is_io() && err.to_string().contains("missing"), "{err}");
}

#[test]
fn a_line_that_is_not_utf8_is_named_and_reading_goes_on() {
    let mut bytes = b"{\"status\": \"\"}\n".to_vec();
    bytes.extend_from_slice(b"{\"status\": \"\xff\xfe\"}\n");
    bytes.extend_from_slice(b"{\"status\": \"last\"}\r\n");
    let mut reader = PredictionReader::new(&bytes[..]);
    assert!(reader.next().unwrap().is_ok());
    let err = reader.next().unwrap().unwrap_err();
    assert_eq!(err.to_string(), "invalid line 2: is not UTF-8 text");
    assert_eq!(reader.next().unwrap().unwrap().status, "last");
    assert!(reader.next().is_none());
}

#[test]
fn an_output_row_echoes_the_request_the_writer_wrote() {
    let request = prompt(15);
    let written = request.to_json().unwrap();
    let row = json!({"request": written["request"], "status": "", "response": {"candidates": []}});
    let prediction: vertex_batch::batch_file::Prediction = serde_json::from_value(row).unwrap();
    assert_eq!(prediction.request, written["request"]);
    assert!(prediction.is_ok());
    assert_eq!(prediction.text(), None);
}

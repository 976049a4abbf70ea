//! The golden lines (`tests/data/golden_predictions.jsonl`, typed in from public samples of
//! Vertex AI's output; `tests/data/golden_predictions.md` names the source of each) read right
//! by `batch_file`'s reader: answers, token counts, failed rows with and without
//! `"response": {}`, null-filled requests and a field beside `request`.

use std::path::PathBuf;

use vertex_batch::batch_file::{Prediction, PredictionReader, Summary};

fn golden() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden_predictions.jsonl")
}

fn rows() -> Vec<Prediction> {
    PredictionReader::open(golden())
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

const BAD_ROLE: &str = r#"Bad Request: {"error": {"code": 400, "message": "Please use a valid role: user, model.", "status": "INVALID_ARGUMENT"}}"#;

#[test]
fn the_notebook_line_reads_with_its_answer_usage_and_null_filled_request() {
    let row = &rows()[0];
    assert!(row.is_ok());
    assert!(
        row.text()
            .unwrap()
            .starts_with("Here's a list of the objects in the image:\n\n* **Watering can:**")
    );
    let usage = row.usage().unwrap();
    assert_eq!(
        (
            usage.prompt_token_count,
            usage.candidates_token_count,
            usage.total_token_count
        ),
        (264, 110, 374)
    );
    let response = row.response.as_ref().unwrap();
    assert_eq!(
        response.model_version.as_deref(),
        Some("gemini-3-flash-preview@default")
    );
    assert_eq!(
        response.candidates[0].finish_reason.as_deref(),
        Some("STOP")
    );
    assert_eq!(
        response.candidates[0].avg_logprobs,
        Some(-0.10394711927934126)
    );
    assert_eq!(
        row.processed_time.as_deref(),
        Some("2024-11-13T14:04:28.376+00:00")
    );
    // The request as echoed: null-filled parts, snake_case kept.
    let parts = &row.request["contents"][0]["parts"];
    assert_eq!(parts[0]["file_data"], serde_json::Value::Null);
    assert_eq!(parts[0]["text"], "List objects in this image.");
    assert_eq!(parts[1]["text"], serde_json::Value::Null);
    assert_eq!(parts[1]["file_data"]["mime_type"], "image/jpeg");
}

#[test]
fn failed_rows_read_the_same_with_or_without_an_empty_response() {
    let rows = rows();
    for row in &rows[2..4] {
        assert!(!row.is_ok());
        assert_eq!(row.error(), Some(BAD_ROLE));
        assert_eq!(row.response, None, "an empty response is no answer");
        assert_eq!(row.text(), None);
        assert_eq!(row.usage(), None);
        assert_eq!(
            row.processed_time.as_deref(),
            Some("2025-07-09T19:57:43.558+00:00")
        );
        assert_eq!(row.request["contents"][0]["role"], "assistant");
    }
}

#[test]
fn a_field_beside_the_request_does_not_disturb_the_row() {
    let row = &rows()[4];
    assert!(row.is_ok());
    assert_eq!(row.text().as_deref(), Some("Rayleigh scattering."));
    assert_eq!(row.usage().unwrap().total_token_count, 10);
}

#[test]
fn the_golden_file_sums_up() {
    let summary = Summary::from_reader(PredictionReader::open(golden()).unwrap()).unwrap();
    assert_eq!(
        (summary.total, summary.succeeded, summary.failed),
        (5, 3, 2)
    );
    assert_eq!(
        summary
            .failed_rows
            .iter()
            .map(|row| (row.line, row.status.as_str()))
            .collect::<Vec<_>>(),
        [(3, BAD_ROLE), (4, BAD_ROLE)]
    );
    assert_eq!(summary.usage.prompt_token_count, 264 + 29180 + 6);
    assert_eq!(summary.usage.candidates_token_count, 110 + 36 + 4);
    assert_eq!(summary.usage.total_token_count, 374 + 29216 + 10);
}

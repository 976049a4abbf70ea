//! The emulator writes what Vertex AI writes (issue 20; the sources are in
//! `src/emulator/echo.rs` and `src/emulator/import.rs`): the output folder's six-digit
//! timestamp, one predictions.jsonl, lines keyed `status`, `processed_time`, `request`,
//! `response` with `"response": {}` on a failed row, the request re-serialised and null-filled,
//! the input line's other fields echoed, and input the import refuses failing the whole job with
//! code 3 and no output. The two behaviours on thin evidence are tested both ways.
#![cfg(feature = "emulator")]

use std::path::PathBuf;
use std::time::Duration;

use crate::support::client::*;
use vertex_batch::emulator::{Emulator, EmulatorBuilder};
use vertex_batch::v1::{BatchPredictionJob, JobState};
use vertex_batch::{JobClient, OutputLocation};

/// A fresh folder standing in for gs://, removed when dropped.
struct Root(PathBuf);

impl Root {
    fn new(test: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("vertex-batch-truth-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(path.join("bucket")).unwrap();
        Root(path)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs one job over `input` (lines written as given) with `builder`, to its end.
async fn run(root: &Root, builder: EmulatorBuilder, input: &str) -> (Emulator, BatchPredictionJob) {
    std::fs::write(root.0.join("bucket/in.jsonl"), input).unwrap();
    let emu = builder.with_gcs_root(&root.0).start().await.unwrap();
    let client: JobClient = client_builder(&emu).connect().await.unwrap();
    let job = client
        .create(
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_display_name("truth")
                .with_inputs(["gs://bucket/in.jsonl"])
                .with_output("gs://bucket/out"),
        )
        .await
        .unwrap();
    emu.advance(Duration::from_secs(3600));
    let done = client.wait(&job.name).await.unwrap();
    (emu, done)
}

/// The job's output folder and the names of the files in it.
fn output(emu: &Emulator, job: &BatchPredictionJob) -> (String, Vec<String>) {
    let Some(OutputLocation::Gcs(dir)) = job.output_location() else {
        panic!("no gs:// output: {job:?}");
    };
    let mut files: Vec<String> = std::fs::read_dir(emu.local_path(&dir).unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    (dir, files)
}

fn predictions(emu: &Emulator, job: &BatchPredictionJob) -> Vec<String> {
    let (dir, _) = output(emu, job);
    let path = emu.local_path(&format!("{dir}/predictions.jsonl")).unwrap();
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

const GOOD: &str = r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "List objects in this image."}, {"file_data": {"file_uri": "gs://b/desk.jpeg", "mime_type": "image/jpeg"}}]}], "generationConfig": {"temperature": 0.4}, "labels": {"vertex_batch_row": "0"}}, "key": "id_1"}"#;
const BAD_ROLE: &str = r#"{"key": "id_2", "request": {"contents": [{"role": "bot", "parts": [{"text": "x"}]}], "labels": {"vertex_batch_row": "1"}}}"#;

#[tokio::test]
async fn lines_come_back_as_the_service_writes_them() {
    let root = Root::new("lines");
    let (emu, done) = run(&root, emulator(), &format!("{GOOD}\n{BAD_ROLE}\n")).await;
    assert_eq!(done.state(), JobState::Succeeded, "{:?}", done.job_error());

    let (dir, files) = output(&emu, &done);
    // prediction-model-YYYY-MM-DDTHH:MM:SS.ffffffZ: six fractional digits.
    let stamp = dir
        .strip_prefix("gs://bucket/out/prediction-model-")
        .unwrap();
    assert_eq!(stamp.len(), "2025-12-26T20:29:02.829566Z".len(), "{dir}");
    let (whole, fraction) = stamp.trim_end_matches('Z').split_once('.').unwrap();
    assert_eq!(whole.len(), 19, "{dir}");
    assert!(
        fraction.len() == 6 && fraction.bytes().all(|b| b.is_ascii_digit()),
        "{dir}"
    );
    assert_eq!(files, ["predictions.jsonl"], "one file, no errors file");

    let lines = predictions(&emu, &done);
    assert_eq!(lines.len(), 2);
    let good = &lines[0];
    assert!(
        good.starts_with(r#"{"key":"id_1","status":"","processed_time":""#),
        "{good}"
    );
    assert!(
        good.contains(r#","request":{"contents":[{"parts":[{"file_data":null,"text":"List objects in this image."},{"file_data":{"file_uri":"gs://b/desk.jpeg","mime_type":"image/jpeg"},"text":null}],"role":"user"}],"generationConfig":{"temperature":0.4},"labels":{"vertex_batch_row":"0"}},"response":{"candidates":"#),
        "{good}"
    );
    let bad = &lines[1];
    assert!(
        bad.starts_with(r#"{"key":"id_2","status":"Bad Request: {\"error\": {\"code\": 400, \"message\": \"Please use a valid role: user, model.\", \"status\": \"INVALID_ARGUMENT\"}}","processed_time":""#),
        "{bad}"
    );
    assert!(bad.ends_with(r#","response":{}}"#), "{bad}");
    // processed_time: milliseconds and +00:00.
    let row: serde_json::Value = serde_json::from_str(bad).unwrap();
    let time = row["processed_time"].as_str().unwrap();
    assert_eq!(time.len(), "2025-09-19T21:29:47.352+00:00".len(), "{time}");
    assert!(
        time.ends_with("+00:00") && time.as_bytes()[19] == b'.',
        "{time}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn labels_can_be_left_out_of_the_echo() {
    let root = Root::new("labels");
    let (emu, done) = run(
        &root,
        emulator().with_echoed_labels(false),
        &format!("{GOOD}\n"),
    )
    .await;
    let lines = predictions(&emu, &done);
    let row: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(row["request"].get("labels"), None, "{}", lines[0]);
    assert_eq!(row["key"], "id_1", "the key still travels");
    emu.shutdown().await;
}

/// Input the import refuses: the job fails whole, code 3, the service's message, no output.
#[tokio::test]
async fn input_the_import_refuses_fails_the_whole_job() {
    let good = r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "labels": {"n": "1"}}}"#;
    let mut deep = String::from("\"x\"");
    for _ in 0..16 {
        deep = format!("{{\"a\": {deep}}}");
    }
    let deep = format!(
        r#"{{"request": {{"contents": [{{"role": "user", "parts": [{{"text": "hi"}}]}}], "x": {deep}}}}}"#
    );
    let cases = [
        (
            deep.as_str(),
            "Schema nested too deeply, at least 17 compared to the maximum allowed level of 15",
        ),
        (
            r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "tools": [{"googleSearch": {}}]}}"#,
            "Cannot store struct 'request.tools.googleSearch' with no fields",
        ),
        (
            r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"responseJsonSchema": {"$defs": {"a": {"type": "string"}}}}}}"#,
            "Invalid field name \"$defs\"",
        ),
        (
            r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "labels": {"n": 2}}}"#,
            "Field request.labels.n has changed type from STRING to FLOAT",
        ),
    ];
    for (i, (line, expected)) in cases.into_iter().enumerate() {
        let root = Root::new(&format!("import-{i}"));
        let (emu, done) = run(&root, emulator(), &format!("{good}\n{line}\n")).await;
        assert_eq!(done.state(), JobState::Failed, "{line}");
        let error = done.job_error().unwrap();
        assert_eq!(error.code, 3, "{line}");
        assert!(
            error.message.starts_with(
                "Failed to import data. Please check 'Prepare input' section of the batch \
                 predictions documentation."
            ),
            "{}",
            error.message
        );
        assert!(error.message.contains(expected), "{}", error.message);
        assert!(error.message.contains("line 2"), "{}", error.message);
        assert!(done.output_location().is_none(), "no output: {line}");
        assert!(
            !root.0.join("bucket/out").exists(),
            "nothing written: {line}"
        );
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn type_conflicts_between_rows_can_be_let_through() {
    let root = Root::new("conflicts");
    let input = concat!(
        r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "a"}]}], "labels": {"n": "1"}}}"#,
        "\n",
        r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "b"}]}], "labels": {"n": 2}}}"#,
        "\n",
    );
    let (emu, done) = run(&root, emulator().with_type_conflicts_refused(false), input).await;
    assert_eq!(done.state(), JobState::Succeeded);
    // The row with a number for a label fails on its own, as the service checks labels.
    let progress = done.progress();
    assert_eq!((progress.successful, progress.failed), (1, 1));
    emu.shutdown().await;
}

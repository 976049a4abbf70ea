//! The emulator's local gs:// folder: jobs read their JSONL input and write predictions.jsonl,
//! and the typed reader gets every answer and failed row back. Over TLS with the real token
//! flow, on the emulator's manual clock.
#![cfg(feature = "emulator")]

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::client::*;
use vertex_batch::batch_file::{BatchFileWriter, BatchRequest, PredictionReader, Summary};
use vertex_batch::emulator::Emulator;
use vertex_batch::v1::{BatchPredictionJob, JobState};
use vertex_batch::{JobClient, OutputLocation};

const AN_HOUR: Duration = Duration::from_secs(3600);

/// A fresh folder under the system temp dir, removed when dropped.
struct TempFolder(PathBuf);

impl TempFolder {
    fn new(test: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("vertex-batch-gcs-{}-{test}", std::process::id()));
        // A leftover from an earlier run of the same process id would mix files in.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(path.join("bucket")).unwrap();
        TempFolder(path)
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start_with(root: &Path) -> (Emulator, JobClient) {
    let emu = emulator().with_gcs_root(root).start().await.unwrap();
    let client = client_builder(&emu).connect().await.unwrap();
    (emu, client)
}

fn prompt(i: usize) -> String {
    format!("prompt number {i}: what is {i} + {i}?")
}

/// Writes `prompts` as request lines to `path`, appending.
fn write_prompts(path: &Path, prompts: impl IntoIterator<Item = String>) {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let mut writer = BatchFileWriter::new(BufWriter::new(file));
    for text in prompts {
        writer
            .write(&BatchRequest::new().with_user_text(text))
            .unwrap();
    }
    writer.finish().unwrap();
}

/// Creates a job reading `inputs` and writing under gs://bucket/out, moves the clock past its
/// end and waits for it.
async fn run_job(emu: &Emulator, client: &JobClient, inputs: &[&str]) -> BatchPredictionJob {
    let job = client
        .create(
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_display_name("gcs-folder")
                .with_inputs(inputs.iter().copied())
                .with_output("gs://bucket/out"),
        )
        .await
        .unwrap();
    emu.advance(AN_HOUR);
    let done = client.wait(&job.name).await.unwrap();
    assert!(done.has_ended());
    done
}

fn output_dir(emu: &Emulator, job: &BatchPredictionJob) -> PathBuf {
    match job.output_location() {
        Some(OutputLocation::Gcs(dir)) => {
            assert!(
                dir.starts_with("gs://bucket/out/prediction-model-"),
                "{dir}"
            );
            emu.local_path(&dir).unwrap()
        }
        other => panic!("expected a gs:// output directory, got {other:?}"),
    }
}

#[tokio::test]
async fn a_thousand_prompts_give_999_answers_and_one_failed_row() {
    let folder = TempFolder::new("thousand");
    let (emu, client) = start_with(&folder.0).await;
    let input = emu.local_path("gs://bucket/prompts.jsonl").unwrap();
    assert_eq!(input, folder.0.join("bucket/prompts.jsonl"));

    // 1,000 lines: 999 prompts, and line 501 malformed on purpose.
    const BAD_LINE: &str =
        r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "unclosed"}]}"#;
    write_prompts(&input, (0..500).map(prompt));
    let mut file = OpenOptions::new().append(true).open(&input).unwrap();
    writeln!(file, "{BAD_LINE}").unwrap();
    drop(file);
    write_prompts(&input, (500..999).map(prompt));
    assert_eq!(
        std::fs::read_to_string(&input).unwrap().lines().count(),
        1000
    );

    let done = run_job(&emu, &client, &["gs://bucket/prompts.jsonl"]).await;
    assert_eq!(done.state(), JobState::Succeeded);
    assert_eq!(done.job_error(), None);
    let progress = done.progress();
    assert_eq!(
        (progress.successful, progress.failed, progress.incomplete),
        (999, 1, Some(0))
    );

    let dir = output_dir(&emu, &done);
    let mut reader = PredictionReader::open_dir(&dir).unwrap();
    let mut answers = Vec::new();
    let mut failed = Vec::new();
    while let Some(row) = reader.next() {
        let row = row.unwrap();
        assert!(row.processed_time.is_some());
        match row.error() {
            None => {
                let response = row.response.as_ref().unwrap();
                assert_eq!(
                    response.model_version.as_deref(),
                    Some("gemini-2.0-flash-001")
                );
                assert_eq!(
                    response.candidates[0].finish_reason.as_deref(),
                    Some("STOP")
                );
                let asked = row.request["contents"][0]["parts"][0]["text"]
                    .as_str()
                    .unwrap();
                assert_eq!(row.text().unwrap(), format!("echo: {asked}"));
                assert!(row.usage().unwrap().total_token_count > 0);
                answers.push(asked.to_string());
            }
            Some(status) => failed.push((
                reader.line_number(),
                row.request.clone(),
                status.to_string(),
            )),
        }
    }
    assert_eq!(answers, (0..999).map(prompt).collect::<Vec<_>>());
    assert_eq!(failed.len(), 1);
    let (line, request, status) = &failed[0];
    assert_eq!(*line, 501);
    assert_eq!(
        request.as_str(),
        Some(BAD_LINE),
        "a line that is not JSON is echoed raw"
    );
    assert!(
        status.starts_with(
            r#"Bad Request: {"error": {"code": 400, "message": "Invalid JSON payload received."#
        ),
        "{status}"
    );
    assert!(
        status.ends_with(r#""status": "INVALID_ARGUMENT"}}"#),
        "{status}"
    );

    // The summary agrees with completion_stats.
    let summary = Summary::from_reader(PredictionReader::open_dir(&dir).unwrap()).unwrap();
    assert_eq!(
        (summary.total, summary.succeeded, summary.failed),
        (1000, 999, 1)
    );
    assert_eq!(summary.failed_rows[0].line, 501);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_missing_input_file_fails_the_job_naming_it() {
    let folder = TempFolder::new("missing");
    let (emu, client) = start_with(&folder.0).await;
    write_prompts(
        &emu.local_path("gs://bucket/here.jsonl").unwrap(),
        [prompt(1)],
    );

    let done = run_job(
        &emu,
        &client,
        &["gs://bucket/here.jsonl", "gs://bucket/missing.jsonl"],
    )
    .await;
    assert_eq!(done.state(), JobState::Failed);
    let error = done.job_error().unwrap();
    assert_eq!(error.code, tonic::Code::NotFound as i32);
    assert!(
        error
            .message
            .contains("gs://bucket/missing.jsonl does not exist"),
        "{}",
        error.message
    );
    assert_eq!(done.output_location(), None);
    assert_eq!((done.progress().successful, done.progress().failed), (0, 0));
    assert!(!folder.0.join("bucket/out").exists(), "nothing is written");
    let err = done.check_succeeded().unwrap_err();
    assert!(err.to_string().contains("missing.jsonl"), "{err}");
    emu.shutdown().await;
}

#[tokio::test]
async fn every_input_uri_is_read_in_order() {
    let folder = TempFolder::new("several");
    let (emu, client) = start_with(&folder.0).await;
    std::fs::create_dir_all(folder.0.join("bucket/in")).unwrap();
    write_prompts(
        &emu.local_path("gs://bucket/in/a.jsonl").unwrap(),
        (0..3).map(prompt),
    );
    write_prompts(
        &emu.local_path("gs://bucket/in/b.jsonl").unwrap(),
        (3..5).map(prompt),
    );

    let done = run_job(
        &emu,
        &client,
        &["gs://bucket/in/a.jsonl", "gs://bucket/in/b.jsonl"],
    )
    .await;
    assert_eq!(done.state(), JobState::Succeeded);
    assert_eq!((done.progress().successful, done.progress().failed), (5, 0));
    let texts: Vec<String> = PredictionReader::open_dir(output_dir(&emu, &done))
        .unwrap()
        .map(|row| row.unwrap().text().unwrap())
        .collect();
    let expected: Vec<String> = (0..5).map(|i| format!("echo: {}", prompt(i))).collect();
    assert_eq!(texts, expected);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_job_whose_rows_all_fail_ends_failed_with_its_rows_written() {
    let folder = TempFolder::new("allbad");
    let (emu, client) = start_with(&folder.0).await;
    let input = emu.local_path("gs://bucket/bad.jsonl").unwrap();
    std::fs::write(&input, "{\"request\": {\"contents\": []}}\n\nnot json\n").unwrap();

    let done = run_job(&emu, &client, &["gs://bucket/bad.jsonl"]).await;
    assert_eq!(done.state(), JobState::Failed);
    assert_eq!((done.progress().successful, done.progress().failed), (0, 2));
    assert!(
        done.job_error()
            .unwrap()
            .message
            .contains("all 2 requests failed")
    );
    // The rows say why, blank lines are not rows.
    let summary =
        Summary::from_reader(PredictionReader::open_dir(output_dir(&emu, &done)).unwrap()).unwrap();
    assert_eq!((summary.total, summary.failed), (2, 2));
    assert!(
        summary.failed_rows[0]
            .status
            .contains("contents is not specified")
    );
    assert_eq!(summary.failed_rows[1].line, 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_files_are_processed_once() {
    let folder = TempFolder::new("once");
    let (emu, client) = start_with(&folder.0).await;
    write_prompts(
        &emu.local_path("gs://bucket/p.jsonl").unwrap(),
        (0..2).map(prompt),
    );
    let done = run_job(&emu, &client, &["gs://bucket/p.jsonl"]).await;
    let predictions = output_dir(&emu, &done).join("predictions.jsonl");
    assert!(predictions.is_file());

    // Later reads neither rewrite the output nor read the input again.
    std::fs::remove_file(&predictions).unwrap();
    write_prompts(&emu.local_path("gs://bucket/p.jsonl").unwrap(), [prompt(9)]);
    let again = client.get(&done.name).await.unwrap();
    assert!(!predictions.exists());
    assert_eq!(again.progress(), done.progress());
    assert_eq!(again.progress().successful, 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn bigquery_jobs_and_bad_roots_are_left_alone() {
    let folder = TempFolder::new("bq");
    let (emu, client) = start_with(&folder.0).await;
    let job = client
        .create(
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_display_name("bq")
                .with_input("bq://my-project.my_dataset.requests")
                .with_output("bq://my-project.my_dataset"),
        )
        .await
        .unwrap();
    emu.advance(AN_HOUR);
    let done = client.wait(&job.name).await.unwrap();
    assert_eq!(done.state(), JobState::Succeeded);
    assert!(done.progress().successful > 0);
    assert_eq!(
        std::fs::read_dir(&folder.0).unwrap().count(),
        1,
        "only the bucket folder"
    );

    // Every name maps inside the root.
    let inside = emu.local_path("gs://bucket/../../etc/passwd").unwrap();
    assert!(
        inside.starts_with(folder.0.join("bucket")),
        "{}",
        inside.display()
    );
    let err = emu.local_path("gs://../etc/passwd").unwrap_err();
    assert!(err.is_invalid_input());
    emu.shutdown().await;

    let missing = folder.0.join("no-such-dir");
    let err = emulator()
        .with_gcs_root(&missing)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("invalid gcs_root:"), "{err}");
}

#[tokio::test]
async fn an_input_line_past_the_limit_fails_the_job_naming_the_line_and_limit() {
    use vertex_batch::batch_file::MAX_LINE_BYTES;
    let folder = TempFolder::new("longline");
    let (emu, client) = start_with(&folder.0).await;
    let input = emu.local_path("gs://bucket/long.jsonl").unwrap();
    write_prompts(&input, [prompt(1)]);
    // Then a line of zeros one byte past the limit, sparse: nothing is written to disk.
    let file = OpenOptions::new().append(true).open(&input).unwrap();
    let start = file.metadata().unwrap().len();
    file.set_len(start + MAX_LINE_BYTES as u64 + 1).unwrap();
    drop(file);

    let done = run_job(&emu, &client, &["gs://bucket/long.jsonl"]).await;
    assert_eq!(done.state(), JobState::Failed);
    let message = &done.job_error().unwrap().message;
    assert!(
        message.contains("line 2 of the input file gs://bucket/long.jsonl")
            && message.contains("limit of 64 MiB"),
        "{message}"
    );
    emu.shutdown().await;
}

/// While a job runs, and when it is cancelled, its counts are out of the input's real rows.
#[tokio::test]
async fn progress_counts_the_inputs_rows_from_the_start() {
    let folder = TempFolder::new("progress");
    let emu = emulator()
        .with_gcs_root(&folder.0)
        .with_durations(Duration::from_secs(10), Duration::from_secs(100))
        .start()
        .await
        .unwrap();
    let client = client_builder(&emu).connect().await.unwrap();
    let input = emu.local_path("gs://bucket/seven.jsonl").unwrap();
    write_prompts(&input, (0..4).map(prompt));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .unwrap()
        .write_all(b"\n  \n")
        .unwrap();
    write_prompts(&input, (4..7).map(prompt));
    let rows = |job: &BatchPredictionJob| {
        let stats = job.completion_stats.expect("counts");
        stats.successful_count + stats.failed_count + stats.incomplete_count
    };
    let create = || {
        client.create(
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_input("gs://bucket/seven.jsonl")
                .with_output("gs://bucket/out"),
        )
    };
    let running = create().await.unwrap();
    let cancelled = create().await.unwrap();
    emu.advance(Duration::from_secs(10 + 50));
    for name in [&running.name, &cancelled.name] {
        let job = client.get(name).await.unwrap();
        assert_eq!(job.state(), JobState::Running);
        assert_eq!(rows(&job), 7, "{:?}", job.completion_stats);
        assert_eq!(
            job.progress().to_string(),
            "3 succeeded, 0 failed, 4 incomplete"
        );
    }
    client.cancel(&cancelled.name).await.unwrap();
    emu.advance(Duration::from_secs(3600));
    let cancelled = client.wait(&cancelled.name).await.unwrap();
    assert_eq!(cancelled.state(), JobState::Cancelled);
    assert_eq!(rows(&cancelled), 7);
    let done = client.wait(&running.name).await.unwrap();
    assert_eq!(done.state(), JobState::Succeeded);
    assert_eq!(rows(&done), 7);
    emu.shutdown().await;
}

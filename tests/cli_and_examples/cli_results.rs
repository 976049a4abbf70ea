//! `vertex-batch results` on the predictions.jsonl an emulator job really wrote: the summary,
//! the failed row with its line and status, the answers as JSONL and CSV.
#![cfg(feature = "cli")]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::client::*;
use vertex_batch::batch_file::{BatchFileWriter, BatchRequest};
use vertex_batch::v1::BatchPredictionJob;

/// A scratch folder removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn results(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vertex-batch"))
        .arg("results")
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn results_reads_what_an_emulator_job_wrote() {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("vertex-batch-results-{}", std::process::id())));
    std::fs::create_dir_all(scratch.0.join("bucket")).unwrap();
    let emu = emulator().with_gcs_root(&scratch.0).start().await.unwrap();
    let client = client_builder(&emu).connect().await.unwrap();

    let input = emu.local_path("gs://bucket/prompts.jsonl").unwrap();
    let mut writer = BatchFileWriter::create(&input).unwrap();
    for prompt in ["one", "two, with a comma", "three"] {
        writer
            .write(&BatchRequest::new().with_user_text(prompt))
            .unwrap();
    }
    let mut file = writer.finish().unwrap().into_inner().unwrap();
    writeln!(file, "{{not json").unwrap();
    drop(file);

    let job = client
        .create(
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_input("gs://bucket/prompts.jsonl")
                .with_output("gs://bucket/out"),
        )
        .await
        .unwrap();
    emu.advance(Duration::from_secs(3600));
    let job = client.wait(&job.name).await.unwrap();
    let dir = emu
        .local_path(job.output_location().unwrap().uri())
        .unwrap();
    let dir = dir.to_str().unwrap();

    let summary = results(&[dir]);
    assert!(summary.status.success(), "{}", text(&summary.stderr));
    let summary = text(&summary.stdout);
    assert!(
        summary.starts_with("4 rows: 3 succeeded, 1 failed"),
        "{summary}"
    );
    assert!(summary.contains("line 4: Bad Request"), "{summary}");

    let jsonl = text(&results(&[dir, "--answers", "jsonl"]).stdout);
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1]["prompt"], "two, with a comma");
    assert_eq!(rows[1]["answer"], "echo: two, with a comma");
    assert_eq!(rows[3]["line"], 4);
    assert!(
        rows[3]["error"]
            .as_str()
            .unwrap()
            .contains("INVALID_ARGUMENT")
    );

    let csv = text(&results(&[dir, "--answers", "csv"]).stdout);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "line,prompt,answer,error");
    assert_eq!(
        lines[2],
        r#"2,"two, with a comma","echo: two, with a comma","#
    );
    assert_eq!(lines.len(), 5);

    // A damaged file: one line naming the line, a non-zero exit.
    let damaged = scratch.0.join("predictions.jsonl");
    std::fs::write(&damaged, "{\"status\": \"\"}\nnot json\n").unwrap();
    let output = results(&[damaged.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let err = text(&output.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("line 2"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

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

/// Answers (prompts, errors) that a spreadsheet would run as formulas start with `'` in CSV;
/// JSONL keeps them as they are.
#[test]
fn csv_cells_that_would_be_formulas_are_neutralised() {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("vertex-batch-csv-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).unwrap();
    let texts = [
        "=HYPERLINK(\"http://x\")",
        "+1+2",
        "-2+3",
        "@SUM(A1)",
        "\tTAB",
        "\rCR",
        "plain = text",
        "",
    ];
    let mut file = String::new();
    for text in texts {
        let row = serde_json::json!({
            "request": {"contents": [{"parts": [{"text": text}]}]},
            "response": {"candidates": [{"content": {"parts": [{"text": text}]}}]},
            "status": "",
        });
        file.push_str(&format!("{row}\n"));
    }
    file.push_str(&format!(
        "{}\n",
        serde_json::json!({"request": {"contents": []}, "status": "=1+1 failed"})
    ));
    let path = scratch.0.join("predictions.jsonl");
    std::fs::write(&path, file).unwrap();
    let path = path.to_str().unwrap();

    let output = results(&[path, "--answers", "csv"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let mut reader = csv::Reader::from_reader(&output.stdout[..]);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), texts.len() + 1);
    for (row, sent) in rows.iter().zip(texts) {
        let expected = if sent.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{sent}")
        } else {
            sent.to_owned()
        };
        assert_eq!(&row[1], expected, "prompt {sent:?}");
        assert_eq!(&row[2], expected, "answer {sent:?}");
    }
    assert_eq!(&rows[texts.len()][3], "'=1+1 failed");

    let jsonl = text(&results(&[path, "--answers", "jsonl"]).stdout);
    let answers: Vec<String> = jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["answer"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(&answers[..texts.len()], texts);
}

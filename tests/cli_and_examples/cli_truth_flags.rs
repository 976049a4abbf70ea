//! The emulator binary's switches for the behaviours on thin evidence (issue 20):
//! `--no-echoed-labels` leaves `labels` out of the echoed request, `--allow-type-conflicts` lets
//! rows disagree on a field's type without failing the job's import.
#![cfg(feature = "cli")]

use crate::cli_run::{output, scratch, start_emulator, text, vb};

#[test]
fn the_launchers_turn_off_echoed_labels_and_refused_type_conflicts() {
    let dir = scratch("truth-flags");
    let root = dir.join("gcs");
    std::fs::create_dir_all(root.join("bucket")).unwrap();
    std::fs::write(
        root.join("bucket/in.jsonl"),
        concat!(
            r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "a"}]}], "labels": {"n": "1"}}}"#,
            "\n",
            r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "b"}]}], "labels": {"n": 2}}}"#,
            "\n",
        ),
    )
    .unwrap();
    let emu = start_emulator(
        &dir,
        &[
            "--gcs-root",
            root.to_str().unwrap(),
            "--no-echoed-labels",
            "--allow-type-conflicts",
        ],
    );
    let mut command = vb(&emu);
    command.args([
        "submit",
        "gemini-2.0-flash-001",
        "--input",
        "gs://bucket/in.jsonl",
        "--output",
        "gs://bucket/out",
        "--wait",
        "--interval",
        "0.1",
        "--json",
    ]);
    let done = output(command);
    let said = text(&done.stdout);
    assert_eq!(done.status.code(), Some(0), "{said}{}", text(&done.stderr));
    // The conflict did not fail the import: the job ran, the number label failing its row.
    let job = vertex_batch::json::job_from_json(said.trim()).unwrap();
    assert_eq!(job.state(), vertex_batch::v1::JobState::Succeeded);
    assert_eq!((job.progress().successful, job.progress().failed), (1, 1));
    let out = root.join("bucket/out");
    let folder = std::fs::read_dir(&out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let lines = std::fs::read_to_string(folder.join("predictions.jsonl")).unwrap();
    for line in lines.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(row["request"].get("labels"), None, "{line}");
    }
}

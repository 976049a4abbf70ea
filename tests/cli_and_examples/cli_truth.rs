//! Results that tell the truth: `results` on a `run` results file counts its failed lines; a
//! row whose request the service could not parse keeps the status the service gave it; a
//! folder means the predictions files directly in it, in Cloud Storage as on disk.

use std::io::Write;
use std::path::Path;

use crate::cli_run::{output, run_args, scratch, start_emulator, text, vb, write_input};

/// `results WHAT`: through the emulator for gs://, as a local file otherwise.
fn results(emu: &crate::cli_run::EmulatorProcess, what: &str) -> std::process::Output {
    let mut command = if what.starts_with("gs://") {
        vb(emu)
    } else {
        crate::cli::bare()
    };
    command.args(["results", what]);
    output(command)
}

/// The error lines of a run's results file.
fn failed_lines(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|row| row.get("error").is_some())
        .collect()
}

#[test]
fn results_on_a_run_results_file_counts_its_failed_lines() {
    let dir = scratch("truth-counts");
    let emu = start_emulator(
        &dir,
        &["--row-permanent-failure-rate", "0.25", "--seed", "5"],
    );
    let input = dir.join("prompts.jsonl");
    write_input(&input, 60);
    let out = dir.join("results.jsonl");
    let mut command = vb(&emu);
    command.args(run_args(&input, "gs://runs/counts", &out));
    let done = output(command);
    assert_eq!(done.status.code(), Some(8), "{}", text(&done.stderr));
    let failed = failed_lines(&out).len();
    assert!(failed > 0 && failed < 60, "{failed}");

    let summary = results(&emu, out.to_str().unwrap());
    let said = text(&summary.stdout);
    assert_eq!(summary.status.code(), Some(0), "{}", text(&summary.stderr));
    assert!(
        said.starts_with(&format!(
            "60 rows: {} succeeded, {failed} failed",
            60 - failed
        )),
        "{said}"
    );
    assert!(said.contains(&format!("{failed} failed, first")), "{said}");
    assert!(
        said.contains("400: "),
        "grouped by code and message: {said}"
    );
}

#[test]
fn a_request_the_service_cannot_parse_keeps_its_status() {
    let dir = scratch("truth-unparsed");
    let emu = start_emulator(&dir, &[]);
    let input = dir.join("prompts.jsonl");
    let mut file = std::fs::File::create(&input).unwrap();
    let prompt = |text: &str, key: &str| {
        format!(
            r#"{{"request": {{"contents": [{{"role": "user", "parts": [{{"text": "{text}"}}]}}]}}, "key": "{key}"}}"#
        )
    };
    // A lone surrogate: JSON text the service's parser refuses, echoed as a raw string.
    writeln!(file, "{}", prompt("fine", "good")).unwrap();
    writeln!(file, "{}", prompt("\\ud800", "surrogate")).unwrap();
    drop(file);
    let out = dir.join("results.jsonl");
    let mut command = vb(&emu);
    command.args(run_args(&input, "gs://runs/unparsed", &out));
    let done = output(command);
    assert_eq!(done.status.code(), Some(8), "{}", text(&done.stderr));
    let failed = failed_lines(&out);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["key"], "surrogate");
    assert_eq!(failed[0]["error"]["code"], 400, "{}", failed[0]);
    let message = failed[0]["error"]["message"].as_str().unwrap();
    assert!(message.contains("Invalid JSON payload"), "{message}");
    assert!(!message.contains("no output line"), "{message}");
}

#[test]
fn a_folder_means_the_predictions_files_directly_in_it_local_or_gs() {
    let dir = scratch("truth-folders");
    let emu = start_emulator(&dir, &[]);
    let input = dir.join("prompts.jsonl");
    write_input(&input, 10);
    let mut command = vb(&emu);
    command.args(run_args(
        &input,
        "gs://runs/folders",
        &dir.join("out.jsonl"),
    ));
    let done = output(command);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));

    // The staging prefix holds the job's folder, not predictions files of its own.
    let above = results(&emu, "gs://runs/folders");
    let err = text(&above.stderr);
    assert_eq!(above.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no predictions*.jsonl file directly in it (1 in folders below it, like gs://runs/folders/"),
        "{err}"
    );
    let below = err
        .split("like ")
        .nth(1)
        .and_then(|rest| rest.split(": give").next())
        .unwrap();
    let job_dir = &below[..below.rfind('/').unwrap()];
    let read = results(&emu, job_dir);
    assert_eq!(
        read.status.code(),
        Some(0),
        "{job_dir}: {}",
        text(&read.stderr)
    );
    assert!(text(&read.stdout).starts_with("10 rows: 10 succeeded, 0 failed"));

    // On disk, the same rule: a file in a folder below is not read.
    let local = dir.join("local");
    std::fs::create_dir_all(local.join("below")).unwrap();
    std::fs::write(
        local.join("below").join("predictions.jsonl"),
        "{\"request\": {}, \"status\": \"\"}\n",
    )
    .unwrap();
    let flat = results(&emu, local.to_str().unwrap());
    assert_eq!(flat.status.code(), Some(1), "{}", text(&flat.stderr));
    assert!(text(&flat.stderr).contains("no predictions*.jsonl file"));
}

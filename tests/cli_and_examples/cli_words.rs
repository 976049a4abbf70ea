//! The tool names its own flags and arguments in errors, through one table
//! (`src/bin/vertex-batch/flags.rs`), where the library names its API's fields: one case per
//! kind of field the table maps (the run's limits are refused by clap first, see
//! `cli_checks.rs`; `INPUT line N` in `cli_checks.rs` and `cli_files.rs`).

use std::path::Path;

use crate::cli::{INPUT, one_line_error, vb};
use crate::cli_run::{output, scratch, start_emulator};

fn run_embedded(input: &Path, staging: &str, out: &Path) -> std::process::Output {
    crate::cli::bare()
        .args(["--emulator", "run"])
        .arg(input)
        .args([
            "--text",
            "--model",
            "gemini-2.0-flash-001",
            "--staging",
            staging,
            "--out",
        ])
        .arg(out)
        .output()
        .expect("runs")
}

#[test]
fn global_settings_are_named_by_their_flags() {
    let line = one_line_error(vb(&["--location", "us-central1.evil.com", "get", "1"]), 1);
    assert!(line.starts_with("error: invalid --location: "), "{line}");
    let line = one_line_error(
        crate::cli::bare()
            .args([
                "--project",
                "Not A Project",
                "--endpoint",
                "ftp://x",
                "get",
                "1",
            ])
            .output()
            .expect("runs"),
        1,
    );
    assert!(
        line.starts_with("error: invalid --project: ")
            || line.starts_with("error: invalid --endpoint: "),
        "{line}"
    );
    let line = one_line_error(
        crate::cli::bare()
            .args([
                "--project",
                "my-project",
                "--endpoint",
                "ftp://x",
                "get",
                "1",
            ])
            .output()
            .expect("runs"),
        1,
    );
    assert!(line.starts_with("error: invalid --endpoint: "), "{line}");
    let line = one_line_error(
        crate::cli::bare()
            .args(["--project", "Not A Project", "--emulator", "get", "1"])
            .output()
            .expect("runs"),
        1,
    );
    assert!(line.starts_with("error: invalid --project: "), "{line}");
}

#[test]
fn submit_names_its_model_argument() {
    let line = one_line_error(
        vb(&[
            "submit",
            "BAD MODEL",
            "--input",
            INPUT,
            "--output",
            "gs://my-bucket/o",
        ]),
        1,
    );
    assert!(line.starts_with("error: invalid MODEL: "), "{line}");
}

#[test]
fn run_names_its_staging_flag_and_its_input() {
    let dir = scratch("words");
    let (prompts, empty, out) = (
        dir.join("prompts.txt"),
        dir.join("empty.txt"),
        dir.join("out.jsonl"),
    );
    std::fs::write(&prompts, "a prompt\n").unwrap();
    std::fs::write(&empty, "\n\n").unwrap();
    let line = one_line_error(run_embedded(&prompts, "gs://bucket/run.jsonl", &out), 1);
    assert!(line.starts_with("error: invalid --staging: "), "{line}");
    let line = one_line_error(run_embedded(&empty, "gs://bucket/run", &out), 1);
    assert!(
        line.starts_with("error: invalid INPUT: holds no requests"),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_storage_endpoint_is_named_by_its_flag() {
    let dir = scratch("words-storage");
    let emu = start_emulator(&dir, &[]);
    let mut command = crate::cli_run::vb(&emu);
    command.args(["status", "gs://bucket/run", "--storage-endpoint", "ftp://x"]);
    let line = one_line_error(output(command), 1);
    assert!(
        line.starts_with("error: invalid --storage-endpoint: \"ftp://x\""),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

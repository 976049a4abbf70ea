//! Output: a closed stdout ends every command quietly with 0, and what is read whole is capped
//! naming the flag, the file and the limit.

use std::path::PathBuf;
use std::process::Stdio;

use crate::cli::*;
use crate::cli_create::{DOCS_GCS_BODY, fill};

/// A stdout whose reader is gone before the command starts: its first write finds the pipe
/// closed, as `vertex-batch list | head -1` does once `head` has its line.
fn closed_stdout() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    writer.into()
}

#[test]
fn a_closed_stdout_ends_every_command_quietly_with_0() {
    let ended = submit("cli-closed-stdout", &[]);
    finish_jobs();
    ok(vb(&[&["wait", &ended.name][..], &FAST].concat()));
    // Pending while the clock stands still: cancelled first, before it can end.
    let still = still();
    let running = submit("cli-closed-stdout", &[]);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("closed-stdout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let predictions = dir.join("predictions.jsonl");
    let row = r#"{"request": {"contents": [{"parts": [{"text": "hi"}]}]}, "response": {"candidates": [{"content": {"parts": [{"text": "hello"}]}}]}, "status": ""}"#;
    std::fs::write(&predictions, format!("{row}\n").repeat(1000)).expect("written");
    let predictions = predictions.to_str().expect("utf-8");
    let request = dir.join("request.json");
    std::fs::write(
        &request,
        fill(DOCS_GCS_BODY, "gs://my-bucket/path/to/file.jsonl", false),
    )
    .expect("written");
    let request = request.to_str().expect("utf-8");
    let submit_args = [
        "submit",
        "gemini-2.0-flash-001",
        "--input",
        INPUT,
        "--output",
        "gs://my-bucket/out",
    ];
    let commands: [&[&str]; 14] = [
        &["cancel", &running.name],
        &submit_args,
        &[&submit_args[..], &["--json"]].concat(),
        &["create", "--request", request],
        &["get", &running.name],
        &["get", &running.name, "--json"],
        &["list"],
        &["list", "--json"],
        &[&["wait", &ended.name][..], &FAST].concat(),
        &["delete", &ended.name],
        &["results", predictions],
        &["results", predictions, "--answers", "jsonl"],
        &["results", predictions, "--answers", "csv"],
        &["--help"],
    ];
    let mut still = Some(still);
    for args in commands {
        let output = match args[0] {
            // The delete operation is done once the clock moves (its -v logs on stderr).
            "delete" => waited_through_the_clock_to(
                still.take().unwrap_or_else(crate::cli::still),
                args,
                closed_stdout(),
            ),
            // `results` reads local files: the emulator's flags are no use to it.
            "results" => bare()
                .args(args)
                .stdout(closed_stdout())
                .output()
                .expect("runs"),
            _ => vb_command(args)
                .stdout(closed_stdout())
                .output()
                .expect("runs"),
        };
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.lines().any(|line| line.starts_with("error")) && !err.contains("panicked"),
            "{args:?}: {err}"
        );
        if args[0] == "cancel" {
            // The pending job is cancelled: the clock may move again.
            still = None;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn what_is_read_whole_is_capped_naming_the_flag_file_and_limit() {
    let line = one_line_error(
        bare()
            .args(["results", "/dev/zero"])
            .output()
            .expect("runs"),
        1,
    );
    assert!(
        line.contains("/dev/zero line 1") && line.contains("limit of 64 MiB"),
        "{line}"
    );
    let line = one_line_error(vb(&["create", "--request", "/dev/zero"]), 1);
    assert!(
        line.contains("--request /dev/zero") && line.contains("limit of 4194304 bytes"),
        "{line}"
    );
    let line = one_line_error(
        vb_with_stdin(&["create", "--request", "-"], Some(&" ".repeat(5 << 20))),
        1,
    );
    assert!(
        line.contains("--request stdin") && line.contains("limit of 4194304 bytes"),
        "{line}"
    );
    let line = one_line_error(
        bare()
            .args(["--project", PROJECT, "--endpoint", &shared().uri])
            .args(["--ca-cert", "/dev/zero", "list"])
            .output()
            .expect("runs"),
        1,
    );
    assert!(
        line.contains("--ca-cert /dev/zero") && line.contains("limit of 1048576 bytes"),
        "{line}"
    );
}

//! `run`'s checks before any job: a flag value the service would refuse (past its limits, a
//! model it cannot find, an output prefix with a space) is a usage error (exit 2) naming the
//! flag, before anything is read or sent; `--help` states the same limits the checks apply;
//! a request's labels are checked as the service checks them, the run's own label counted.

use std::io::Write;

use crate::cli_run::{jobs_of, output, run_args, scratch, start_emulator, text, vb, write_input};

/// `args` with each `--flag value` of `flags` put in place of the same flag's value, or added.
fn with_flags(mut args: Vec<String>, flags: &[&str]) -> Vec<String> {
    for pair in flags.chunks(2) {
        match args.iter().position(|arg| arg == pair[0]) {
            Some(at) => args[at + 1] = pair[1].to_owned(),
            None => args.extend(pair.iter().map(|s| (*s).to_owned())),
        }
    }
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flag_values_exit_2_naming_the_flag_before_anything_is_sent() {
    let dir = scratch("checks-flags");
    let emu = start_emulator(&dir, &[]);
    let input = dir.join("prompts.jsonl");
    write_input(&input, 3);
    let out = dir.join("out.jsonl");
    let cases: [(&[&str], &str); 10] = [
        (
            &["--max-requests-per-job", "200001"],
            "--max-requests-per-job",
        ),
        (&["--max-requests-per-job", "0"], "--max-requests-per-job"),
        (
            &["--max-bytes-per-file", "18446744073709551615"],
            "--max-bytes-per-file",
        ),
        (
            &["--max-bytes-per-file", "1000000001"],
            "--max-bytes-per-file",
        ),
        (&["--max-bytes-per-file", "1023"], "--max-bytes-per-file"),
        (&["--model", "GEMINI-2.0-FLASH"], "--model"),
        (&["--model", "publishers/google/models/a b"], "--model"),
        (&["--max-running-jobs", "0"], "--max-running-jobs"),
        (&["--retry-rounds", "101"], "--retry-rounds"),
        (&["--staging", "gs://runs/with space"], "--staging"),
    ];
    for (flags, flag) in cases {
        let mut command = vb(&emu);
        command.args(with_flags(run_args(&input, "gs://runs/flags", &out), flags));
        let done = output(command);
        let stderr = text(&done.stderr);
        assert_eq!(done.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(flag), "{flags:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
    assert!(jobs_of(&emu).await.is_empty(), "no job");
    assert!(!out.exists());

    // The help says the limits the checks apply.
    let mut command = crate::cli::bare();
    command.args(["run", "--help"]);
    let help = text(&output(command).stdout);
    for said in [
        "1 to 200,000",
        "1024 to 1,000,000,000",
        "0 to 100",
        "1 or more",
    ] {
        assert!(help.contains(said), "{said}: {help}");
    }
    // At the limits, the flags are taken.
    let mut command = vb(&emu);
    command.args(with_flags(
        run_args(&input, "gs://runs/limits", &out),
        &[
            "--max-requests-per-job",
            "200000",
            "--retry-rounds",
            "100",
            "--max-bytes-per-file",
            "1000000000",
        ],
    ));
    let done = output(command);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_labels_the_service_refuses_are_refused_before_any_job() {
    let dir = scratch("checks-labels");
    let emu = start_emulator(&dir, &[]);
    let line = |labels: &str| {
        format!(
            r#"{{"request": {{"labels": {labels}, "contents": [{{"role": "user", "parts": [{{"text": "hi"}}]}}]}}}}"#
        )
    };
    let full: Vec<String> = (0..64).map(|i| format!(r#""k{i}": "v""#)).collect();
    let full = format!("{{{}}}", full.join(", "));
    let long_key = format!(r#"{{"{}": "v"}}"#, "k".repeat(64));
    for (labels, expected) in [
        (full.as_str(), "that makes 65"),
        (r#"{"Team": "ml"}"#, "lower-case letter"),
        (r#"{"team": "Data Science"}"#, "contains 'D'"),
        (long_key.as_str(), "longer than 63"),
    ] {
        let input = dir.join("labels.jsonl");
        let mut file = std::fs::File::create(&input).unwrap();
        writeln!(file, "{}\n{}", line(r#"{"ok": "yes"}"#), line(labels)).unwrap();
        let mut command = vb(&emu);
        command.args(run_args(&input, "gs://runs/labels", &dir.join("out.jsonl")));
        let done = output(command);
        let stderr = text(&done.stderr);
        assert_eq!(done.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("INPUT line 2") && stderr.contains(expected),
            "{expected}: {stderr}"
        );
    }
    assert!(jobs_of(&emu).await.is_empty(), "no job");
}

/// Phase lengths past what a clock can add (`--queued-secs 9223372036854775807`) are taken as
/// about a thousand years: a Create answers, the job is PENDING, the connection stays up.
#[test]
fn huge_phase_lengths_saturate_instead_of_panicking() {
    let dir = scratch("checks-queued");
    let emu = start_emulator(
        &dir,
        &[
            "--queued-secs",
            "9223372036854775807",
            "--running-secs",
            "18446744073709551615",
        ],
    );
    for _ in 0..2 {
        let mut command = vb(&emu);
        command.args([
            "submit",
            "gemini-2.0-flash-001",
            "--input",
            "gs://my-bucket/in.jsonl",
            "--output",
            "gs://my-bucket/out",
            "--json",
        ]);
        let done = output(command);
        assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
        let job: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
        assert_eq!(job["state"], "JOB_STATE_PENDING", "{job}");
    }
}

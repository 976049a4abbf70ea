//! Arguments: clap's errors and the tool's own checks as one-line errors with exit 2, help with
//! examples, values that would change meaning, repeated parameters and labels, advice that
//! names flags, errors that say each thing once, domain-scoped projects.

use std::path::PathBuf;

use crate::cli::*;
use crate::cli_create::{DOCS_GCS_BODY, fill};

#[test]
fn bad_arguments_are_one_line_errors() {
    // clap's own errors, exit 2
    for args in [
        &["--bogus"][..],
        &["get"],
        &["list", "--state", "sleeping"],
        &["list", "--limit", "many"],
        &["wait", "1", "--interval", "-1"],
        &[
            "submit",
            "gemini-2.0-flash-001",
            "--output",
            "gs://my-bucket/o",
        ],
        &[
            "submit",
            "gemini-2.0-flash-001",
            "--input",
            INPUT,
            "--output",
            "gs://my-bucket/o",
            "--param",
            "seed=abc",
        ],
        &[
            "submit",
            "gemini-2.0-flash-001",
            "--input",
            INPUT,
            "--output",
            "gs://my-bucket/o",
            "--label",
            "team",
        ],
    ] {
        let line = one_line_error(bare().args(args).output().expect("runs"), 2);
        assert!(line.ends_with("(see --help)"), "{line}");
    }
    // the crate's checks, before any call, exit 1
    let line = one_line_error(
        vb(&[
            "submit",
            "gemini-2.0-flash-001",
            "--input",
            "ftp://x/in.jsonl",
            "--output",
            "gs://my-bucket/o",
        ]),
        1,
    );
    assert!(
        line.contains("inputs[0]") && line.contains("gs://"),
        "{line}"
    );
    let line = one_line_error(
        vb(&[
            "submit",
            "gemini-2.0-flash-001",
            "--input",
            INPUT,
            "--output",
            "gs://my-bucket/o",
            "--temperature",
            "NaN",
        ]),
        1,
    );
    assert!(line.contains("temperature"), "{line}");
    let line = one_line_error(vb(&["--location", "us-central1.evil.com", "get", "1"]), 1);
    assert!(line.contains("location"), "{line}");
    let line = one_line_error(bare().args(["list"]).output().expect("runs"), 1);
    assert!(
        line.contains("--project") && line.contains("GOOGLE_CLOUD_PROJECT"),
        "{line}"
    );
    let line = one_line_error(
        bare()
            .args([
                "--project",
                PROJECT,
                "--endpoint",
                &shared().uri,
                "--credentials",
                "/nonexistent/key.json",
                "list",
            ])
            .output()
            .expect("runs"),
        1,
    );
    assert!(
        line.contains("--credentials /nonexistent/key.json"),
        "{line}"
    );
    // the service's answer, exit 1
    let line = one_line_error(vb(&["get", "999"]), 1);
    assert!(line.contains("does not exist"), "{line}");
    let running = submit("cli-delete-running", &[]);
    let line = one_line_error(vb(&["delete", &running.name]), 1);
    assert!(line.to_lowercase().contains("cancel"), "{line}");
}

#[test]
fn every_command_has_help_with_an_example() {
    for command in [
        "", "submit", "create", "get", "list", "wait", "cancel", "delete", "emulator",
    ] {
        let mut args: Vec<&str> = command.split_whitespace().collect();
        args.push("--help");
        let out = ok(bare().args(&args).output().expect("runs"));
        assert!(out.contains("Examples:"), "{command}: {out}");
        assert!(out.contains("vertex-batch "), "{command}: {out}");
    }
    let wait = ok(bare().args(["wait", "--help"]).output().expect("runs"));
    assert!(wait.contains("Exit codes:"), "{wait}");
}

#[test]
fn a_domain_scoped_project_is_a_project_for_every_command() {
    let emu = shared();
    let project = "example.com:my-project";
    let vb_as = |args: &[&str]| {
        bare()
            .arg("--endpoint")
            .arg(&emu.uri)
            .arg("--ca-cert")
            .arg(&emu.ca_path)
            .arg("--credentials")
            .arg(&emu.key_path)
            .args(["--project", project])
            .args(args)
            .output()
            .expect("runs")
    };
    let job = job_from_stdout(vb_as(&[
        "submit",
        "gemini-2.0-flash-001",
        "--input",
        "bq://example.com:my-project.dataset.prompts",
        "--output",
        "bq://example.com:my-project.dataset",
        "--display-name",
        "cli-domain-scoped",
        "--json",
    ]));
    assert!(
        job.name
            .starts_with("projects/example.com:my-project/locations/us-central1/"),
        "{}",
        job.name
    );
    let id = job.job_name().expect("a name").job_id().to_owned();
    let shown = ok(vb_as(&["get", &id]));
    assert!(shown.contains(&job.name), "{shown}");
}

/// Arguments the client would otherwise turn silently into something else are refused, each
/// naming what is wrong, before any call.
#[test]
fn arguments_that_would_change_meaning_are_refused() {
    for port in ["99999", "65536", "0", ""] {
        let url = format!("https://127.0.0.1:{port}");
        let line = one_line_error(
            bare()
                .args(["--project", PROJECT, "--endpoint", &url, "get", "1"])
                .output()
                .expect("runs"),
            1,
        );
        assert!(
            line.contains("invalid --endpoint") && line.contains("1 to 65535"),
            "{line}"
        );
    }

    // Integers beyond 2^53, beyond 64 bits too, wherever numbers enter.
    let submit = [
        "submit",
        "gemini-2.0-flash-001",
        "--input",
        INPUT,
        "--output",
        "gs://my-bucket/o",
    ];
    for (param, named) in [
        ("seed=18446744073709551616", "seed:"),
        ("seed=9007199254740993", "seed:"),
        (r#"x={"a": [1, -99999999999999999999]}"#, "x.a[1]:"),
    ] {
        let output = bare()
            .args(["--project", PROJECT])
            .args(submit)
            .args(["--param", param])
            .output()
            .expect("runs");
        let line = one_line_error(output, 2);
        assert!(
            line.contains(named) && line.contains("beyond 2^53"),
            "{param}: {line}"
        );
    }
    for seed in ["12345678901234567890123", "18446744073709551615"] {
        let body = fill(DOCS_GCS_BODY, "gs://my-bucket/in.jsonl", false).replacen(
            "{",
            &format!(r#"{{"modelParameters": {{"seed": {seed}}},"#),
            1,
        );
        let line = one_line_error(vb_with_stdin(&["create", "--request", "-"], Some(&body)), 1);
        assert!(
            line.contains("--request")
                && line.contains(&format!("at `modelParameters.seed`: {seed} is beyond 2^53")),
            "{line}"
        );
    }
}

/// A parameter or label given twice would be sent as given last, silently: refused naming
/// both arguments, whichever way the two are given.
#[test]
fn a_parameter_or_label_given_twice_is_refused_naming_both() {
    let submit = [
        "submit",
        "gemini-2.0-flash-001",
        "--input",
        INPUT,
        "--output",
        "gs://my-bucket/o",
    ];
    for (extra, first, second) in [
        (
            &["--temperature", "0.2", "--param", "temperature=0.5"][..],
            "--temperature 0.2",
            "--param temperature=0.5",
        ),
        (
            &["--param", "temperature=0.5", "--temperature", "0.2"],
            "--temperature 0.2",
            "--param temperature=0.5",
        ),
        (
            &["--max-output-tokens", "5", "--param", "max_output_tokens=6"],
            "--max-output-tokens 5",
            "--param max_output_tokens=6",
        ),
        (
            &["--top-p", "0.5", "--param", "TOPP=0.6"],
            "--top-p 0.5",
            "--param TOPP=0.6",
        ),
        (
            &["--top-k", "3", "--param", "topK=4"],
            "--top-k 3",
            "--param topK=4",
        ),
        (
            &["--param", "seed=1", "--param", "seed=2"],
            "--param seed=1",
            "--param seed=2",
        ),
        (
            &["--label", "team=a", "--label", "team=b"],
            "--label team=a",
            "--label team=b",
        ),
    ] {
        let output = bare()
            .args(["--project", PROJECT])
            .args(submit)
            .args(extra)
            .output()
            .expect("runs");
        let line = one_line_error(output, 2);
        assert!(
            line.contains(&format!("`{first}`"))
                && line.contains(&format!("`{second}`"))
                && line.ends_with("give it once (see --help)"),
            "{extra:?}: {line}"
        );
    }
    for param in ["=1", " =1", "a b=1", "=", "\t=2"] {
        let output = bare()
            .args(["--project", PROJECT])
            .args(submit)
            .args(["--param", param])
            .output()
            .expect("runs");
        let line = one_line_error(output, 2);
        assert!(
            line.contains("--param") && line.contains("no parameter name"),
            "{param:?}: {line}"
        );
    }
}

/// The tool's advice names its flags, never the library's functions.
#[test]
fn advice_names_flags_not_functions() {
    let emu = shared();
    // The emulator's certificate, without its CA.
    let untrusted = one_line_error(
        bare()
            .args(["--project", PROJECT, "--endpoint", &emu.uri])
            .arg("--credentials")
            .arg(&emu.key_path)
            .args(["get", "1"])
            .output()
            .expect("runs"),
        1,
    );
    // A CA file that holds no certificate.
    let not_pem = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("not-a-ca-{}.pem", std::process::id()));
    std::fs::write(&not_pem, "not a certificate").expect("written");
    let bad_ca = one_line_error(
        bare()
            .args(["--project", PROJECT, "--endpoint", &emu.uri])
            .arg("--ca-cert")
            .arg(&not_pem)
            .args(["get", "1"])
            .output()
            .expect("runs"),
        1,
    );
    let _ = std::fs::remove_file(&not_pem);
    for line in [&untrusted, &bad_ca] {
        assert!(line.contains("--ca-cert"), "{line}");
        assert!(
            !line.contains("::") && !line.contains("with_ca_pem"),
            "{line}"
        );
    }
    assert!(untrusted.contains("not trusted"), "{untrusted}");
    assert!(bad_ca.contains("holds no PEM certificate"), "{bad_ca}");
}

/// Asserts that no phrase of `line` (the text between `:`, `;` and brackets, of some length)
/// is said twice.
fn assert_said_once(line: &str) {
    for phrase in line.split([':', ';', '(', ')']).map(str::trim) {
        if phrase.len() >= 16 {
            assert_eq!(
                line.matches(phrase).count(),
                1,
                "`{phrase}` twice in: {line}"
            );
        }
    }
}

/// Every error says each thing once: an I/O error and its cause, a status and the field
/// violations its message lists, a hint and its file; and a malformed name gets no advice about
/// locations.
#[test]
fn errors_say_each_thing_once() {
    let empty = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("empty-results-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("a folder");
    let empty = empty.to_str().expect("utf-8").to_owned();
    let lines = [
        one_line_error(
            bare()
                .args(["results", "/nonexistent/p.jsonl"])
                .output()
                .expect("runs"),
            1,
        ),
        one_line_error(bare().args(["results", &empty]).output().expect("runs"), 1),
        one_line_error(vb(&["list", "--filter", "bogus_field=\"x\""]), 1),
        one_line_error(vb(&["list", "--filter", "display_name=\"x"]), 1),
        one_line_error(
            vb_with_stdin(
                &["create", "--request", "-"],
                Some(r#"{"displayName": "x"}"#),
            ),
            1,
        ),
        one_line_error(vb(&["get", "abc"]), 1),
        one_line_error(vb(&["create", "--request", "/nonexistent/request.json"]), 1),
    ];
    for line in &lines {
        assert_said_once(line);
    }
    assert!(
        lines[0].contains("No such file or directory"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("no predictions*.jsonl file"),
        "{}",
        lines[1]
    );
    assert!(
        lines[4].contains("required: where predictions go"),
        "{}",
        lines[4]
    );
    assert!(
        !lines[5].contains("serves another location") && !lines[5].contains("talks to"),
        "{}",
        lines[5]
    );
}

/// Numbers take a sign: a negative value is sent for the service to judge (or refused naming
/// its flag when the flag's type has no sign), never taken for an unknown flag; seconds say
/// their real limits.
#[test]
fn negative_numbers_parse_and_seconds_say_their_limits() {
    let job = submit("-dash", &["--temperature", "-1", "--top-p", "-0.5"]);
    let params =
        vertex_batch::params::value_to_json(job.model_parameters.as_ref().expect("parameters"))
            .expect("JSON parameters");
    assert_eq!(params["temperature"], -1);
    assert_eq!(params["topP"], -0.5);
    assert_eq!(job.display_name, "-dash");
    let listed = ok(vb(&[
        "list",
        "--filter",
        "-display_name=\"-dash\"",
        "--limit",
        "1",
    ]));
    assert!(!listed.contains("-dash"), "{listed}");

    for (args, named, says) in [
        (
            &["--max-output-tokens", "-1"][..],
            "--max-output-tokens",
            "-1",
        ),
        (&["--top-k", "-3"], "--top-k", "-3"),
    ] {
        let output = bare()
            .args(["--project", PROJECT, "submit", "gemini-2.0-flash-001"])
            .args(["--input", INPUT, "--output", "gs://my-bucket/o"])
            .args(args)
            .output()
            .expect("runs");
        let line = one_line_error(output, 2);
        assert!(line.contains(named) && line.contains(says), "{line}");
        assert!(!line.contains("unexpected argument"), "{line}");
    }
    for (flag, value, says) in [
        (
            "--interval",
            "1e308",
            "at most 18446744073709551615 seconds",
        ),
        ("--interval", "inf", "at most 18446744073709551615 seconds"),
        ("--timeout", "1e20", "at most 18446744073709551615 seconds"),
        ("--interval", "0", "more than 0 seconds"),
        ("--interval", "-1", "cannot be negative"),
        ("--timeout", "-0.5", "cannot be negative"),
        ("--interval", "NaN", "not a number of seconds"),
    ] {
        let output = bare()
            .args(["--project", PROJECT, "wait", "1", flag, value])
            .output()
            .expect("runs");
        let line = one_line_error(output, 2);
        assert!(
            line.contains(flag) && line.contains(says),
            "{flag} {value}: {line}"
        );
    }
}

/// `--help` shows a command's own options apart from the global ones; options a command has no
/// use for are refused, not ignored.
#[test]
fn help_separates_global_options_and_ignored_options_are_refused() {
    for command in ["submit", "list", "wait", "results"] {
        let help = ok(bare().args([command, "--help"]).output().expect("runs"));
        let (own, global) = help
            .split_once("Global options:")
            .unwrap_or_else(|| panic!("{command}: {help}"));
        assert!(
            global.contains("--project") && global.contains("--endpoint"),
            "{help}"
        );
        assert!(
            !own.contains("--project") && !own.contains("--endpoint"),
            "{help}"
        );
    }
    let submit = ok(bare().args(["submit", "--help"]).output().expect("runs"));
    let own = submit.split_once("Global options:").expect("a heading").0;
    assert!(
        own.contains("--temperature") && own.contains("--wait"),
        "{submit}"
    );

    let job = submit_job_args();
    for (args, says) in [
        ([&job[..], &["--interval", "1"]].concat(), "--wait"),
        ([&job[..], &["--timeout", "1"]].concat(), "--wait"),
        (
            vec!["create", "--request", "-", "--interval", "1"],
            "--wait",
        ),
        (vec!["cancel", "1", "--timeout", "5"], "--wait"),
        (
            vec!["--project", PROJECT, "results", "p.jsonl"],
            "--project has no effect on `results`",
        ),
        (
            vec!["results", "p.jsonl", "--location", "eu"],
            "--location has no effect",
        ),
        (
            vec!["results", "p.jsonl", "--endpoint", "http://x:1"],
            "--endpoint has no effect",
        ),
        (
            vec!["results", "p.jsonl", "--emulator"],
            "--emulator has no effect",
        ),
        (
            vec!["emulator", "--credentials", "key.json"],
            "--credentials has no effect on `emulator`",
        ),
        (
            vec!["--project", PROJECT, "emulator"],
            "--project has no effect on `emulator`",
        ),
    ] {
        let output = bare().args(&args).output().expect("runs");
        let line = one_line_error(output, 2);
        assert!(line.contains(says), "{args:?}: {line}");
    }
    // From the environment, a project is no argument given to `results`.
    let output = bare()
        .env("GOOGLE_CLOUD_PROJECT", PROJECT)
        .args(["results", "/nonexistent/p.jsonl"])
        .output()
        .expect("runs");
    let line = one_line_error(output, 1);
    assert!(line.contains("/nonexistent/p.jsonl"), "{line}");
}

/// `submit` with everything but `--project`.
fn submit_job_args() -> Vec<&'static str> {
    vec![
        "--project",
        PROJECT,
        "submit",
        "gemini-2.0-flash-001",
        "--input",
        INPUT,
        "--output",
        "gs://my-bucket/o",
    ]
}

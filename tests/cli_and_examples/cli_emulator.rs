//! The emulator from the command line: `--emulator` for one command, `vertex-batch emulator`
//! serving other commands, the two launchers sharing flags, defaults and banner.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::cli::*;

#[test]
fn the_embedded_emulator_runs_a_job_from_submitted_to_succeeded() {
    let output = bare()
        .args([
            "--emulator",
            "submit",
            "gemini-2.0-flash-001",
            "--input",
            INPUT,
            "--output",
            "gs://my-bucket/out",
            "--temperature",
            "0.2",
            "--max-output-tokens",
            "200",
            "--wait",
        ])
        .output()
        .expect("runs");
    let out = ok(output);
    assert!(out.contains("state:        SUCCEEDED"), "{out}");
    assert!(
        out.contains("progress:     100 succeeded, 0 failed, 0 incomplete"),
        "{out}"
    );
}

#[test]
fn the_emulator_command_serves_other_commands() {
    use std::io::{BufRead, BufReader};
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("emulator-cmd-{}", std::process::id()));
    let mut child = bare()
        // Any free port: the launchers' default, 8080, may be taken on a machine running tests.
        .args([
            "emulator",
            "--port",
            "0",
            "--tls",
            "--dir",
            dir.to_str().expect("utf-8"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the emulator starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let flags = loop {
        let line = lines.next().expect("a line").expect("text");
        if let Some(rest) = line.strip_prefix("use it with: vertex-batch ") {
            break rest.trim_end_matches(" ...").to_owned();
        }
    };
    let args: Vec<&str> = flags.split(' ').collect();
    assert!(
        args.contains(&"--ca-cert") && args.contains(&"--credentials"),
        "{flags}"
    );
    let output = bare()
        .args(&args)
        .args([
            "submit",
            "gemini-2.0-flash-001",
            "--input",
            INPUT,
            "--output",
            "gs://my-bucket/out",
            "--display-name",
            "from-cmd",
        ])
        .output()
        .expect("runs");
    let submitted = ok(output);
    let listed = ok(bare().args(&args).arg("list").output().expect("runs"));
    child.kill().expect("the emulator stops");
    child.wait().expect("reaped");
    assert!(submitted.contains("display name: from-cmd"), "{submitted}");
    assert!(
        listed
            .lines()
            .nth(1)
            .is_some_and(|row| row.ends_with("from-cmd")),
        "{listed}"
    );
}

/// The option lines of a `--help`, keyed by flag, and its `Examples:` section.
fn help_parts(help: &str) -> (Vec<String>, String) {
    let options = help
        .lines()
        .filter(|line| line.trim_start().starts_with("--") || line.trim_start().starts_with('-'))
        // The flag and its value name: clap prints the description on the same line or the
        // next, depending on the width of the other options under the same heading.
        .map(|line| {
            line.split_whitespace()
                .take_while(|word| word.starts_with('-') || word.starts_with('<'))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let examples = help
        .split_once("Examples:")
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_default();
    (options, examples)
}

/// Starts a launcher and reads its banner up to `press Ctrl-C to stop`, with the endpoint,
/// the token endpoint's port and `dir` written as placeholders.
fn banner_of(mut command: Command, dir: &std::path::Path) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    let mut child = command
        .args([
            "--port",
            "0",
            "--tls",
            "--dir",
            dir.to_str().expect("utf-8"),
        ])
        .env_remove("GOOGLE_CLOUD_LOCATION")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the launcher starts");
    let mut banner = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let line = line.expect("text");
        let done = line == "press Ctrl-C to stop";
        banner.push(line);
        if done {
            break;
        }
    }
    child.kill().expect("the launcher stops");
    child.wait().expect("reaped");
    let uri = banner[0]
        .strip_prefix("vertex-batch emulator listening on ")
        .expect("the first line says where it listens")
        .to_owned();
    banner
        .iter()
        .map(|line| {
            let line = line
                .replace(&uri, "URI")
                .replace(dir.to_str().expect("utf-8"), "DIR");
            if line.starts_with("STORAGE_EMULATOR_HOST=") {
                return "STORAGE_EMULATOR_HOST=STORAGE_URI".to_owned();
            }
            match line.split_once("token endpoint:") {
                Some((label, _)) => format!("{label}token endpoint: TOKEN_URI"),
                None => line,
            }
        })
        .collect()
}

#[test]
fn the_two_emulator_launchers_share_flags_defaults_and_banner() {
    let cli = ok(bare().args(["emulator", "--help"]).output().expect("runs"));
    let binary = ok(Command::new(env!("CARGO_BIN_EXE_vertex-batch-emulator"))
        .arg("--help")
        .output()
        .expect("runs"));
    let (cli_options, cli_examples) = help_parts(&cli);
    let (binary_options, binary_examples) = help_parts(&binary);
    for option in &binary_options {
        if option.starts_with("-V, --version") {
            continue;
        }
        assert!(
            cli_options.contains(option),
            "`vertex-batch emulator` lacks `{option}`:\n{cli}"
        );
    }
    for flag in [
        "--port",
        "--host",
        "--tls",
        "--require-auth",
        "--dir",
        "--gcs-root",
    ] {
        assert!(
            binary_options.iter().any(|o| o.starts_with(flag)),
            "{flag}: {binary}"
        );
    }
    assert_eq!(cli_examples, binary_examples);

    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("launchers-{}", std::process::id()));
    let mut cli_command = bare();
    cli_command.arg("emulator");
    let cli_banner = banner_of(cli_command, &root.join("cli"));
    let binary_banner = banner_of(
        Command::new(env!("CARGO_BIN_EXE_vertex-batch-emulator")),
        &root.join("binary"),
    );
    assert_eq!(cli_banner, binary_banner);
    assert!(
        cli_banner.contains(&"  jobs:           pending 5 s, then running 30 s".to_owned()),
        "{cli_banner:#?}"
    );
    assert!(
        cli_banner.contains(
            &"use it with: vertex-batch --endpoint URI --ca-cert DIR/ca.pem --credentials \
              DIR/key.json --location us-central1 --project my-project ..."
                .to_owned()
        ),
        "{cli_banner:#?}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// `emulator --require-auth` says where the key that gets tokens is, and the flags it prints
/// authenticate with it.
#[test]
fn an_emulator_requiring_auth_prints_the_key_that_gets_tokens() {
    use std::io::{BufRead, BufReader};
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("emulator-auth-{}", std::process::id()));
    let mut child = bare()
        .args(["emulator", "--port", "0", "--require-auth", "--dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the emulator starts");
    let mut banner = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let line = line.expect("text");
        let done = line.starts_with("use it with: ");
        banner.push(line);
        if done {
            break;
        }
    }
    let key = dir.join("key.json");
    let key = key.to_str().expect("utf-8");
    assert!(
        banner
            .iter()
            .any(|l| l.contains("tokens:") && l.contains("required")),
        "{banner:#?}"
    );
    assert!(
        banner
            .iter()
            .any(|l| l.contains("key file:") && l.ends_with(key)),
        "{banner:#?}"
    );
    let flags = banner.last().expect("a line")["use it with: vertex-batch ".len()..]
        .trim_end_matches(" ...")
        .to_owned();
    let args: Vec<&str> = flags.split(' ').collect();
    assert!(
        args.windows(2).any(|w| w == ["--credentials", key]),
        "{flags}"
    );
    let listed = bare().args(&args).arg("list").output().expect("runs");
    child.kill().expect("the emulator stops");
    child.wait().expect("reaped");
    let _ = std::fs::remove_dir_all(&dir);
    ok(listed);
}

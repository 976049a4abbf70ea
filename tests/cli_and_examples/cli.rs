//! The `vertex-batch` binary end to end, against one emulator shared by the tests: TLS with the
//! emulator's CA (`--ca-cert`), a service-account key whose token endpoint is the emulator's
//! (`--credentials`), real time with jobs pending 1 s and running 2 s.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use vertex_batch::JobClient;
use vertex_batch::auth::Credentials;
use vertex_batch::emulator::Emulator;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::v1::batch_prediction_job::input_config::Source;
use vertex_batch::v1::batch_prediction_job::output_config::Destination;
use vertex_batch::v1::{BatchPredictionJob, JobState};

const PROJECT: &str = "test-project";

/// The shared emulator's endpoint and the files the CLI needs to reach it.
struct Shared {
    uri: String,
    ca_pem: String,
    key_json: String,
    ca_path: PathBuf,
    key_path: PathBuf,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        // The emulator lives on its own runtime for the whole test run.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("a runtime");
            runtime.block_on(async move {
                let emulator = Emulator::builder()
                    .with_tls(true)
                    .with_require_auth(true)
                    .with_durations(Duration::from_secs(1), Duration::from_secs(2))
                    .start()
                    .await
                    .expect("the emulator starts");
                let key = emulator.service_account_key();
                let ca = emulator.ca_pem().expect("a CA");
                sender.send((emulator.uri(), ca, key.json)).expect("sent");
                std::future::pending::<()>().await;
            });
        });
        let (uri, ca_pem, key_json) = receiver.recv().expect("the emulator started");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder for the key");
        let (ca_path, key_path) = (dir.join("ca.pem"), dir.join("key.json"));
        std::fs::write(&ca_path, &ca_pem).expect("CA written");
        std::fs::write(&key_path, &key_json).expect("key written");
        Shared {
            uri,
            ca_pem,
            key_json,
            ca_path,
            key_path,
        }
    })
}

/// The binary, with no Google settings from the environment.
pub(crate) fn bare() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vertex-batch"));
    for var in [
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION",
        "GOOGLE_CLOUD_QUOTA_PROJECT",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "RUST_LOG",
    ] {
        command.env_remove(var);
    }
    command
}

/// The binary pointed at the shared emulator.
fn vb(args: &[&str]) -> Output {
    vb_with_stdin(args, None)
}

/// The binary pointed at the shared emulator, not yet started.
fn vb_command(args: &[&str]) -> Command {
    let emu = shared();
    let mut command = bare();
    command
        .arg("--endpoint")
        .arg(&emu.uri)
        .arg("--ca-cert")
        .arg(&emu.ca_path)
        .arg("--credentials")
        .arg(&emu.key_path)
        .args(["--project", PROJECT])
        .args(args);
    command
}

fn vb_with_stdin(args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = vb_command(args);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the binary starts");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        // The binary may stop reading before the end (a body past its limit).
        match input.write_all(text.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            written => written.expect("stdin written"),
        }
    }
    drop(input);
    child.wait_with_output().expect("the binary ends")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts success and returns stdout.
fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// Asserts the one-line error the tool promises, with `code`; returns the line.
fn one_line_error(output: Output, code: i32) -> String {
    assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err:?}");
    assert!(lines[0].starts_with("error: "), "{err}");
    lines[0].to_owned()
}

fn job_from_stdout(output: Output) -> BatchPredictionJob {
    vertex_batch::json::job_from_json(&ok(output)).expect("--json prints a job")
}

const INPUT: &str = "gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl";

/// Submits a job with `extra` arguments; the created job, read from `--json`.
fn submit(display_name: &str, extra: &[&str]) -> BatchPredictionJob {
    let mut args = vec![
        "submit",
        "gemini-2.0-flash-001",
        "--input",
        INPUT,
        "--output",
        "gs://my-bucket/out",
        "--display-name",
        display_name,
        "--json",
    ];
    args.extend_from_slice(extra);
    job_from_stdout(vb(&args))
}

/// Polls fast: jobs here last 3 s.
const FAST: [&str; 2] = ["--interval", "0.1"];

#[test]
fn submit_wait_get_list_delete() {
    let job = submit(
        "cli-lifecycle",
        &[
            "--temperature",
            "0.2",
            "--max-output-tokens",
            "200",
            "--label",
            "team=ml",
        ],
    );
    assert_eq!(job.model, "publishers/google/models/gemini-2.0-flash-001");
    assert_eq!(job.labels.get("team").map(String::as_str), Some("ml"));
    let params =
        vertex_batch::params::value_to_json(job.model_parameters.as_ref().expect("parameters"))
            .expect("JSON parameters");
    assert_eq!(params["temperature"], 0.2);
    assert_eq!(params["maxOutputTokens"], 200);

    let waited = ok(vb(&[&["wait", &job.name][..], &FAST].concat()));
    assert!(waited.contains("state:        SUCCEEDED"), "{waited}");
    assert!(
        waited.contains("results:      gs://my-bucket/out/prediction-model-"),
        "{waited}"
    );

    let got = job_from_stdout(vb(&["get", &job.name, "--json"]));
    assert_eq!(got.state(), JobState::Succeeded);
    assert_eq!(got.name, job.name);

    let id = job.job_name().expect("a job name").job_id().to_owned();
    let table = ok(vb(&["list", "--filter", "display_name=\"cli-lifecycle\""]));
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{table}");
    assert!(rows[0].starts_with(&id), "{table}");
    assert!(
        rows[0].contains("SUCCEEDED") && rows[0].contains("100/100"),
        "{table}"
    );
    assert!(rows[0].ends_with("cli-lifecycle"), "{table}");

    let deleted = ok(vb(&["delete", &id]));
    assert_eq!(deleted.trim(), format!("deleted {}", job.name));
    let gone = one_line_error(vb(&["get", &job.name]), 1);
    assert!(
        gone.contains("NotFound") || gone.contains("does not exist"),
        "{gone}"
    );
}

#[test]
fn cancel_then_wait_exits_4() {
    let job = submit("cli-cancel", &[]);
    let said = ok(vb(&["cancel", &job.name]));
    assert!(
        said.starts_with(&format!("cancel requested for {}", job.name)),
        "{said}"
    );
    let waited = vb(&[&["wait", &job.name, "--json"][..], &FAST].concat());
    assert_eq!(waited.status.code(), Some(4), "{}", stderr(&waited));
    let job = vertex_batch::json::job_from_json(&stdout(&waited)).expect("a job");
    assert_eq!(job.state(), JobState::Cancelled);
}

#[test]
fn the_exit_code_of_a_wait_says_how_the_job_ended() {
    for (outcome, code, state) in [
        ("succeeded", 0, JobState::Succeeded),
        ("failed", 3, JobState::Failed),
        ("expired", 5, JobState::Expired),
        ("partially-succeeded", 6, JobState::PartiallySucceeded),
    ] {
        let label = format!("emulator-outcome={outcome}");
        let output = vb(&[
            "submit",
            "gemini-2.0-flash-001",
            "--input",
            INPUT,
            "--output",
            "gs://my-bucket/out",
            "--label",
            &label,
            "--wait",
            "--interval",
            "0.1",
            "--json",
        ]);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{outcome}: {}",
            stderr(&output)
        );
        let job = vertex_batch::json::job_from_json(&stdout(&output)).expect("a job");
        assert_eq!(job.state(), state);
    }
}

#[test]
fn a_wait_that_times_out_exits_7_and_the_job_goes_on() {
    let job = submit("cli-timeout", &[]);
    // The job pends 1 s and runs 2 s: a 0.2 s wait cannot see it end.
    let output = vb(&["wait", &job.name, "--interval", "0.1", "--timeout", "0.2"]);
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    // Without a terminal, state changes are lines on stderr; the error is the last line.
    let err = stderr(&output);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(err.lines().last() == Some(errors[0]), "{err}");
    assert!(errors[0].contains("gave up waiting"), "{err}");
    ok(vb(&[&["wait", &job.name][..], &FAST].concat()));
}

/// The REST request bodies of the docs, verbatim, with their placeholders.
const DOCS_SYNTAX_BODY: &str = r#"{
      "displayName": "...",
      "model": "publishers/google/models/${MODEL_ID}",
      "inputConfig": {
        "instancesFormat": "bigquery",
        "bigquerySource": {
          "inputUri" : "..."
        }
      },
      "outputConfig": {
        "predictionsFormat": "bigquery",
        "bigqueryDestination": {
          "outputUri": "..."
        }
      }
  }"#;

const DOCS_GCS_BODY: &str = r#"{
  "displayName": "my-cloud-storage-batch-prediction-job",
  "model": "publishers/google/models/gemini-1.5-flash-002",
  "inputConfig": {
    "instancesFormat": "jsonl",
    "gcsSource": {
      "uris" : "INPUT_URI"
    }
  },
  "outputConfig": {
    "predictionsFormat": "OUTPUT_FORMAT",
    "DESTINATION": {
      "OUTPUT_URI_FIELD_NAME": "OUTPUT_URI"
    }
  }
}"#;

const DOCS_BIGQUERY_BODY: &str = r#"{
  "displayName": "my-bigquery-batch-prediction-job",
  "model": "publishers/google/models/gemini-1.5-flash-002",
  "inputConfig": {
    "instancesFormat": "bigquery",
    "bigquerySource":{
      "inputUri" : "INPUT_URI"
    }
  },
  "outputConfig": {
    "predictionsFormat": "OUTPUT_FORMAT",
    "DESTINATION": {
      "OUTPUT_URI_FIELD_NAME": "OUTPUT_URI"
    }
  }
}"#;

/// The docs' replacements for a Cloud Storage or a BigQuery output.
fn fill(body: &str, input: &str, bigquery_output: bool) -> String {
    let (format, destination, field, uri) = if bigquery_output {
        (
            "bigquery",
            "bigqueryDestination",
            "outputUri",
            "bq://my-project.mydataset.output_result",
        )
    } else {
        (
            "jsonl",
            "gcsDestination",
            "outputUriPrefix",
            "gs://my-bucket/path/to/output",
        )
    };
    body.replace("INPUT_URI", input)
        .replace("OUTPUT_FORMAT", format)
        .replace("DESTINATION", destination)
        .replace("OUTPUT_URI_FIELD_NAME", field)
        .replace("OUTPUT_URI", uri)
}

fn input_uris(job: &BatchPredictionJob) -> Vec<String> {
    match job.input_config.as_ref().and_then(|c| c.source.as_ref()) {
        Some(Source::GcsSource(gcs)) => gcs.uris.clone(),
        Some(Source::BigquerySource(bq)) => vec![bq.input_uri.clone()],
        _ => vec![],
    }
}

fn output_uri(job: &BatchPredictionJob) -> String {
    match job
        .output_config
        .as_ref()
        .and_then(|c| c.destination.as_ref())
    {
        Some(Destination::GcsDestination(gcs)) => gcs.output_uri_prefix.clone(),
        Some(Destination::BigqueryDestination(bq)) => bq.output_uri.clone(),
        _ => String::new(),
    }
}

#[test]
fn create_accepts_every_rest_body_of_the_docs() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let syntax = DOCS_SYNTAX_BODY
        .replace("${MODEL_ID}", "gemini-2.0-flash-001")
        .replacen("\"...\"", "\"docs-syntax\"", 1)
        .replacen("\"...\"", "\"bq://my-project.mydataset.input_table\"", 1)
        .replacen("\"...\"", "\"bq://my-project.mydataset.output_result\"", 1);
    let gcs_input = "gs://my-bucket/path/to/file.jsonl";
    let bq_input = "bq://my-project.mydataset.input_table";
    let bodies = [
        ("syntax", syntax),
        ("gcs-to-gcs", fill(DOCS_GCS_BODY, gcs_input, false)),
        ("gcs-to-bq", fill(DOCS_GCS_BODY, gcs_input, true)),
        ("bq-to-bq", fill(DOCS_BIGQUERY_BODY, bq_input, true)),
        ("bq-to-gcs", fill(DOCS_BIGQUERY_BODY, bq_input, false)),
    ];
    for (name, body) in bodies {
        let request: serde_json::Value = serde_json::from_str(&body).expect("the body is JSON");
        let path = dir.join(format!("request-{name}-{}.json", std::process::id()));
        std::fs::write(&path, &body).expect("written");
        let from_file = job_from_stdout(vb(&[
            "create",
            "--request",
            path.to_str().expect("utf-8"),
            "--json",
        ]));
        let from_stdin = job_from_stdout(vb_with_stdin(
            &["create", "--request", "-", "--json"],
            Some(&body),
        ));
        for job in [&from_file, &from_stdin] {
            assert!(job.name.contains("/batchPredictionJobs/"), "{name}");
            assert_eq!(
                job.display_name,
                request["displayName"].as_str().expect("a name"),
                "{name}"
            );
            assert_eq!(
                job.model,
                request["model"].as_str().expect("a model"),
                "{name}"
            );
            let input = &request["inputConfig"];
            let expected_input = input["gcsSource"]["uris"]
                .as_str()
                .or(input["bigquerySource"]["inputUri"].as_str())
                .expect("an input");
            assert_eq!(input_uris(job), [expected_input], "{name}");
            let output = &request["outputConfig"];
            let expected_output = output["gcsDestination"]["outputUriPrefix"]
                .as_str()
                .or(output["bigqueryDestination"]["outputUri"].as_str())
                .expect("an output");
            assert_eq!(output_uri(job), expected_output, "{name}");
        }
        assert_ne!(from_file.name, from_stdin.name, "two requests, two jobs");
    }
}

#[test]
fn a_bad_request_body_is_a_one_line_error_naming_it() {
    let line = one_line_error(
        vb_with_stdin(
            &["create", "--request", "-"],
            Some(r#"{"displayName": "x", "modle": "m"}"#),
        ),
        1,
    );
    assert!(
        line.contains("--request") && line.contains("modle"),
        "{line}"
    );
    let line = one_line_error(vb(&["create", "--request", "/nonexistent/request.json"]), 1);
    assert!(line.contains("/nonexistent/request.json"), "{line}");
}

#[test]
fn json_output_reads_back_into_the_same_job() {
    let job = submit(
        "cli-json",
        &["--param", "seed=42", "--param", "stopSequences=[\"END\"]"],
    );
    ok(vb(&[&["wait", &job.name][..], &FAST].concat()));
    let printed = job_from_stdout(vb(&["get", &job.name, "--json"]));

    let emu = shared();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let direct = runtime.block_on(async {
        let client = JobClient::builder()
            .with_project(PROJECT)
            .with_endpoint(
                Endpoint::custom(&emu.uri)
                    .expect("the URI")
                    .with_ca_pem(emu.ca_pem.clone()),
            )
            .with_credentials(Credentials::service_account_json(emu.key_json.clone()))
            .connect()
            .await
            .expect("connects");
        client.get(&job.name).await.expect("the job")
    });
    assert_eq!(printed, direct);
    let params =
        vertex_batch::params::value_to_json(printed.model_parameters.as_ref().expect("parameters"))
            .expect("JSON parameters");
    assert_eq!(params["seed"], 42);
    assert_eq!(params["stopSequences"], serde_json::json!(["END"]));

    // list --json is the REST response's shape.
    let listed = ok(vb(&[
        "list",
        "--filter",
        "display_name=\"cli-json\"",
        "--json",
    ]));
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("JSON");
    let jobs = listed["batchPredictionJobs"].as_array().expect("a list");
    assert_eq!(jobs.len(), 1);
    let from_list = vertex_batch::json::job_from_json_value(jobs[0].clone()).expect("a job");
    assert_eq!(from_list, direct);
}

#[test]
fn list_filters_by_state_and_limits() {
    let first = submit("cli-list", &[]);
    let second = submit("cli-list", &[]);
    let all = ok(vb(&["list", "--filter", "display_name=\"cli-list\""]));
    assert_eq!(all.lines().count(), 3, "{all}");
    let one = ok(vb(&[
        "list",
        "--filter",
        "display_name=\"cli-list\"",
        "--limit",
        "1",
    ]));
    assert_eq!(one.lines().count(), 2, "{one}");
    let cancelled = vb(&["cancel", &first.name, "--wait", "--interval", "0.1"]);
    assert_eq!(cancelled.status.code(), Some(4), "{}", stderr(&cancelled));
    let cancelled = ok(vb(&[
        "list",
        "--filter",
        "display_name=\"cli-list\"",
        "--state",
        "cancelled",
    ]));
    let rows: Vec<&str> = cancelled.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{cancelled}");
    let first_id = first.job_name().expect("a name").job_id().to_owned();
    assert!(rows[0].starts_with(&first_id), "{cancelled}");
    assert!(!cancelled.contains(second.job_name().expect("a name").job_id()));
}

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

#[test]
fn a_bad_state_lists_the_valid_states() {
    let line = one_line_error(
        bare()
            .args(["--project", PROJECT, "list", "--state", "sleeping"])
            .output()
            .expect("runs"),
        2,
    );
    assert!(line.contains("--state"), "{line}");
    assert!(
        line.contains("pending, running, succeeded, failed"),
        "{line}"
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
    ok(vb(&[&["wait", &ended.name][..], &FAST].concat()));
    // Pending for a second: cancelled first, before it can end.
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
    for args in commands {
        // `results` reads local files: the emulator's flags are no use to it.
        let mut command = match args[0] {
            "results" => bare(),
            _ => vb_command(&[]),
        };
        let output = command
            .args(args)
            .stdout(closed_stdout())
            .output()
            .expect("runs");
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("error") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
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
            line.contains("invalid endpoint") && line.contains("1 to 65535"),
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

#[test]
fn list_filters_on_create_time_and_model_display_name() {
    let job = submit("cli-created", &[]);
    let created = job.create_time.expect("a create time").to_string();
    for (filter, listed) in [
        (
            format!("create_time>=\"{created}\" AND display_name=\"cli-created\""),
            true,
        ),
        (
            format!("create_time>\"{created}\" AND display_name=\"cli-created\""),
            false,
        ),
        (
            "create_time>\"2000-01-01T00:00:00Z\" AND display_name=\"cli-created\"".to_owned(),
            true,
        ),
        (
            "model_display_name=\"gemini-2.0-flash-001\" AND display_name=\"cli-created\""
                .to_owned(),
            true,
        ),
    ] {
        let table = ok(vb(&["list", "--filter", &filter]));
        assert_eq!(table.lines().count() == 2, listed, "{filter}: {table}");
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

/// `-v` shows each call with its outcome and duration, and each poll of a wait with what it
/// found; never a token or a key.
#[test]
fn verbose_shows_each_call_and_each_poll() {
    let job = submit("cli-verbose", &[]);
    let output = vb(&[&["-v", "wait", &job.name][..], &FAST].concat());
    let err = stderr(&output);
    ok(output);
    let calls: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(" call ") && l.contains("method=\"GetBatchPredictionJob\""))
        .collect();
    let polls: Vec<&str> = err.lines().filter(|l| l.contains(" poll ")).collect();
    assert!(calls.len() >= 2, "{err}");
    assert_eq!(calls.len(), polls.len(), "one call per poll: {err}");
    for call in &calls {
        assert!(
            call.contains("code=Ok") && call.contains("duration_ms=") && call.contains(&job.name),
            "{call}"
        );
    }
    for (n, poll) in polls.iter().enumerate() {
        assert!(poll.contains(&format!("poll={}", n + 1)), "{poll}");
        assert!(poll.contains("answer="), "{poll}");
    }
    assert!(
        polls.last().expect("a poll").contains("answer=SUCCEEDED"),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "no colours off a terminal: {err}");
    for secret in ["Bearer", "authorization", "private_key", "ya29"] {
        assert!(!err.contains(secret), "{secret}: {err}");
    }
    // A refused call says its code.
    let refused = stderr(&vb(&["-v", "get", "999"]));
    assert!(
        refused.contains("method=\"GetBatchPredictionJob\"") && refused.contains("code=NotFound"),
        "{refused}"
    );
}

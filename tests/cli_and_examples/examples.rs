//! Every example runs to completion with `--emulator`: the embedded emulator over TLS, the
//! service-account token flow, real gRPC on loopback. An example is a program of its own on the
//! real clock, so what is checked is its outcome (the states it saw in order, the jobs it
//! listed), never what it saw within a given time.
//!
//! The examples are separate programs, so they are run as such: the test asks cargo to build
//! them (a no-op after `cargo test --all-features`, which builds them anyway) into the target
//! directory this test binary lives in, then runs each and reads what it printed.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The directory of the example binaries, built once per test run.
fn examples_dir() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        // This binary is target/<profile>/deps/cli_and_examples-<hash>.
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("the test binary is in target/<profile>/deps");
        let target_dir = profile_dir.parent().expect("target/<profile> has a parent");
        let mut build = Command::new(env!("CARGO"));
        build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--examples", "--all-features"])
            .env("CARGO_TARGET_DIR", target_dir);
        // `cargo test` sets the package's variables for this process (CARGO_MANIFEST_DIR,
        // CARGO_PKG_NAME, ...). Some build scripts (ring's) rerun when those change, so cargo
        // gets the environment it was started with: else this build and the next `cargo test`
        // or `cargo clippy` would each rebuild ring and everything above it, every run.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if set_by_cargo_for_tests(&name) {
                build.env_remove(&*name);
            }
        }
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "the examples build");
        profile_dir.join("examples")
    })
}

/// Whether cargo sets `name` for the crate's own tests (the variables "Cargo sets for crates").
fn set_by_cargo_for_tests(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_MANIFEST_")
        || matches!(
            name,
            "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "OUT_DIR"
        )
}

/// Runs an example with `--emulator`; its standard output.
fn run_example(name: &str) -> String {
    run_example_with(name, None)
}

/// Runs an example with `--emulator`, and `BIGQUERY_EMULATOR_HOST` when given; its standard
/// output.
fn run_example_with(name: &str, bigquery_host: Option<&str>) -> String {
    let mut command = Command::new(examples_dir().join(name));
    command
        .arg("--emulator")
        .env_remove("GOOGLE_CLOUD_PROJECT")
        .env_remove("GOOGLE_CLOUD_LOCATION")
        .env_remove("BIGQUERY_EMULATOR_HOST");
    if let Some(host) = bigquery_host {
        command.env("BIGQUERY_EMULATOR_HOST", host);
    }
    let output = command.output().expect("the example starts");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{name} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The lines of `stdout` that start with `prefix`, without it.
fn values<'a>(stdout: &'a str, prefix: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix(prefix))
        .collect()
}

#[test]
fn batch_predict_gcs_goes_from_pending_to_succeeded_and_names_the_output() {
    let out = run_example("batch_predict_gcs");
    assert_eq!(
        values(&out, "Model resource name with the job: "),
        ["publishers/google/models/gemini-2.0-flash-001"]
    );
    let states: Vec<&str> = values(&out, "Job state: ")
        .into_iter()
        .map(|s| s.split(' ').next().unwrap_or(s))
        .collect();
    // The states seen follow the job's life in order, ending SUCCEEDED; which of PENDING and
    // RUNNING a poll catches depends on how fast the machine is, not on the code.
    let life = ["PENDING", "RUNNING", "SUCCEEDED"];
    let mut at = 0;
    for state in &states {
        let found = life[at..].iter().position(|s| s == state);
        at += found.unwrap_or_else(|| panic!("{state} out of order: {out}")) + 1;
    }
    assert_eq!(states.last(), Some(&"SUCCEEDED"), "{out}");
    assert!(out.contains("Job succeeded!"), "{out}");
    let location = values(&out, "Job output location: ");
    assert_eq!(location.len(), 1, "{out}");
    assert!(
        location[0].starts_with("gs://my-bucket/gen-ai-batch-prediction/prediction-model-"),
        "{out}"
    );
}

#[test]
fn batch_predict_bigquery_writes_to_a_table() {
    let out = run_example("batch_predict_bigquery");
    assert!(out.contains("Job state: SUCCEEDED"), "{out}");
    assert!(out.contains("Job succeeded!"), "{out}");
    let location = values(&out, "Job output location: ");
    assert_eq!(location.len(), 1, "{out}");
    assert!(
        location[0].starts_with("bq://my-project.gen_ai_batch_prediction.predictions_"),
        "{out}"
    );
}

/// The BigQuery sample over bqemulator: its default input table (the documented one) is made
/// there first; the job leaves its output table, which reads back with an answer per prompt.
#[test]
fn batch_predict_bigquery_over_bqemulator_leaves_a_table_to_read_back() {
    let _turn = crate::support::bigquery::turn_blocking();
    use futures_util::TryStreamExt;
    use vertex_batch::auth::Credentials;
    use vertex_batch::bigquery::{BigQuery, Column, Row, TableUri};

    let bq = crate::support::bigquery::shared();
    let bigquery = BigQuery::builder()
        .with_endpoint(bq.endpoint())
        .with_credentials(Credentials::none())
        .build()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let input: TableUri = "bq://storage-samples.generative_ai.batch_requests_for_multimodal_input"
        .parse()
        .unwrap();
    runtime.block_on(async {
        bigquery
            .create_dataset("storage-samples", "generative_ai", "us-central1")
            .await
            .unwrap();
        bigquery
            .create_table(&input, &[Column::new("id", "INT64"), Column::new("request", "JSON")])
            .await
            .unwrap();
        let rows: Vec<Row> = (0..3)
            .map(|i| {
                let request = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": format!("sample {i}")}]}]});
                serde_json::from_value(serde_json::json!({"id": i, "request": request})).unwrap()
            })
            .collect();
        bigquery.insert_rows(&input, &rows).await.unwrap();
    });

    let out = run_example_with("batch_predict_bigquery", Some(&bq.host()));
    assert!(out.contains("Job state: SUCCEEDED"), "{out}");
    let location = values(&out, "Job output location: ");
    assert_eq!(location.len(), 1, "{out}");
    let output: TableUri = location[0].parse().unwrap();
    assert!(
        output
            .to_string()
            .starts_with("bq://my-project.gen_ai_batch_prediction.predictions_"),
        "{out}"
    );
    let rows: Vec<Row> = runtime
        .block_on(bigquery.rows(&output).try_collect())
        .unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let id = row["id"].as_i64().unwrap();
        assert_eq!(row["status"], "");
        assert_eq!(
            row["response"]
                .pointer("/candidates/0/content/parts/0/text")
                .and_then(serde_json::Value::as_str),
            Some(format!("echo: sample {id}").as_str())
        );
    }
}

#[test]
fn list_jobs_shows_the_jobs_in_a_table() {
    let out = run_example("list_jobs");
    let rows: Vec<&str> = out
        .lines()
        .skip_while(|line| !line.starts_with("JOB ID"))
        .skip(1)
        // In whatever state the time the machine took has brought them to.
        .filter(|line| line.ends_with("nightly-eval") || line.ends_with("weekly-report"))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows.iter().any(|r| r.ends_with("nightly-eval")), "{out}");
    assert!(rows.iter().any(|r| r.ends_with("weekly-report")), "{out}");
    assert!(
        out.contains("2 job(s) in projects/my-project/locations/us-central1"),
        "{out}"
    );
}

#[test]
fn cancel_job_ends_cancelled() {
    let out = run_example("cancel_job");
    assert_eq!(values(&out, "Cancel requested for ").len(), 1, "{out}");
    assert!(out.contains("Job ended CANCELLED"), "{out}");
}

#[test]
fn delete_job_leaves_nothing_behind() {
    let out = run_example("delete_job");
    assert!(out.contains("Job ended SUCCEEDED"), "{out}");
    let deleted = values(&out, "Deleted ");
    assert_eq!(deleted.len(), 1, "{out}");
    assert!(deleted[0].contains("/batchPredictionJobs/"), "{out}");
    assert!(out.contains("Get now answers NOT_FOUND"), "{out}");
}

#[test]
fn raw_stub_creates_gets_and_lists_on_the_authenticated_channel() {
    let out = run_example("raw_stub");
    let created = values(&out, "Created: ");
    assert_eq!(created.len(), 1, "{out}");
    assert!(
        out.contains(&format!("Got: {}", created[0])),
        "Get read back the created job: {out}"
    );
    assert!(out.contains("Listed 1 job(s)"), "{out}");
    assert!(out.contains(&format!("  {}  ", created[0])), "{out}");
}

#[test]
fn without_emulator_or_project_an_example_says_what_is_missing() {
    let output = Command::new(examples_dir().join("list_jobs"))
        .env_remove("GOOGLE_CLOUD_PROJECT")
        .output()
        .expect("the example starts");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--project"), "{stderr}");
    assert!(stderr.contains("--emulator"), "{stderr}");
}

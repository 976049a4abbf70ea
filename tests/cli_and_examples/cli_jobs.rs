//! The job commands end to end against the shared emulator (`cli.rs`): submit, wait, get,
//! list, cancel, delete, their exit codes and `--json`, `-v`. Jobs end when a test moves the
//! shared clock, never by the passing of real time.

use vertex_batch::JobClient;
use vertex_batch::auth::Credentials;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::v1::JobState;

use crate::cli::*;

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

    finish_jobs();
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

    // The delete operation is done once the clock moves.
    let deleted = ok(waited_through_the_clock(still(), &["delete", &id]));
    assert_eq!(deleted.trim(), format!("deleted {}", job.name));
    let gone = one_line_error(vb(&["get", &job.name]), 1);
    assert!(
        gone.contains("NotFound") || gone.contains("does not exist"),
        "{gone}"
    );
}

#[test]
fn cancel_then_wait_exits_4() {
    // The job must not end before it is cancelled.
    let still = still();
    let job = submit("cli-cancel", &[]);
    let said = ok(vb(&["cancel", &job.name]));
    assert!(
        said.starts_with(&format!("cancel requested for {}", job.name)),
        "{said}"
    );
    // Seen CANCELLING, then CANCELLED once the clock moves.
    let waited =
        waited_through_the_clock(still, &[&["wait", &job.name, "--json"][..], &FAST].concat());
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
        // `submit --wait` makes the job, polls it once, then the clock moves and it ends.
        let output = waited_through_the_clock(
            still(),
            &[
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
            ],
        );
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
    // The clock stands still: the job cannot end while it is waited for.
    let still = still();
    let job = submit("cli-timeout", &[]);
    let output = vb(&["wait", &job.name, "--interval", "0.1", "--timeout", "0.2"]);
    drop(still);
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    // Without a terminal, state changes are lines on stderr; the error is the last line.
    let err = stderr(&output);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(err.lines().last() == Some(errors[0]), "{err}");
    assert!(errors[0].contains("gave up waiting"), "{err}");
    finish_jobs();
    ok(vb(&[&["wait", &job.name][..], &FAST].concat()));
}

#[test]
fn json_output_reads_back_into_the_same_job() {
    let job = submit(
        "cli-json",
        &["--param", "seed=42", "--param", "stopSequences=[\"END\"]"],
    );
    finish_jobs();
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
    // The first job must not end before it is cancelled.
    let still = still();
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
    let cancelled = waited_through_the_clock(
        still,
        &["cancel", &first.name, "--wait", "--interval", "0.1"],
    );
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

/// `-v` shows each call with its outcome and duration, and each poll of a wait with what it
/// found; never a token or a key.
#[test]
fn verbose_shows_each_call_and_each_poll() {
    // Polled while pending, then once the clock has moved, as it ended.
    let still = still();
    let job = submit("cli-verbose", &[]);
    let output = waited_through_the_clock(still, &[&["wait", &job.name][..], &FAST].concat());
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

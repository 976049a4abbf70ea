//! Batch runs against the emulator on loopback, with real uploads and downloads through its
//! Cloud Storage: sharding, row faults and an expiring job, the join in input order, resume,
//! and bad input refused before any job exists.

#[path = "../support/mod.rs"]
mod support;

mod isolate;
mod join;
mod lasting;
mod soak;

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use support::client::*;
use vertex_batch::Result;
use vertex_batch::run::{BatchRun, InputFormat, InputLines, RowResult, RunRequest, RunSummary};
use vertex_batch::storage::Storage;

fn prompts(n: usize) -> Vec<Result<RunRequest>> {
    (0..n)
        .map(|i| Ok(RunRequest::text(&format!("prompt number {i}")).with_key(format!("key-{i}"))))
        .collect()
}

async fn run_all(
    run: BatchRun,
    requests: Vec<Result<RunRequest>>,
) -> Result<(RunSummary, Vec<RowResult>)> {
    let results = run.run(futures_util::stream::iter(requests)).await?;
    let summary = results.summary().clone();
    let rows: Vec<RowResult> = results.try_collect().await?;
    Ok((summary, rows))
}

/// A result as comparable text: key, then the answer's text or the error.
fn outcome(row: &RowResult) -> String {
    match &row.outcome {
        Ok(answer) => format!("{} ok {}", row.key, answer.text.as_deref().unwrap_or("")),
        Err(error) => format!("{} failed {} {}", row.key, error.code, error.message),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_prompts_come_back_in_input_order_through_row_faults_and_an_expired_job() {
    let (emu, client, storage) = start_with_storage(|b| {
        b.with_row_failure_rate(0.05)
            .with_row_permanent_failure_rate(0.01)
            .with_expire_after_rows(2_000)
            .with_seed(11)
    })
    .await;
    let run = BatchRun::new(
        client,
        storage,
        "gemini-2.0-flash-001",
        "gs://runs/ten-k".parse().unwrap(),
    )
    .with_max_requests_per_job(4_000);
    let (summary, rows) = run_all(run, prompts(10_000)).await.unwrap();

    assert_eq!(rows.len(), 10_000, "one result per prompt");
    let mut permanent = 0;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.key, format!("key-{i}"), "input order");
        assert_eq!(row.row, i as u64);
        match &row.outcome {
            Ok(answer) => {
                assert_eq!(
                    answer.text.as_deref(),
                    Some(format!("echo: prompt number {i}").as_str())
                );
                let response: serde_json::Value =
                    serde_json::from_str(answer.response.get()).unwrap();
                assert!(
                    response["usageMetadata"]["totalTokenCount"]
                        .as_u64()
                        .unwrap()
                        > 0
                );
            }
            Err(error) if error.code == 400 => {
                assert_eq!(error.message, "Request contains an invalid argument.");
                assert!(!error.transient);
                permanent += 1;
            }
            Err(error) => {
                // A row can fail with 429 in all three rounds (about 1 in 8,000); nothing else.
                assert_eq!((error.code, error.transient), (429, true), "{error:?}");
            }
        }
    }
    assert_eq!(summary.rows, 10_000);
    assert_eq!(summary.answered + summary.failed, 10_000);
    assert_eq!(
        summary.failed_by_code.get(&400).copied().unwrap_or(0),
        permanent
    );
    assert!(
        (50..200).contains(&permanent),
        "about 1% fail for good: {permanent}"
    );
    assert!(summary.answered > 9_700, "{summary:?}");
    assert!(summary.rounds >= 2 && summary.rounds <= 3, "{summary:?}");
    // Round 0: 3 jobs, the first expiring after 2,000 of its 4,000 rows.
    assert!(summary.missing_rows >= 2_000, "{summary:?}");
    assert_eq!(
        (
            summary.repeated_lines,
            summary.unexpected_lines,
            summary.unreadable_lines
        ),
        (0, 0, 0)
    );
    assert_eq!(
        summary.jobs,
        emu.job_count() as u64,
        "one job per shard and round"
    );
    assert!(
        summary.usage.total_token_count > 0
            && summary.usage.prompt_token_count > 0
            && summary.usage.candidates_token_count > 0
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_started_again_resumes_without_new_jobs_and_gives_the_same_results() {
    let (emu, client, storage) = start_with_storage(|b| {
        b.with_row_failure_rate(0.1)
            .with_row_permanent_failure_rate(0.02)
            .with_seed(3)
    })
    .await;
    let staging: vertex_batch::storage::ObjectUri = "gs://runs/again".parse().unwrap();
    let first = BatchRun::new(
        client.clone(),
        storage.clone(),
        "gemini-2.0-flash-001",
        staging.clone(),
    )
    .with_max_requests_per_job(300);
    let (summary, rows) = run_all(first, prompts(1_000)).await.unwrap();
    let jobs = emu.job_count();
    assert_eq!(summary.jobs, jobs as u64);
    let uploads = emu
        .storage_requests()
        .iter()
        .filter(|r| r.contains("/input/"))
        .count();

    let again = BatchRun::new(client, storage, "gemini-2.0-flash-001", staging)
        .with_max_requests_per_job(300);
    let (summary_again, rows_again) = run_all(again, prompts(1_000)).await.unwrap();
    assert_eq!(emu.job_count(), jobs, "no job made twice");
    assert_eq!(
        emu.storage_requests()
            .iter()
            .filter(|r| r.contains("/input/"))
            .count(),
        uploads,
        "nothing staged twice"
    );
    assert_eq!(
        rows.iter().map(outcome).collect::<Vec<_>>(),
        rows_again.iter().map(outcome).collect::<Vec<_>>()
    );
    assert_eq!(summary.failed_by_code, summary_again.failed_by_code);
    assert_eq!(summary.usage, summary_again.usage);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staging_prefix_holding_another_input_is_refused_before_any_job() {
    let (emu, client, storage) = start_with_storage(|b| b).await;
    let staging: vertex_batch::storage::ObjectUri = "gs://runs/other".parse().unwrap();
    let run = BatchRun::new(
        client.clone(),
        storage.clone(),
        "gemini-2.0-flash-001",
        staging.clone(),
    );
    run_all(run, prompts(10)).await.unwrap();
    let jobs = emu.job_count();
    let run = BatchRun::new(client, storage, "gemini-2.0-flash-001", staging);
    let err = run_all(run, prompts(11)).await.unwrap_err();
    assert!(err.is_invalid_input());
    assert!(
        err.to_string().contains("holds a run with another input"),
        "{err}"
    );
    assert_eq!(emu.job_count(), jobs);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_any_job_naming_the_line_or_setting() {
    let (emu, client, storage) = start_with_storage(|b| b).await;
    let run = |input: &str| {
        let requests: Vec<_> =
            InputLines::new(input.as_bytes().to_vec().as_slice(), InputFormat::Jsonl).collect();
        let run = BatchRun::new(
            client.clone(),
            storage.clone(),
            "gemini-2.0-flash-001",
            "gs://runs/bad".parse().unwrap(),
        );
        async move { run_all(run, requests).await.unwrap_err().to_string() }
    };
    let good =
        r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, "key": "a"}"#;
    let not_json = format!("{good}\n{{\"request\": oops}}\n");
    assert!(
        run(&not_json)
            .await
            .starts_with("invalid input line 2: not JSON")
    );
    let duplicate = format!("{good}\n\n{good}\n");
    let err = run(&duplicate).await;
    assert!(
        err.starts_with(
            "invalid input line 3: the key \"a\" is also the key of the request at position 1"
        ),
        "{err}"
    );
    let reserved = r#"{"request": {"labels": {"vertex_batch_row": "x"}, "contents": []}}"#;
    assert!(run(reserved).await.contains("keeps for its row ids"));
    assert!(run("\n\n").await.contains("holds no requests"));

    let settings = BatchRun::new(
        client.clone(),
        storage.clone(),
        "gemini-2.0-flash-001",
        "gs://runs/bad".parse().unwrap(),
    )
    .with_max_requests_per_job(0);
    let err = run_all(settings, prompts(1)).await.unwrap_err().to_string();
    assert!(err.starts_with("invalid max_requests_per_job"), "{err}");
    let model = BatchRun::new(
        client.clone(),
        storage.clone(),
        "bad model",
        "gs://runs/bad".parse().unwrap(),
    );
    let err = run_all(model, prompts(1)).await.unwrap_err().to_string();
    assert!(err.contains("model"), "{err}");
    // Past the service's limits, a model it cannot find, an output prefix it refuses: refused
    // before anything is uploaded.
    let base = |model: &str, staging: &str| {
        BatchRun::new(
            client.clone(),
            storage.clone(),
            model,
            staging.parse().unwrap(),
        )
    };
    for (run, expected) in [
        (
            base("gemini-2.0-flash-001", "gs://limits/run").with_max_requests_per_job(200_001),
            "invalid max_requests_per_job: 200001: the service takes at most 200,000",
        ),
        (
            base("gemini-2.0-flash-001", "gs://limits/run").with_max_bytes_per_file(u64::MAX),
            "invalid max_bytes_per_file: 18446744073709551615: the service reads input files of at most 1 GB",
        ),
        (
            base("GEMINI-2.0-FLASH", "gs://limits/run"),
            "upper-case letters",
        ),
        (
            base("gemini-2.0-flash-001", "gs://limits/a b"),
            "an output prefix has no white space",
        ),
    ] {
        let err = run_all(run, prompts(1)).await.unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
    // A request's labels: the service's rules, and room for the run's own.
    let labels: Vec<String> = (0..64).map(|i| format!(r#""k{i}": "v""#)).collect();
    let full = format!(
        r#"{{"request": {{"labels": {{{}}}, "contents": []}}}}"#,
        labels.join(", ")
    );
    let err = run(&format!("{good}\n{full}\n")).await;
    assert!(err.starts_with("invalid input line 2"), "{err}");
    assert!(err.contains("that makes 65"), "{err}");
    let bad_key = r#"{"request": {"labels": {"Team": "ml"}, "contents": []}}"#;
    assert!(run(bad_key).await.contains("lower-case letter"));
    // Nothing was ever written to the bucket of the bad settings: it does not exist.
    let uploaded: Result<Vec<_>> = storage
        .list(&"gs://limits/".parse().unwrap())
        .try_collect()
        .await;
    let err = uploaded.expect_err("no bucket").to_string();
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(emu.job_count(), 0, "no job for bad input");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_bigger_than_a_file_go_into_several_files_of_one_job() {
    let (emu, client, storage) = start_with_storage(|b| b).await;
    let run = BatchRun::new(
        client,
        storage,
        "gemini-2.0-flash-001",
        "gs://runs/files".parse().unwrap(),
    )
    .with_max_requests_per_job(100)
    .with_max_bytes_per_file(4_096)
    .with_max_running_jobs(1);
    let (summary, rows) = run_all(run, prompts(250)).await.unwrap();
    assert_eq!(summary.jobs, 3);
    assert_eq!(summary.answered, 250);
    assert!(
        rows.iter()
            .enumerate()
            .all(|(i, r)| r.key == format!("key-{i}"))
    );
    let inputs: Vec<String> = emu
        .storage_requests()
        .into_iter()
        .filter(|r| r.starts_with("POST") && r.contains("/input/"))
        .collect();
    let files = emu
        .storage_requests()
        .iter()
        .filter(|r| r.starts_with("POST") && r.contains("uploadType=resumable"))
        .count();
    assert!(
        files > 3,
        "several files per job: {files} uploads, {inputs:?}"
    );
    emu.shutdown().await;
}

/// A file's upload ends in the background while the next file fills: when Cloud Storage
/// starts refusing every request half way through staging, the upload that fails (the one
/// ending or the one filling) fails the run with Cloud Storage's error before any job, and the
/// run started again stages, and answers every row once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_failing_while_the_next_file_fills_fails_the_run_which_resumes() {
    let (emu, client, storage) = start_with_storage(|b| b).await;
    let emu = std::sync::Arc::new(emu);
    let run = |storage: Storage| {
        BatchRun::new(
            client.clone(),
            storage,
            "gemini-2.0-flash-001",
            "gs://runs/closing".parse().unwrap(),
        )
        .with_max_requests_per_job(10_000)
        .with_max_bytes_per_file(64 * 1024)
    };
    let no_retries = Storage::builder()
        .with_endpoint(emu.storage_uri())
        .with_tokens_of(client.channel())
        .with_retry_policy(vertex_batch::RetryPolicy::none())
        .build()
        .unwrap();
    // The first report of staged rows (at 10,000 rows, after many files) turns the faults on.
    let faults = emu.clone();
    let failing = run(no_retries).with_progress(move |p| {
        if p.staged_rows > 0 {
            faults.set_storage_fault_rates(1.0, 0.0).unwrap();
        }
    });
    let err = run_all(failing, prompts(20_000)).await.unwrap_err();
    assert!(
        matches!(err, vertex_batch::Error::Storage { .. }),
        "Cloud Storage's refusal: {err}"
    );
    assert_eq!(emu.job_count(), 0, "no job before every file is staged");

    emu.set_storage_fault_rates(0.0, 0.0).unwrap();
    let (summary, rows) = run_all(run(storage), prompts(20_000)).await.unwrap();
    assert_eq!(summary.jobs, 2);
    // Each file under a name of its own: one file written over another loses its rows.
    assert_eq!(
        (
            summary.answered,
            summary.missing_rows,
            summary.repeated_lines
        ),
        (20_000, 0, 0)
    );
    assert!(
        rows.iter()
            .enumerate()
            .all(|(i, r)| r.key == format!("key-{i}") && r.outcome.is_ok())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_reports_rows_and_jobs_and_no_more_jobs_run_than_allowed() {
    // A manual clock: jobs end only when the progress callback moves time on, after it has
    // seen them running.
    let (emu, client, storage) = start_with_storage(|b| {
        b.with_manual_clock(true)
            .with_durations(Duration::from_secs(1), Duration::from_secs(1))
            .with_row_failure_rate(0.2)
            .with_seed(5)
    })
    .await;
    let emu = std::sync::Arc::new(emu);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (log, clock) = (seen.clone(), emu.clone());
    let run = BatchRun::new(
        client,
        storage,
        "gemini-2.0-flash-001",
        "gs://runs/progress".parse().unwrap(),
    )
    .with_max_requests_per_job(50)
    .with_max_running_jobs(2)
    .with_progress(move |p| {
        log.lock().unwrap().push(p.clone());
        let running = p
            .jobs
            .iter()
            .filter(|(state, _)| !state.has_ended())
            .map(|(_, n)| n)
            .sum::<u64>();
        if running > 0 {
            clock.advance(Duration::from_secs(3600));
        }
    });
    let (summary, _) = run_all(run, prompts(200)).await.unwrap();
    let seen: Vec<_> = std::mem::take(&mut *seen.lock().unwrap());
    let last = seen.last().unwrap();
    assert_eq!(last.phase, vertex_batch::run::RunPhase::Done);
    assert_eq!(
        (last.rows, last.answered, last.failed),
        (200, summary.answered, summary.failed)
    );
    assert!(
        seen.iter().any(|p| p.round == 1),
        "a follow-up round is reported"
    );
    for p in seen.iter() {
        let running: u64 = p
            .jobs
            .iter()
            .filter(|(state, _)| !state.has_ended())
            .map(|(_, n)| n)
            .sum();
        assert!(running <= 2, "at most 2 jobs not yet ended: {p:?}");
    }
    assert!(
        seen.iter().any(|p| p.round == 0 && p.jobs_waiting == 2),
        "jobs beyond the limit wait: {:?}",
        seen.iter()
            .map(|p| (p.round, p.jobs.clone(), p.jobs_waiting))
            .collect::<Vec<_>>()
    );
    assert!(
        seen.iter()
            .any(|p| p.staged_rows == 200 && p.staged_bytes > 0)
    );
    std::sync::Arc::into_inner(emu)
        .expect("the run let go of the emulator")
        .shutdown()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_results_stream_ends_after_the_last_row() {
    let (emu, client, storage) = start_with_storage(|b| b).await;
    let run = BatchRun::new(
        client,
        storage,
        "gemini-2.0-flash-001",
        "gs://runs/stream".parse().unwrap(),
    );
    let mut results = run
        .run(futures_util::stream::iter(prompts(3)))
        .await
        .unwrap();
    let mut keys = Vec::new();
    while let Some(row) = results.next().await {
        keys.push(row.unwrap().key);
    }
    assert_eq!(keys, ["key-0", "key-1", "key-2"]);
    assert!(results.next().await.is_none());
    emu.shutdown().await;
}

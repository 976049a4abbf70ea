//! Runs that last: one process per run (the lease), a stop and an end on purpose, a job stuck
//! in the queue, a Vertex AI outage, a job the service lost.

use std::time::Duration;

use futures_util::TryStreamExt;
use vertex_batch::run::{BatchRun, RowResult, RunPhase, RunSummary};
use vertex_batch::storage::ObjectUri;

use super::{outcome, prompts, run_all, start_with_storage};

const MODEL: &str = "gemini-2.0-flash-001";

/// Starts `run` over `requests` prompts as a task of its own, and waits for the outcome that
/// its jobs are running.
async fn start_until_running(
    run: BatchRun,
    requests: usize,
) -> tokio::task::JoinHandle<vertex_batch::Result<(RunSummary, Vec<RowResult>)>> {
    let (running_tx, running_rx) = tokio::sync::oneshot::channel::<()>();
    let running_tx = std::sync::Mutex::new(Some(running_tx));
    let run = run.with_progress(move |p| {
        if p.phase == RunPhase::Running
            && let Some(tx) = running_tx.lock().unwrap().take()
        {
            let _ = tx.send(());
        }
    });
    let task = tokio::spawn(run_all(run, prompts(requests)));
    running_rx.await.unwrap();
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_concurrent_starts_of_one_run_make_one_job_per_shard() {
    let (emu, client, storage) =
        start_with_storage(|b| b.with_row_failure_rate(0.05).with_seed(5)).await;
    let staging: ObjectUri = "gs://runs/three".parse().unwrap();
    let start = || {
        let run = BatchRun::new(client.clone(), storage.clone(), MODEL, staging.clone())
            .with_max_requests_per_job(100)
            .with_lease_wait(true);
        tokio::spawn(run_all(run, prompts(1_000)))
    };
    let (a, b, c) = tokio::join!(start(), start(), start());
    let runs = [
        a.unwrap().unwrap(),
        b.unwrap().unwrap(),
        c.unwrap().unwrap(),
    ];
    // Every start got the lease in turn; the first ran the jobs, the others found them.
    let round_0 = 10;
    assert!(
        emu.job_count() >= round_0
            && emu.job_count() as u64 == runs[0].0.jobs.max(runs[1].0.jobs).max(runs[2].0.jobs),
        "one job per shard and round: {} jobs, {:?}",
        emu.job_count(),
        runs.iter().map(|r| r.0.jobs).collect::<Vec<_>>()
    );
    let first: Vec<String> = runs[0].1.iter().map(outcome).collect();
    for (_, rows) in &runs[1..] {
        assert_eq!(rows.iter().map(outcome).collect::<Vec<_>>(), first);
    }
    // The lease is released at the end.
    let lease = staging.join("lease.json").unwrap();
    assert!(storage.metadata(&lease).await.unwrap_err().is_not_found());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_while_the_first_runs_fails_at_once_naming_the_holder() {
    let (emu, client, storage) = start_with_storage(|b| b.with_stuck_jobs(1)).await;
    let staging: ObjectUri = "gs://runs/held".parse().unwrap();
    let first = BatchRun::new(client.clone(), storage.clone(), MODEL, staging.clone());
    let first = start_until_running(first, 10).await;

    let second = BatchRun::new(client.clone(), storage.clone(), MODEL, staging.clone());
    let err = run_all(second, prompts(10)).await.unwrap_err();
    assert!(err.is_run_held(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("process {}", std::process::id())),
        "{text}"
    );
    assert!(text.contains("host ") && text.contains("since "), "{text}");
    assert_eq!(emu.job_count(), 1, "the second start made nothing");
    first.abort();
    let _ = first.await;
    emu.shutdown().await;
}

/// Runs until the run reports its jobs running, then stops it with its stop signal.
async fn stop_when_running(run: BatchRun, requests: usize) -> vertex_batch::Error {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_tx = std::sync::Mutex::new(Some(stop_tx));
    let run = run
        .with_progress(move |p| {
            if p.phase == RunPhase::Running
                && p.live_jobs.iter().any(|job| job.age >= Duration::ZERO)
                && let Some(tx) = stop_tx.lock().unwrap().take()
            {
                let _ = tx.send(());
            }
        })
        .with_stop_signal(async move {
            let _ = stop_rx.await;
        });
    run_all(run, prompts(requests)).await.unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_releases_its_lease_and_an_end_cancels_its_jobs_and_gives_what_was_answered()
{
    let (emu, client, storage) = start_with_storage(|b| b.with_stuck_jobs(1)).await;
    let staging: ObjectUri = "gs://runs/stop".parse().unwrap();
    let make = || {
        BatchRun::new(client.clone(), storage.clone(), MODEL, staging.clone())
            .with_max_requests_per_job(10)
            .with_max_running_jobs(1)
    };
    // Shard 0's job is stuck in the queue; the run is stopped while it waits.
    let err = stop_when_running(make(), 30).await;
    assert!(err.is_run_stopped(), "{err}");
    assert!(err.to_string().contains("start it again"), "{err}");
    let lease = staging.join("lease.json").unwrap();
    assert!(
        storage.metadata(&lease).await.unwrap_err().is_not_found(),
        "the lease is released"
    );
    assert_eq!(emu.job_count(), 1);

    // Ended for good: the stuck job is cancelled, no other job is made.
    let (summary, rows) = run_all(make().end(), prompts(30)).await.unwrap();
    assert_eq!(emu.job_count(), 1, "an end creates nothing");
    assert!(summary.ended.is_some());
    assert_eq!(summary.answered, 0);
    assert_eq!(summary.failed_by_code.get(&499), Some(&30), "{summary:?}");
    assert!(
        rows.iter()
            .all(|row| row.outcome.as_ref().is_err_and(|e| e.code == 499))
    );
    let job = client
        .list(Default::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(
        job[0].state(),
        vertex_batch::v1::JobState::Cancelled,
        "its live job was cancelled"
    );

    // Started again after the end, the run creates nothing and gives the same results.
    let (again, rows_again) = run_all(make(), prompts(30)).await.unwrap();
    assert_eq!(emu.job_count(), 1);
    assert_eq!(again.failed_by_code, summary.failed_by_code);
    assert_eq!(
        rows.iter().map(outcome).collect::<Vec<_>>(),
        rows_again.iter().map(outcome).collect::<Vec<_>>()
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_run_is_taken_over_at_once_and_resumes() {
    let (emu, client, storage) = start_with_storage(|b| b.with_stuck_jobs(1)).await;
    let staging: ObjectUri = "gs://runs/dropped".parse().unwrap();
    let make = || {
        BatchRun::new(client.clone(), storage.clone(), MODEL, staging.clone())
            .with_max_requests_per_job(10)
    };
    let first = start_until_running(make(), 20).await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    let jobs = emu.job_count();

    // The stuck job is past a queue deadline of zero: cancelled, its rows sent again.
    let (summary, rows) = run_all(make().with_queue_deadline(Duration::ZERO), prompts(20))
        .await
        .unwrap();
    assert_eq!(summary.answered, 20, "{summary:?}");
    assert_eq!(rows.len(), 20);
    assert_eq!(summary.rounds, 2);
    assert_eq!(
        emu.job_count(),
        jobs.max(2) + 1,
        "no job made twice: round 0's two, and the stuck one's replacement"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_still_queued_at_its_deadline_with_no_round_left_is_reported_with_408() {
    let (emu, client, storage) = start_with_storage(|b| b.with_stuck_jobs(1)).await;
    let run = BatchRun::new(client, storage, MODEL, "gs://runs/queued".parse().unwrap())
        .with_max_requests_per_job(10)
        .with_retry_rounds(0)
        .with_queue_deadline(Duration::ZERO);
    let (summary, rows) = run_all(run, prompts(20)).await.unwrap();
    assert_eq!(summary.failed_by_code.get(&408), Some(&10), "{summary:?}");
    assert_eq!(summary.answered, 10);
    let stuck: Vec<&RowResult> = rows.iter().filter(|r| r.outcome.is_err()).collect();
    let error = stuck[0].outcome.as_ref().unwrap_err();
    assert!(
        error
            .message
            .contains("still queued after the queue deadline"),
        "{error:?}"
    );
    assert!(error.transient);
    assert!(error.to_string().starts_with("408: job "), "{error}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_outlives_a_vertex_ai_outage_longer_than_the_retry_budget() {
    // A manual clock: the outage lasts until the test moves the emulator's clock past it.
    let (emu, client, storage) = start_with_storage(|b| {
        b.with_manual_clock(true)
            .with_outage(Duration::ZERO, Duration::from_secs(600))
    })
    .await;
    let run = BatchRun::new(client, storage, MODEL, "gs://runs/outage".parse().unwrap())
        .with_max_requests_per_job(50);
    let run = tokio::spawn(run_all(run, prompts(100)));
    // Wait for the outcome: the run keeps trying through many refusals.
    while emu.outage_refusals() < 50 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!run.is_finished(), "the outage did not end the run");
    emu.advance(Duration::from_secs(601));
    let (summary, rows): (RunSummary, Vec<RowResult>) = run.await.unwrap().unwrap();
    assert_eq!(summary.answered, 100);
    assert_eq!(rows.len(), 100);
    assert_eq!(emu.job_count(), 2, "one job per shard through the outage");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_deleted_from_under_a_finished_run_are_resolved_from_their_outputs() {
    let (emu, client, storage) =
        start_with_storage(|b| b.with_row_failure_rate(0.1).with_seed(9)).await;
    let staging: ObjectUri = "gs://runs/lost".parse().unwrap();
    let make = || {
        BatchRun::new(client.clone(), storage.clone(), MODEL, staging.clone())
            .with_max_requests_per_job(100)
    };
    let (summary, rows) = run_all(make(), prompts(300)).await.unwrap();
    let jobs: Vec<_> = client
        .list(Default::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    for job in &jobs {
        client.delete(&job.name).await.unwrap();
    }
    assert_eq!(emu.job_count(), 0);
    let (again, rows_again) = run_all(make(), prompts(300)).await.unwrap();
    assert_eq!(
        emu.job_count(),
        0,
        "every output was still there: no new job"
    );
    assert_eq!(again.answered, summary.answered);
    assert_eq!(
        rows.iter().map(outcome).collect::<Vec<_>>(),
        rows_again.iter().map(outcome).collect::<Vec<_>>()
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_run_that_was_never_started_is_refused_before_anything_is_staged() {
    let (emu, client, storage) = start_with_storage(|b| b).await;
    let run = BatchRun::new(client, storage, MODEL, "gs://runs/never".parse().unwrap()).end();
    let err = run_all(run, prompts(10)).await.unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    assert!(
        err.to_string().contains("no run is staged there to end"),
        "{err}"
    );
    assert_eq!(emu.job_count(), 0);
    assert!(
        !emu.storage_requests().iter().any(|r| r.contains("input")),
        "nothing staged"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_waiting_for_the_lease_stops_when_asked() {
    let (emu, client, storage) = start_with_storage(|b| b.with_stuck_jobs(1)).await;
    let staging: ObjectUri = "gs://runs/waiting".parse().unwrap();
    let first = BatchRun::new(client.clone(), storage.clone(), MODEL, staging.clone());
    let first = start_until_running(first, 10).await;

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let second = BatchRun::new(client.clone(), storage.clone(), MODEL, staging.clone())
        .with_lease_wait(true)
        .with_stop_signal(async move {
            let _ = stop_rx.await;
        });
    let second = tokio::spawn(run_all(second, prompts(10)));
    // Wait for the outcome: the second start is looking at the lease again and again.
    let looks = || {
        emu.storage_requests()
            .iter()
            .filter(|r| r.contains("lease.json"))
            .count()
    };
    let before = looks();
    while looks() < before + 5 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stop_tx.send(()).unwrap();
    let err = second.await.unwrap().unwrap_err();
    assert!(err.is_run_stopped(), "{err}");
    assert_eq!(emu.job_count(), 1, "the waiting start made nothing");
    first.abort();
    let _ = first.await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_run_deadline_live_jobs_are_cancelled_and_unanswered_rows_get_504() {
    let (emu, client, storage) = start_with_storage(|b| b.with_stuck_jobs(1)).await;
    let run = BatchRun::new(
        client,
        storage,
        MODEL,
        "gs://runs/deadline".parse().unwrap(),
    )
    .with_max_requests_per_job(10)
    .with_max_running_jobs(1)
    .with_run_deadline(Duration::ZERO);
    let (summary, rows) = run_all(run, prompts(30)).await.unwrap();
    assert_eq!(emu.job_count(), 1, "no job created past the deadline");
    assert_eq!(summary.failed_by_code.get(&504), Some(&30), "{summary:?}");
    assert!(
        summary
            .ended
            .as_deref()
            .unwrap()
            .contains("deadline passed")
    );
    assert!(
        rows.iter().all(|row| row
            .outcome
            .as_ref()
            .is_err_and(|e| e.message.starts_with("the run's deadline passed"))),
        "{:?}",
        rows[0]
    );
    emu.shutdown().await;
}

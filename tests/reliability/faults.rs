//! Reliability under injected faults, at volume: 10,000 reads with one attempt in five failing,
//! and 100 concurrent Creates whose answers are lost or refused while the lookups that resolve
//! them fail too. Goes beyond tests/client/faults.rs (200 sequential Gets, 100 sequential lost
//! Creates) in count, concurrency and the mix of faults.
#![cfg(feature = "emulator")]

use std::collections::HashSet;
use std::time::Duration;

use crate::support::client::*;
use futures_util::TryStreamExt;
use tokio::task::JoinSet;
use tonic::Code;
use vertex_batch::emulator::Fault;
use vertex_batch::{JobFilter, REQUEST_ID_LABEL, RetryPolicy};

/// Short backoffs, and attempts enough that a run of failures at 20% never exhausts them
/// (0.2^20 per call).
fn patient_fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_backoff(Duration::from_micros(200))
        .with_max_backoff(Duration::from_millis(2))
        .with_max_attempts(20)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_reads_at_twenty_percent_unavailable_surface_no_error() {
    let (emu, client) = start().await;
    let client = client.with_retry_policy(patient_fast_retries());
    let mut names = Vec::new();
    for i in 0..3 {
        names.push(
            client
                .create(gcs_job(&format!("read-{i}")))
                .await
                .unwrap()
                .name,
        );
    }
    emu.fault(Fault::random(
        "GetBatchPredictionJob",
        0.2,
        Code::Unavailable,
        11,
    ));
    emu.fault(Fault::random(
        "ListBatchPredictionJobs",
        0.2,
        Code::Unavailable,
        12,
    ));

    // 8 workers, 1,250 calls each: four Gets to one List page.
    const WORKERS: usize = 8;
    const CALLS: usize = 10_000;
    let mut workers = JoinSet::new();
    for worker in 0..WORKERS {
        let (client, names) = (client.clone(), names.clone());
        workers.spawn(async move {
            let (mut gets, mut lists) = (0, 0);
            for call in 0..CALLS / WORKERS {
                if call % 5 == 4 {
                    let page = client.list_page(&JobFilter::new(), 0, None).await;
                    assert_eq!(page.expect("a List surfaced an error").jobs.len(), 3);
                    lists += 1;
                } else {
                    let name = &names[(worker + call) % names.len()];
                    let job = client.get(name).await.expect("a Get surfaced an error");
                    assert_eq!(&job.name, name);
                    gets += 1;
                }
            }
            (gets, lists)
        });
    }
    let (mut gets, mut lists) = (0, 0);
    while let Some(done) = workers.join_next().await {
        let (g, l) = done.unwrap();
        gets += g;
        lists += l;
    }
    assert_eq!((gets, lists), (8_000, 2_000));

    // The faults really fired: about one attempt in five was a failure that a retry hid.
    let attempts =
        emu.calls_of("GetBatchPredictionJob").len() + emu.calls_of("ListBatchPredictionJobs").len();
    let retried = attempts - CALLS;
    println!("{CALLS} calls, {attempts} attempts, {retried} retries hidden from the caller");
    assert!(
        retried > 1_500,
        "{attempts} attempts for {CALLS} calls: the faults did not fire"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_creates_with_lost_and_refused_answers_make_exactly_a_hundred_jobs() {
    let (emu, client) = start().await;
    // Half the Creates store their job and lose the answer; half more attempts are refused
    // before anything is stored; and the List lookups that resolve them fail one time in five.
    for i in 0..50 {
        let code = if i % 2 == 0 {
            Code::DeadlineExceeded
        } else {
            Code::Unavailable
        };
        emu.fault(Fault::lost_create(code));
    }
    emu.fault(Fault::fail_next(
        "CreateBatchPredictionJob",
        50,
        Code::Unavailable,
    ));
    emu.fault(Fault::random(
        "ListBatchPredictionJobs",
        0.2,
        Code::Unavailable,
        3,
    ));

    let mut creates = JoinSet::new();
    for i in 0..100 {
        let client = client.with_retry_policy(patient_fast_retries());
        creates.spawn(async move {
            let job = client.create(gcs_job(&format!("job-{i}"))).await;
            (i, job.expect("a Create surfaced an error"))
        });
    }
    let mut names = HashSet::new();
    let mut request_ids = HashSet::new();
    while let Some(done) = creates.join_next().await {
        let (i, job) = done.unwrap();
        assert_eq!(
            job.display_name,
            format!("job-{i}"),
            "each call got its own job"
        );
        names.insert(job.name.clone());
        request_ids.insert(job.labels[REQUEST_ID_LABEL].clone());
    }
    assert_eq!(names.len(), 100);
    assert_eq!(request_ids.len(), 100);
    assert_eq!(emu.job_count(), 100, "exactly one job per call");

    // Every refused attempt was sent again once, every lost answer was found by lookup.
    assert_eq!(emu.calls_of("CreateBatchPredictionJob").len(), 150);
    let listed: Vec<_> = client
        .with_retry_policy(patient_fast_retries())
        .list(JobFilter::new())
        .try_collect()
        .await
        .unwrap();
    let listed: HashSet<_> = listed.into_iter().map(|job| job.name).collect();
    assert_eq!(listed, names);
}

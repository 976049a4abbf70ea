//! Each fault: failing the next N calls, delays, a lost Create response, seeded random failures.

use std::time::Duration;

use crate::support::stub::{PARENT, client, create, get, job};
use tonic::Code;
use tonic_types::StatusExt;
use vertex_batch::emulator::{Emulator, Fault};
use vertex_batch::v1::ListBatchPredictionJobsRequest;

async fn emulator() -> Emulator {
    Emulator::builder()
        .with_manual_clock(true)
        .start()
        .await
        .unwrap()
}

fn list() -> ListBatchPredictionJobsRequest {
    ListBatchPredictionJobsRequest {
        parent: PARENT.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_next_n_calls_of_a_method_fail_with_retry_info() {
    let emu = emulator().await;
    let mut client = client(&emu).await;
    let created = client
        .create_batch_prediction_job(create(job("f")))
        .await
        .unwrap()
        .into_inner();
    emu.fault(
        Fault::fail_next("GetBatchPredictionJob", 2, Code::Unavailable)
            .with_retry_delay(Duration::from_secs(3)),
    );

    // Other methods are untouched.
    client.list_batch_prediction_jobs(list()).await.unwrap();
    for _ in 0..2 {
        let status = client
            .get_batch_prediction_job(get(&created.name))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        let retry = status
            .get_error_details()
            .retry_info()
            .cloned()
            .expect("RetryInfo");
        assert_eq!(retry.retry_delay, Some(Duration::from_secs(3)));
    }
    client
        .get_batch_prediction_job(get(&created.name))
        .await
        .unwrap();
    // Failed calls are recorded too.
    assert_eq!(emu.calls_of("GetBatchPredictionJob").len(), 3);
}

#[tokio::test]
async fn a_star_fault_hits_every_method_and_faults_can_be_cleared() {
    let emu = emulator().await;
    let mut client = client(&emu).await;
    emu.fault(Fault::fail_next("*", 100, Code::ResourceExhausted));
    assert_eq!(
        client
            .list_batch_prediction_jobs(list())
            .await
            .unwrap_err()
            .code(),
        Code::ResourceExhausted
    );
    let status = client
        .create_batch_prediction_job(create(job("x")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(emu.job_count(), 0, "a failed call does nothing");
    emu.clear_faults();
    client.list_batch_prediction_jobs(list()).await.unwrap();
}

#[tokio::test]
async fn a_lost_create_response_still_stores_the_job() {
    let emu = emulator().await;
    let mut client = client(&emu).await;
    emu.fault(Fault::lost_create(Code::DeadlineExceeded));
    let status = client
        .create_batch_prediction_job(create(job("lost")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert_eq!(emu.job_count(), 1);
    let listed = client
        .list_batch_prediction_jobs(list())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.batch_prediction_jobs[0].display_name, "lost");
    // Only the next Create was affected.
    client
        .create_batch_prediction_job(create(job("kept")))
        .await
        .unwrap();
    assert_eq!(emu.job_count(), 2);
}

#[tokio::test]
async fn a_delayed_call_outlives_a_short_client_deadline() {
    let emu = emulator().await;
    let mut client = client(&emu).await;
    emu.fault(Fault::delay_next(
        "ListBatchPredictionJobs",
        1,
        Duration::from_secs(3600),
    ));
    let mut request = tonic::Request::new(list());
    request.set_timeout(Duration::from_millis(1));
    let status = client
        .list_batch_prediction_jobs(request)
        .await
        .unwrap_err();
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    // The delay applied to one call only.
    client.list_batch_prediction_jobs(list()).await.unwrap();
}

async fn random_failures(seed: u64) -> Vec<bool> {
    let emu = emulator().await;
    let mut client = client(&emu).await;
    emu.fault(Fault::random(
        "ListBatchPredictionJobs",
        0.5,
        Code::Unavailable,
        seed,
    ));
    let mut outcomes = Vec::new();
    for _ in 0..60 {
        outcomes.push(client.list_batch_prediction_jobs(list()).await.is_err());
    }
    outcomes
}

#[tokio::test]
async fn random_failures_are_reproducible_from_the_seed() {
    let first = random_failures(7).await;
    assert!(first.contains(&true) && first.contains(&false));
    assert_eq!(random_failures(7).await, first);
    assert_ne!(random_failures(8).await, first);
}

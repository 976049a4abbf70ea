//! JobClient under faults the emulator injects: retries that hide UNAVAILABLE, Creates whose
//! answers are lost, errors that say what to do, bad input refused before any call.
#![cfg(feature = "emulator")]

use std::time::Duration;

use crate::support::client::*;
use futures_util::TryStreamExt;
use tonic::Code;
use vertex_batch::emulator::Fault;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::{JobFilter, REQUEST_ID_LABEL, RetryPolicy};

#[tokio::test]
async fn unavailable_gets_and_lists_are_retried_with_no_error_surfacing() {
    let (emu, client) = start().await;
    let job = client.create(gcs_job("flaky")).await.unwrap();
    emu.fault(Fault::random(
        "GetBatchPredictionJob",
        0.3,
        Code::Unavailable,
        7,
    ));
    emu.fault(Fault::random(
        "ListBatchPredictionJobs",
        0.3,
        Code::Unavailable,
        8,
    ));
    for _ in 0..200 {
        assert_eq!(client.get(&job.name).await.unwrap().name, job.name);
    }
    for _ in 0..50 {
        let jobs: Vec<_> = client.list(JobFilter::new()).try_collect().await.unwrap();
        assert_eq!(jobs.len(), 1);
    }
    let gets = emu.calls_of("GetBatchPredictionJob").len();
    assert!(gets > 200, "the faults fired ({gets} calls for 200 gets)");
}

#[tokio::test]
async fn a_server_retry_delay_is_honoured_and_creates_are_not_retried_blindly() {
    let (emu, client) = start().await;
    emu.fault(
        Fault::fail_next("GetBatchPredictionJob", 2, Code::Unavailable)
            .with_retry_delay(Duration::from_millis(10)),
    );
    let job = client.create(gcs_job("x")).await.unwrap();
    client.get(&job.name).await.unwrap();
    assert_eq!(emu.calls_of("GetBatchPredictionJob").len(), 3);

    // UNAVAILABLE from the service on a Create: the request may have been acted on, so it is
    // resolved by lookup, never by a blind resend.
    emu.fault(Fault::fail_next(
        "CreateBatchPredictionJob",
        1,
        Code::Unavailable,
    ));
    let created = client.create(gcs_job("y")).await.unwrap();
    assert_eq!(emu.job_count(), 2);
    assert_eq!(created.display_name, "y");
}

#[tokio::test]
async fn one_hundred_creates_with_lost_answers_leave_exactly_one_hundred_jobs() {
    let (emu, client) = start().await;
    let mut names = Vec::new();
    for i in 0..100 {
        let code = if i % 2 == 0 {
            Code::Unavailable
        } else {
            Code::DeadlineExceeded
        };
        emu.fault(Fault::lost_create(code));
        let job = client.create(gcs_job(&format!("lost-{i}"))).await.unwrap();
        assert_eq!(job.display_name, format!("lost-{i}"));
        assert!(job.labels.contains_key(REQUEST_ID_LABEL));
        names.push(job.name);
    }
    assert_eq!(emu.job_count(), 100);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 100);
    assert_eq!(
        emu.calls_of("CreateBatchPredictionJob").len(),
        100,
        "no Create was sent twice"
    );
}

#[tokio::test]
async fn a_create_refused_by_the_service_is_not_retried() {
    let (emu, client) = start().await;
    emu.fault(Fault::fail_next(
        "CreateBatchPredictionJob",
        1,
        Code::PermissionDenied,
    ));
    let err = client.create(gcs_job("denied")).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::PermissionDenied));
    assert!(err.to_string().contains("roles/aiplatform.user"), "{err}");
    assert_eq!(emu.calls_of("CreateBatchPredictionJob").len(), 1);
    assert_eq!(emu.job_count(), 0);
}

#[tokio::test]
async fn retries_stop_at_the_attempt_limit() {
    let (emu, client) = start().await;
    let job = client.create(gcs_job("x")).await.unwrap();
    emu.fault(Fault::fail_next(
        "GetBatchPredictionJob",
        100,
        Code::Unavailable,
    ));
    let limited = client.with_retry_policy(fast_retries().with_max_attempts(3));
    let err = limited.get(&job.name).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::Unavailable));
    assert_eq!(emu.calls_of("GetBatchPredictionJob").len(), 3);
    // Per call: the client itself keeps its own policy.
    assert_eq!(
        client.retry_policy().max_attempts(),
        RetryPolicy::default().max_attempts()
    );
}

#[tokio::test]
async fn a_slow_answer_hits_the_per_attempt_deadline() {
    let (emu, client) = start().await;
    let job = client.create(gcs_job("x")).await.unwrap();
    emu.fault(Fault::delay_next(
        "GetBatchPredictionJob",
        1,
        Duration::from_secs(30),
    ));
    let impatient = client
        .with_retry_policy(fast_retries().with_attempt_timeout(Some(Duration::from_millis(50))));
    // The first attempt times out, DEADLINE_EXCEEDED is not retried for a Get: it surfaces.
    let err = impatient.get(&job.name).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::DeadlineExceeded), "{err}");
}

#[tokio::test]
async fn bad_input_is_refused_before_any_call() {
    let (emu, client) = start().await;
    let cases = [
        (
            BatchPredictionJob::builder("")
                .with_input("gs://bucket/i.jsonl")
                .with_output("gs://bucket/o"),
            "model",
        ),
        (
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_input("s3://bucket/i")
                .with_output("gs://bucket/o"),
            "input",
        ),
        (
            BatchPredictionJob::builder("gemini-2.0-flash-001").with_input("gs://bucket/i.jsonl"),
            "output",
        ),
        (
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_input("gs://bucket/i.jsonl")
                .with_output("gs://bucket/o")
                .with_label("Bad Key", "v"),
            "labels",
        ),
        (
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_input("gs://bucket/i.jsonl")
                .with_output("gs://bucket/o")
                .with_model_parameters(serde_json::json!({"seed": 9_007_199_254_740_993u64})),
            "seed",
        ),
    ];
    for (job, field) in cases {
        let err = client.create(job).await.unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
    assert!(client.get("a/b").await.unwrap_err().is_invalid_input());
    assert!(
        client
            .get("projects/other/locations/us-central1/batchPredictionJobs/1")
            .await
            .is_err()
    );
    assert!(emu.calls().is_empty(), "{:?}", emu.calls());
}

#[tokio::test]
async fn errors_say_what_to_do() {
    let (emu, client) = start().await;
    let err = client.get("123456").await.unwrap_err();
    assert!(err.is_not_found());
    assert!(err.to_string().contains("us-central1"), "{err}");

    // A client whose location differs from the endpoint's: the service names the mismatch.
    let elsewhere = client_builder(&emu)
        .with_location("europe-west4")
        .connect()
        .await
        .unwrap();
    let err = elsewhere.create(gcs_job("x")).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::InvalidArgument), "{err}");
    assert!(err.to_string().contains("location"), "{err}");

    // A client with no project says how to give one.
    let err = vertex_batch::JobClient::builder()
        .with_endpoint(Endpoint::custom(&emu.uri()).unwrap())
        .with_project("")
        .connect()
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
}

#[tokio::test]
async fn wait_and_delete_follow_one_rule_for_polls_that_fail() {
    let (emu, client) = start().await;
    // One attempt per call: each failure reaches the polling loop rather than a retry.
    let client = client.with_retry_policy(RetryPolicy::none());
    let job = client.create(gcs_job("polled")).await.unwrap();
    emu.advance(Duration::from_secs(3600));

    // UNAVAILABLE polls are skipped, by wait ...
    emu.fault(Fault::fail_next(
        "GetBatchPredictionJob",
        2,
        Code::Unavailable,
    ));
    let ended = client
        .wait_with(&job.name, &fast_waits(), |_| {})
        .await
        .unwrap();
    assert_eq!(ended.name, job.name);
    assert_eq!(emu.calls_of("GetBatchPredictionJob").len(), 3);

    // ... and by delete, polling its operation.
    emu.fault(Fault::fail_next("GetOperation", 2, Code::Unavailable));
    let deleting = tokio::spawn({
        let (client, name) = (client.clone(), job.name.clone());
        async move { client.delete(&name).await }
    });
    // The operation exists once it is polled; then its time passes on the emulator's clock.
    while emu.calls_of("GetOperation").is_empty() {
        tokio::task::yield_now().await;
    }
    emu.advance(Duration::from_secs(60));
    deleting.await.unwrap().unwrap();
    assert_eq!(emu.calls_of("GetOperation").len(), 3);

    // Any other error ends the polling.
    let other = client.create(gcs_job("denied")).await.unwrap();
    emu.fault(Fault::fail_next(
        "GetBatchPredictionJob",
        1,
        Code::PermissionDenied,
    ));
    let err = client
        .wait_with(&other.name, &fast_waits(), |_| {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::PermissionDenied), "{err}");
}

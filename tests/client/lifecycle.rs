//! JobClient against the emulator over TLS with the real token flow: create, get, list, cancel,
//! delete and wait, to every end state, on the emulator's manual clock.
#![cfg(feature = "emulator")]

use std::time::Duration;

use crate::support::client::*;
use futures_util::TryStreamExt;
use prost_types::value::Kind;
use vertex_batch::emulator::Outcome;
use vertex_batch::v1::JobState;
use vertex_batch::{JobFilter, OutputLocation, WaitOptions};

const AN_HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn the_go_sample_runs_to_success_and_says_where_the_output_is() {
    let (emu, client) = start().await;
    let job = client.create(gcs_job("go-sample")).await.unwrap();
    assert!(
        job.name
            .starts_with("projects/test-project/locations/us-central1/batchPredictionJobs/")
    );
    assert!(!job.has_ended());

    // The wait polls; time moves only when the test says so.
    let waiting = tokio::spawn({
        let client = client.clone();
        let name = job.name.clone();
        async move {
            let mut seen = Vec::new();
            let options = client.wait_options().clone();
            let job = client
                .wait_with(&name, &options, |job| seen.push(job.state()))
                .await;
            (job, seen)
        }
    });
    emu.advance(AN_HOUR);
    let (done, seen) = waiting.await.unwrap();
    let done = done.unwrap();
    assert_eq!(done.state(), JobState::Succeeded);
    assert_eq!(seen.last(), Some(&JobState::Succeeded));
    assert!(done.progress().successful > 0);
    match done.output_location() {
        Some(OutputLocation::Gcs(dir)) => {
            assert!(
                dir.starts_with("gs://my-bucket/batch-output/prediction-model-"),
                "{dir}"
            )
        }
        other => panic!("expected a gs:// directory, got {other:?}"),
    }
}

#[tokio::test]
async fn model_parameters_arrive_as_a_struct_with_camel_case_keys() {
    let (_emu, client) = start().await;
    let job = client.create(gcs_job("params")).await.unwrap();
    let stored = client.get(&job.name).await.unwrap();
    let Some(Kind::StructValue(parameters)) = stored.model_parameters.and_then(|v| v.kind) else {
        panic!("model_parameters is not a struct value");
    };
    let number = |key: &str| match parameters.fields.get(key).and_then(|v| v.kind.clone()) {
        Some(Kind::NumberValue(n)) => n,
        other => panic!("{key}: {other:?}"),
    };
    assert_eq!(number("temperature"), 0.2);
    assert_eq!(number("maxOutputTokens"), 200.0);
    assert_eq!(parameters.fields.len(), 2);
}

#[tokio::test]
async fn get_accepts_a_bare_id_and_a_full_name() {
    let (_emu, client) = start().await;
    let job = client.create(gcs_job("ids")).await.unwrap();
    let id = job.name.rsplit('/').next().unwrap();
    assert_eq!(client.get(id).await.unwrap().name, job.name);
    assert_eq!(client.get(&job.name).await.unwrap().name, job.name);
}

#[tokio::test]
async fn every_end_state_is_reached_and_reported() {
    let (emu, client) = start().await;
    let cases = [
        (Outcome::Succeeded, JobState::Succeeded),
        (
            Outcome::Failed {
                message: "quota".into(),
            },
            JobState::Failed,
        ),
        (Outcome::PartiallySucceeded, JobState::PartiallySucceeded),
        (Outcome::Expired, JobState::Expired),
    ];
    for (outcome, state) in cases {
        emu.set_outcome(outcome);
        let job = client.create(gcs_job("ends")).await.unwrap();
        emu.advance(AN_HOUR);
        let done = client.wait(&job.name).await.unwrap();
        assert_eq!(done.state(), state);
        assert!(done.has_ended());
        assert_eq!(done.has_succeeded(), state == JobState::Succeeded);
        if state == JobState::Failed {
            assert_eq!(done.job_error().map(|e| e.message.as_str()), Some("quota"));
        }
    }
}

#[tokio::test]
async fn a_cancelled_job_ends_cancelled_and_an_ended_one_cannot_be_cancelled() {
    let (emu, client) = start().await;
    let job = client.create(gcs_job("cancel-me")).await.unwrap();
    client.cancel(&job.name).await.unwrap();
    let cancelling = client.get(&job.name).await.unwrap();
    assert_eq!(cancelling.state(), JobState::Cancelling);
    emu.advance(AN_HOUR);
    let done = client.wait(&job.name).await.unwrap();
    assert_eq!(done.state(), JobState::Cancelled);

    let err = client.cancel(&job.name).await.unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::FailedPrecondition), "{err}");
}

#[tokio::test]
async fn delete_waits_for_its_operation_and_refuses_a_running_job() {
    let (emu, client) = start().await;
    let job = client.create(gcs_job("delete-me")).await.unwrap();
    let err = client.delete(&job.name).await.unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::FailedPrecondition), "{err}");

    emu.advance(AN_HOUR);
    let deleting = tokio::spawn({
        let (client, name) = (client.clone(), job.name.clone());
        async move { client.delete(&name).await }
    });
    // The delete operation finishes on the emulator's clock.
    while !deleting.is_finished() {
        emu.advance(Duration::from_secs(60));
        tokio::task::yield_now().await;
    }
    deleting.await.unwrap().unwrap();
    assert!(client.get(&job.name).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn a_wait_that_times_out_keeps_the_job_name_and_state() {
    let (_emu, client) = start().await;
    let job = client.create(gcs_job("slow")).await.unwrap();
    let options = WaitOptions::default()
        .with_initial_interval(Duration::from_millis(1))
        .with_timeout(Duration::from_millis(30));
    let err = client
        .wait_with(&job.name, &options, |_| {})
        .await
        .unwrap_err();
    assert!(err.is_wait_timeout(), "{err}");
    assert_eq!(err.job_name(), Some(job.name.as_str()));
    assert!(err.to_string().contains(&job.name), "{err}");
    // Nothing is lost: the job is still there and can be waited on again.
    assert!(!client.get(&job.name).await.unwrap().has_ended());
}

#[tokio::test]
async fn list_streams_250_jobs_across_pages_and_filters_them() {
    let (emu, client) = start().await;
    for i in 0..250 {
        let name = if i % 5 == 0 { "fifth" } else { "other" };
        let mut job = gcs_job(name);
        if i % 2 == 0 {
            job = job.with_label("parity", "even");
        }
        client.create(job).await.unwrap();
    }
    let all: Vec<_> = client.list(JobFilter::new()).try_collect().await.unwrap();
    assert_eq!(all.len(), 250);
    let mut names: Vec<_> = all.iter().map(|j| j.name.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 250, "no job listed twice");
    assert!(
        emu.calls_of("ListBatchPredictionJobs").len() > 1,
        "more than one page"
    );

    let fifth: Vec<_> = client
        .list(JobFilter::new().with_display_name("fifth"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(fifth.len(), 50);
    let even_fifth: Vec<_> = client
        .list(
            JobFilter::new()
                .with_display_name("fifth")
                .with_label("parity", "even"),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(even_fifth.len(), 25);
    let queued_or_pending: Vec<_> = client
        .list(JobFilter::raw(
            "state=JOB_STATE_QUEUED OR state=JOB_STATE_PENDING",
        ))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(queued_or_pending.len(), 250);
    emu.advance(AN_HOUR);
    let succeeded: Vec<_> = client
        .list(JobFilter::new().with_state(JobState::Succeeded))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(succeeded.len(), 250);

    let page = client
        .list_page(&JobFilter::new(), 100, None)
        .await
        .unwrap();
    assert_eq!(page.jobs.len(), 100);
    let next = page.next_page_token.expect("a second page");
    let page = client
        .list_page(&JobFilter::new(), 200, Some(&next))
        .await
        .unwrap();
    assert_eq!(page.jobs.len(), 150);
    assert_eq!(page.next_page_token, None);
}

/// A domain-scoped project (`example.com:my-project`) as the client's project and inside the
/// `bq://` source and destination: the emulator, like the service, takes it end to end.
#[tokio::test]
async fn a_domain_scoped_project_runs_a_bigquery_job_to_its_table() {
    let emu = emulator().start().await.expect("emulator starts");
    let client = client_builder(&emu)
        .with_project("example.com:test-project")
        .connect()
        .await
        .expect("client connects");
    let job = client
        .create(
            vertex_batch::v1::BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_display_name("domain-scoped")
                .with_input("bq://example.com:my-project.dataset.prompts")
                .with_output("bq://example.com:my-project.dataset"),
        )
        .await
        .expect("created");
    assert!(
        job.name.starts_with(
            "projects/example.com:test-project/locations/us-central1/batchPredictionJobs/"
        ),
        "{}",
        job.name
    );
    assert_eq!(
        client
            .get(job.job_name().unwrap().job_id())
            .await
            .unwrap()
            .name,
        job.name
    );
    emu.advance(AN_HOUR);
    let done = client.wait(&job.name).await.unwrap();
    assert_eq!(done.state(), JobState::Succeeded);
    match done.output_location() {
        Some(OutputLocation::BigQueryTable(table)) => assert!(
            table.starts_with("bq://example.com:my-project.dataset.predictions_"),
            "{table}"
        ),
        other => panic!("expected a BigQuery table, got {other:?}"),
    }
}

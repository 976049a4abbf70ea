//! Cancel moves a job through CANCELLING to CANCELLED; Delete of an ended job is a
//! long-running operation served by the Operations service; both refuse jobs in the wrong state.

use std::time::Duration;

use crate::support::stub::{PARENT, channel, client, create, get, job};
use prost::Message;
use tonic::Code;
use vertex_batch::emulator::Emulator;
use vertex_batch::proto::google::longrunning::operations_client::OperationsClient;
use vertex_batch::proto::google::longrunning::{GetOperationRequest, operation};
use vertex_batch::v1::{
    CancelBatchPredictionJobRequest, DeleteBatchPredictionJobRequest, DeleteOperationMetadata,
    JobState,
};

fn cancel(name: &str) -> CancelBatchPredictionJobRequest {
    CancelBatchPredictionJobRequest { name: name.into() }
}

fn delete(name: &str) -> DeleteBatchPredictionJobRequest {
    DeleteBatchPredictionJobRequest { name: name.into() }
}

#[tokio::test]
async fn cancel_goes_through_cancelling_to_cancelled() {
    let emu = Emulator::builder()
        .with_manual_clock(true)
        .with_durations(Duration::from_secs(10), Duration::from_secs(100))
        .with_cancel_duration(Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    let mut client = client(&emu).await;
    let running = client
        .create_batch_prediction_job(create(job("r")))
        .await
        .unwrap()
        .into_inner();
    emu.advance(Duration::from_secs(20));
    let pending = client
        .create_batch_prediction_job(create(job("p")))
        .await
        .unwrap()
        .into_inner();
    let state = |job: &vertex_batch::v1::BatchPredictionJob| JobState::try_from(job.state).unwrap();
    let before = client
        .get_batch_prediction_job(get(&running.name))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&before), JobState::Running);
    assert_eq!(state(&pending), JobState::Pending);

    for name in [&pending.name, &running.name] {
        client
            .cancel_batch_prediction_job(cancel(name))
            .await
            .unwrap();
        let job = client
            .get_batch_prediction_job(get(name))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(state(&job), JobState::Cancelling);
        // Cancelling twice is fine.
        client
            .cancel_batch_prediction_job(cancel(name))
            .await
            .unwrap();
    }
    emu.advance(Duration::from_secs(5));
    for name in [&pending.name, &running.name] {
        let job = client
            .get_batch_prediction_job(get(name))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(state(&job), JobState::Cancelled);
        assert!(job.end_time.is_some());
        assert_eq!(job.error.unwrap().code, Code::Cancelled as i32);
        // An ended job cannot be cancelled.
        let status = client
            .cancel_batch_prediction_job(cancel(name))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(
            status.message().contains("JOB_STATE_CANCELLED"),
            "{}",
            status.message()
        );
    }
    let missing = client
        .cancel_batch_prediction_job(cancel(&format!("{PARENT}/batchPredictionJobs/7")))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test]
async fn delete_of_an_ended_job_is_an_operation_that_finishes() {
    let emu = Emulator::builder()
        .with_manual_clock(true)
        .with_durations(Duration::from_secs(1), Duration::from_secs(1))
        .with_operation_duration(Duration::from_secs(3))
        .start()
        .await
        .unwrap();
    let mut client = client(&emu).await;
    let created = client
        .create_batch_prediction_job(create(job("d")))
        .await
        .unwrap()
        .into_inner();

    let status = client
        .delete_batch_prediction_job(delete(&created.name))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("JOB_STATE_PENDING"),
        "{}",
        status.message()
    );

    emu.advance(Duration::from_secs(2));
    let operation = client
        .delete_batch_prediction_job(delete(&created.name))
        .await
        .unwrap()
        .into_inner();
    assert!(
        operation.name.starts_with(&format!("{PARENT}/operations/")),
        "{}",
        operation.name
    );
    assert!(!operation.done);
    let metadata = operation.metadata.as_ref().unwrap();
    assert!(
        metadata
            .type_url
            .ends_with("google.cloud.aiplatform.v1.DeleteOperationMetadata")
    );
    let decoded = DeleteOperationMetadata::decode(metadata.value.as_slice()).unwrap();
    assert!(decoded.generic_metadata.unwrap().create_time.is_some());

    assert_eq!(emu.job_count(), 0);
    let gone = client
        .get_batch_prediction_job(get(&created.name))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    let again = client
        .delete_batch_prediction_job(delete(&created.name))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound);

    let mut operations = OperationsClient::new(channel(&emu).await);
    let request = || GetOperationRequest {
        name: operation.name.clone(),
    };
    let pending = operations
        .get_operation(request())
        .await
        .unwrap()
        .into_inner();
    assert!(!pending.done);
    emu.advance(Duration::from_secs(3));
    let done = operations
        .get_operation(request())
        .await
        .unwrap()
        .into_inner();
    assert!(done.done);
    let Some(operation::Result::Response(empty)) = done.result else {
        panic!("a response")
    };
    assert!(empty.type_url.ends_with("google.protobuf.Empty"));

    let unknown = operations
        .get_operation(GetOperationRequest {
            name: format!("{PARENT}/operations/1"),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(emu.calls_of("GetOperation").len(), 3);
}

#[tokio::test]
async fn routing_and_client_headers_are_recorded() {
    let emu = Emulator::builder().start().await.unwrap();
    let mut client = client(&emu).await;
    let mut request = tonic::Request::new(get(&format!("{PARENT}/batchPredictionJobs/1")));
    let metadata = request.metadata_mut();
    metadata.insert(
        "x-goog-request-params",
        "name=projects%2Fmy-project".parse().unwrap(),
    );
    metadata.insert("x-goog-user-project", "billing-project".parse().unwrap());
    metadata.insert(
        "x-goog-api-client",
        "gl-rust/1.88 grpc/0.14".parse().unwrap(),
    );
    request.set_timeout(Duration::from_secs(5));
    let _ = client.get_batch_prediction_job(request).await;
    let call = &emu.calls_of("GetBatchPredictionJob")[0];
    assert_eq!(
        call.request_params.as_deref(),
        Some("name=projects%2Fmy-project")
    );
    assert_eq!(call.user_project.as_deref(), Some("billing-project"));
    assert_eq!(call.api_client.as_deref(), Some("gl-rust/1.88 grpc/0.14"));
    assert!(
        call.user_agent
            .as_deref()
            .is_some_and(|ua| ua.contains("tonic"))
    );
    assert!(call.grpc_timeout.is_some());
    assert!(!call.authorization_present);
}

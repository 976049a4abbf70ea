//! The standalone `vertex-batch-emulator` binary prints where it listens and serves there.

use crate::support::process::Launched;
use crate::support::stub::PARENT;
use vertex_batch::v1::ListBatchPredictionJobsRequest;
use vertex_batch::v1::job_service_client::JobServiceClient;

#[tokio::test]
async fn the_binary_serves_where_it_says() {
    let child = Launched::binary(&["--port", "0", "--location", "europe-west4"]);
    let uri = child.uri();
    assert!(uri.starts_with("http://127.0.0.1:"), "{uri}");

    let mut client = JobServiceClient::connect(uri).await.unwrap();
    let parent = PARENT.replace("us-central1", "europe-west4");
    let listed = client
        .list_batch_prediction_jobs(ListBatchPredictionJobsRequest {
            parent,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.batch_prediction_jobs.is_empty());
    let wrong = client
        .list_batch_prediction_jobs(ListBatchPredictionJobsRequest {
            parent: PARENT.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::InvalidArgument);
}

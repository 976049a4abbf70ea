//! The standalone `vertex-batch-emulator` binary prints where it listens and serves there.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::stub::PARENT;
use vertex_batch::v1::ListBatchPredictionJobsRequest;
use vertex_batch::v1::job_service_client::JobServiceClient;

/// Kills the child process when the test ends, however it ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_serves_where_it_says() {
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_vertex-batch-emulator"))
            .args(["--port", "0", "--location", "europe-west4"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run the emulator binary"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let first_line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    let uri = first_line
        .trim()
        .strip_prefix("vertex-batch emulator listening on ")
        .expect("the first line says where it listens")
        .to_string();
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

//! Shared by the transport tests: an emulator, a channel to it, and a cheap call to make.

#![allow(dead_code)] // each test binary uses its own part

use tonic::Code;
use vertex_batch::auth::Credentials;
use vertex_batch::emulator::{Emulator, EmulatorBuilder};
use vertex_batch::endpoint::Endpoint;
use vertex_batch::routing;
use vertex_batch::transport::AuthChannel;
use vertex_batch::v1::job_service_client::JobServiceClient;
use vertex_batch::v1::{GetBatchPredictionJobRequest, ListBatchPredictionJobsRequest};

pub const PARENT: &str = "projects/transport-test/locations/us-central1";
pub const JOB: &str = "projects/transport-test/locations/us-central1/batchPredictionJobs/404";

pub fn emulator() -> EmulatorBuilder {
    Emulator::builder().with_location("us-central1")
}

/// The emulator's endpoint, trusting its CA when it serves TLS.
pub fn endpoint(emu: &Emulator) -> Endpoint {
    let endpoint = Endpoint::custom(&emu.uri()).expect("the emulator's URI is an endpoint");
    match emu.ca_pem() {
        Some(pem) => endpoint.with_ca_pem(pem),
        None => endpoint,
    }
}

pub async fn channel(emu: &Emulator, credentials: Credentials) -> AuthChannel {
    AuthChannel::builder()
        .with_endpoint(endpoint(emu))
        .with_credentials(credentials)
        .connect()
        .await
        .expect("connect to the emulator")
}

/// A List call routed by parent: OK when the call is authenticated.
pub async fn list(channel: &AuthChannel) -> Result<(), tonic::Status> {
    let request = ListBatchPredictionJobsRequest {
        parent: PARENT.to_owned(),
        ..Default::default()
    };
    JobServiceClient::new(channel.clone())
        .list_batch_prediction_jobs(routing::with_parent(tonic::Request::new(request), PARENT))
        .await
        .map(|_| ())
}

/// A Get of a job that does not exist: NOT_FOUND once past authentication.
pub async fn get_missing(channel: &AuthChannel) -> tonic::Status {
    let request = GetBatchPredictionJobRequest {
        name: JOB.to_owned(),
    };
    let status = JobServiceClient::new(channel.clone())
        .get_batch_prediction_job(routing::with_name(tonic::Request::new(request), JOB))
        .await
        .expect_err("the job does not exist");
    assert_ne!(status.code(), Code::Unauthenticated, "{status:?}");
    status
}

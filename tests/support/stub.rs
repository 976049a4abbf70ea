//! Helpers shared by the emulator tests: clients over loopback and a valid job to submit.
#![allow(dead_code)] // each test file uses its own subset

use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use vertex_batch::emulator::Emulator;
use vertex_batch::v1::batch_prediction_job::{
    InputConfig, OutputConfig, input_config, output_config,
};
use vertex_batch::v1::job_service_client::JobServiceClient;
use vertex_batch::v1::{
    BatchPredictionJob, CreateBatchPredictionJobRequest, GcsDestination, GcsSource,
    GetBatchPredictionJobRequest,
};

pub const PARENT: &str = "projects/my-project/locations/us-central1";
pub const MODEL: &str = "publishers/google/models/gemini-2.0-flash-001";

/// A channel to the emulator, trusting its CA when it serves TLS.
pub async fn channel(emu: &Emulator) -> Channel {
    let mut endpoint = Channel::from_shared(emu.uri()).expect("emulator URI");
    if let Some(ca) = emu.ca_pem() {
        endpoint = endpoint
            .tls_config(
                ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(ca))
                    .domain_name("localhost"),
            )
            .expect("TLS config");
    }
    endpoint.connect().await.expect("connect to the emulator")
}

pub async fn client(emu: &Emulator) -> JobServiceClient<Channel> {
    JobServiceClient::new(channel(emu).await)
}

/// A job that passes validation: JSONL in and out of Cloud Storage.
pub fn job(display_name: &str) -> BatchPredictionJob {
    BatchPredictionJob {
        display_name: display_name.to_string(),
        model: MODEL.to_string(),
        input_config: Some(InputConfig {
            instances_format: "jsonl".into(),
            source: Some(input_config::Source::GcsSource(GcsSource {
                uris: vec!["gs://bucket/input.jsonl".into()],
            })),
        }),
        output_config: Some(OutputConfig {
            predictions_format: "jsonl".into(),
            destination: Some(output_config::Destination::GcsDestination(GcsDestination {
                output_uri_prefix: "gs://bucket/out/".into(),
            })),
        }),
        ..BatchPredictionJob::default()
    }
}

pub fn create(job: BatchPredictionJob) -> CreateBatchPredictionJobRequest {
    CreateBatchPredictionJobRequest {
        parent: PARENT.into(),
        batch_prediction_job: Some(job),
    }
}

pub fn get(name: &str) -> GetBatchPredictionJobRequest {
    GetBatchPredictionJobRequest { name: name.into() }
}

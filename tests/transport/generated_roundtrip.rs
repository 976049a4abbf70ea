//! The generated code, end to end over real TCP: a tonic server implementing two JobService RPCs
//! and the generated `JobServiceClient`. Every field of a fully populated BatchPredictionJob must
//! survive the round trip, and an RPC the server did not implement must answer UNIMPLEMENTED.
#![cfg(feature = "emulator")]

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use prost_types::{Struct, Timestamp, Value, value::Kind};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};
use vertex_batch::proto::google::rpc;
use vertex_batch::v1::batch_prediction_job::{
    InputConfig, OutputConfig, OutputInfo, input_config, output_config, output_info,
};
use vertex_batch::v1::job_service_client::JobServiceClient;
use vertex_batch::v1::job_service_server::{JobService, JobServiceServer};
use vertex_batch::v1::{
    BatchPredictionJob, BigQueryDestination, CompletionStats, CreateBatchPredictionJobRequest,
    EncryptionSpec, GcsSource, GetBatchPredictionJobRequest, JobState,
    ListBatchPredictionJobsRequest, ResourcesConsumed,
};

/// Implements Create (stores the job as given) and Get (returns it); nothing else.
#[derive(Default)]
struct TwoRpcs {
    jobs: Mutex<HashMap<String, BatchPredictionJob>>,
}

#[tonic::async_trait]
impl JobService for TwoRpcs {
    async fn create_batch_prediction_job(
        &self,
        request: Request<CreateBatchPredictionJobRequest>,
    ) -> Result<Response<BatchPredictionJob>, Status> {
        let job = request
            .into_inner()
            .batch_prediction_job
            .ok_or_else(|| Status::invalid_argument("batch_prediction_job is required"))?;
        self.jobs
            .lock()
            .unwrap()
            .insert(job.name.clone(), job.clone());
        Ok(Response::new(job))
    }

    async fn get_batch_prediction_job(
        &self,
        request: Request<GetBatchPredictionJobRequest>,
    ) -> Result<Response<BatchPredictionJob>, Status> {
        let name = request.into_inner().name;
        let job = self.jobs.lock().unwrap().get(&name).cloned();
        job.map(Response::new)
            .ok_or_else(|| Status::not_found(name))
    }
}

async fn serve() -> JobServiceClient<Channel> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(JobServiceServer::new(TwoRpcs::default()))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    JobServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

fn text(s: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(s.into())),
    }
}

fn number(n: f64) -> Value {
    Value {
        kind: Some(Kind::NumberValue(n)),
    }
}

fn at(seconds: i64, nanos: i32) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos })
}

/// A job with every field a batch-prediction user sets or reads.
fn full_job(name: &str) -> BatchPredictionJob {
    let parameters = BTreeMap::from([
        ("temperature".to_string(), number(0.2)),
        ("maxOutputTokens".to_string(), number(200.0)),
        (
            "stopSequences".to_string(),
            Value {
                kind: Some(Kind::ListValue(prost_types::ListValue {
                    values: vec![text("END"), text("\n\n")],
                })),
            },
        ),
        ("responseMimeType".to_string(), text("application/json")),
        (
            "nested".to_string(),
            Value {
                kind: Some(Kind::StructValue(Struct {
                    fields: BTreeMap::from([
                        (
                            "flag".to_string(),
                            Value {
                                kind: Some(Kind::BoolValue(true)),
                            },
                        ),
                        (
                            "none".to_string(),
                            Value {
                                kind: Some(Kind::NullValue(0)),
                            },
                        ),
                    ]),
                })),
            },
        ),
    ]);
    BatchPredictionJob {
        name: name.into(),
        display_name: "round-trip".into(),
        model: "publishers/google/models/gemini-2.0-flash-001".into(),
        model_version_id: "1".into(),
        input_config: Some(InputConfig {
            instances_format: "jsonl".into(),
            source: Some(input_config::Source::GcsSource(GcsSource {
                uris: vec!["gs://bucket/a.jsonl".into(), "gs://bucket/b.jsonl".into()],
            })),
        }),
        model_parameters: Some(Value {
            kind: Some(Kind::StructValue(Struct { fields: parameters })),
        }),
        output_config: Some(OutputConfig {
            predictions_format: "bigquery".into(),
            destination: Some(output_config::Destination::BigqueryDestination(
                BigQueryDestination {
                    output_uri: "bq://project.dataset.table".into(),
                },
            )),
        }),
        service_account: "sa@project.iam.gserviceaccount.com".into(),
        output_info: Some(OutputInfo {
            bigquery_output_table: "table".into(),
            output_location: Some(output_info::OutputLocation::BigqueryOutputDataset(
                "bq://project.dataset".into(),
            )),
        }),
        state: JobState::PartiallySucceeded as i32,
        error: Some(rpc::Status {
            code: Code::Internal as i32,
            message: "2 rows failed".into(),
            details: vec![],
        }),
        partial_failures: vec![rpc::Status {
            code: 3,
            message: "row 7".into(),
            details: vec![],
        }],
        resources_consumed: Some(ResourcesConsumed { replica_hours: 1.5 }),
        completion_stats: Some(CompletionStats {
            successful_count: 998,
            failed_count: 2,
            incomplete_count: 0,
            successful_forecast_point_count: 0,
        }),
        create_time: at(1_700_000_000, 1),
        start_time: at(1_700_000_010, 2),
        end_time: at(1_700_000_100, 3),
        update_time: at(1_700_000_100, 4),
        labels: HashMap::from([
            ("team".to_string(), "ml".to_string()),
            ("env".to_string(), "test".to_string()),
        ]),
        encryption_spec: Some(EncryptionSpec {
            kms_key_name: "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k".into(),
        }),
        disable_container_logging: true,
        satisfies_pzs: true,
        satisfies_pzi: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn every_field_survives_create_and_get() {
    let mut client = serve().await;
    let name = "projects/p/locations/us-central1/batchPredictionJobs/42";
    let job = full_job(name);

    let created = client
        .create_batch_prediction_job(CreateBatchPredictionJobRequest {
            parent: "projects/p/locations/us-central1".into(),
            batch_prediction_job: Some(job.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created, job);

    let got = client
        .get_batch_prediction_job(GetBatchPredictionJobRequest { name: name.into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, job);
    // The parts most likely to be lost, checked by name as well as by equality.
    assert!(matches!(
        got.model_parameters.as_ref().and_then(|v| v.kind.as_ref()),
        Some(Kind::StructValue(s)) if s.fields.len() == 5
    ));
    assert_eq!(got.state(), JobState::PartiallySucceeded);
    assert_eq!(got.completion_stats.map(|s| s.successful_count), Some(998));
    assert_eq!(got.labels.get("team").map(String::as_str), Some("ml"));
    assert_eq!(got.end_time, at(1_700_000_100, 3));
}

#[tokio::test]
async fn gcs_destination_and_bigquery_source_survive_too() {
    let mut client = serve().await;
    let name = "projects/p/locations/europe-west4/batchPredictionJobs/7";
    let mut job = full_job(name);
    job.input_config = Some(InputConfig {
        instances_format: "bigquery".into(),
        source: Some(input_config::Source::BigquerySource(
            vertex_batch::v1::BigQuerySource {
                input_uri: "bq://project.dataset.input".into(),
            },
        )),
    });
    job.output_config = Some(OutputConfig {
        predictions_format: "jsonl".into(),
        destination: Some(output_config::Destination::GcsDestination(
            vertex_batch::v1::GcsDestination {
                output_uri_prefix: "gs://bucket/out".into(),
            },
        )),
    });
    job.output_info = Some(OutputInfo {
        bigquery_output_table: String::new(),
        output_location: Some(output_info::OutputLocation::GcsOutputDirectory(
            "gs://bucket/out/prediction-model-2024-01-01T00:00:00.000000Z".into(),
        )),
    });
    client
        .create_batch_prediction_job(CreateBatchPredictionJobRequest {
            parent: "projects/p/locations/europe-west4".into(),
            batch_prediction_job: Some(job.clone()),
        })
        .await
        .unwrap();
    let got = client
        .get_batch_prediction_job(GetBatchPredictionJobRequest { name: name.into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, job);
}

#[tokio::test]
async fn an_rpc_nobody_implemented_answers_unimplemented() {
    let mut client = serve().await;
    let status = client
        .list_batch_prediction_jobs(ListBatchPredictionJobsRequest {
            parent: "projects/p/locations/us-central1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}

#[tokio::test]
async fn get_of_an_unknown_job_is_not_found() {
    let mut client = serve().await;
    let status = client
        .get_batch_prediction_job(GetBatchPredictionJobRequest {
            name: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

//! The documented requests (reference/gemini-batch-prediction-docs.txt), built with the job
//! builder in a few lines each and compared field by field with the REST bodies and the
//! samples' protos.

use serde_json::{Value as Json, json};
use vertex_batch::params::value_to_json;

use crate::support::reference::BIGQUERY_BODY;
use vertex_batch::v1::batch_prediction_job::{input_config::Source, output_config::Destination};
use vertex_batch::v1::{
    BatchPredictionJob, BigQueryDestination, BigQuerySource, GcsDestination, GcsSource,
};
use vertex_batch::{GenerationConfig, LocationName};

const PROJECT: &str = "my-project";
const LOCATION: &str = "us-central1";

fn parent() -> LocationName {
    LocationName::new(PROJECT, LOCATION).expect("a valid parent")
}

/// The REST (proto3 JSON) form of the fields a batch job request sets, written out field by
/// field from the generated message, so a mismatch with the documented body shows as a diff.
fn rest_body(job: &BatchPredictionJob) -> Json {
    let input = job.input_config.as_ref().expect("input_config is set");
    let source = match input.source.as_ref().expect("a source is set") {
        Source::GcsSource(GcsSource { uris }) => ("gcsSource", json!({ "uris": uris })),
        Source::BigquerySource(BigQuerySource { input_uri }) => {
            ("bigquerySource", json!({ "inputUri": input_uri }))
        }
        other => panic!("unexpected source {other:?}"),
    };
    let output = job.output_config.as_ref().expect("output_config is set");
    let destination = match output.destination.as_ref().expect("a destination is set") {
        Destination::GcsDestination(GcsDestination { output_uri_prefix }) => (
            "gcsDestination",
            json!({ "outputUriPrefix": output_uri_prefix }),
        ),
        Destination::BigqueryDestination(BigQueryDestination { output_uri }) => {
            ("bigqueryDestination", json!({ "outputUri": output_uri }))
        }
        other => panic!("unexpected destination {other:?}"),
    };
    let mut body = json!({
        "displayName": job.display_name,
        "model": job.model,
        "inputConfig": { "instancesFormat": input.instances_format, source.0: source.1 },
        "outputConfig": { "predictionsFormat": output.predictions_format, destination.0: destination.1 },
    });
    if let Some(params) = &job.model_parameters {
        body["modelParameters"] = value_to_json(params).expect("parameters convert back");
    }
    body
}

/// The REST sample "Cloud Storage input", with INPUT_URI, OUTPUT_FORMAT = jsonl,
/// DESTINATION = gcsDestination, OUTPUT_URI_FIELD_NAME = outputUriPrefix filled in.
/// (The page writes `"uris": "INPUT_URI"`; the field is repeated, so JSON has a list.)
#[test]
fn rest_cloud_storage_sample() {
    let job = BatchPredictionJob::builder("gemini-1.5-flash-002")
        .with_display_name("my-cloud-storage-batch-prediction-job")
        .with_input("gs://bucketname/path/to/file.jsonl")
        .with_output("gs://mybucket/path/to/output")
        .build(&parent())
        .expect("the documented request builds");
    assert_eq!(
        rest_body(&job),
        json!({
          "displayName": "my-cloud-storage-batch-prediction-job",
          "model": "publishers/google/models/gemini-1.5-flash-002",
          "inputConfig": {
            "instancesFormat": "jsonl",
            "gcsSource": {
              "uris" : ["gs://bucketname/path/to/file.jsonl"]
            }
          },
          "outputConfig": {
            "predictionsFormat": "jsonl",
            "gcsDestination": {
              "outputUriPrefix": "gs://mybucket/path/to/output"
            }
          }
        })
    );
    assert_eq!(job.model_parameters, None);
    assert!(job.labels.is_empty());
}

/// The REST sample "BigQuery input", with OUTPUT_FORMAT = bigquery,
/// DESTINATION = bigqueryDestination, OUTPUT_URI_FIELD_NAME = outputUri filled in.
#[test]
fn rest_bigquery_sample() {
    let job = BatchPredictionJob::builder("gemini-1.5-flash-002")
        .with_display_name("my-bigquery-batch-prediction-job")
        .with_input("bq://myproject.mydataset.input_table")
        .with_output("bq://myproject.mydataset.output_result")
        .build(&parent())
        .expect("the documented request builds");
    assert_eq!(
        rest_body(&job),
        serde_json::from_str::<Json>(BIGQUERY_BODY).unwrap()
    );
}

/// The REST sample "BigQuery input" writing to Cloud Storage (OUTPUT_FORMAT = jsonl).
#[test]
fn rest_bigquery_input_to_cloud_storage() {
    let job = BatchPredictionJob::builder("gemini-1.5-flash-002")
        .with_display_name("my-bigquery-batch-prediction-job")
        .with_input("bq://myproject.mydataset.input_table")
        .with_output("gs://mybucket/path/to/output")
        .build(&parent())
        .expect("the documented request builds");
    let body = rest_body(&job);
    assert_eq!(body["inputConfig"]["instancesFormat"], "bigquery");
    assert_eq!(
        body["outputConfig"],
        json!({"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": "gs://mybucket/path/to/output"}})
    );
}

/// The Go sample `batchPredictGCS`: the proto it builds, field by field, including
/// `structpb.NewValue({"temperature": 0.2, "maxOutputTokens": 200})`.
#[test]
fn go_cloud_storage_sample() {
    let input_uris = ["gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl"];
    let output_uri = "gs://my-bucket/my-prefix";
    let job = BatchPredictionJob::builder("gemini-1.5-pro-002")
        .with_display_name("batch-predict-gcs-test-001")
        .with_inputs(input_uris)
        .with_output(output_uri)
        .with_generation_config(
            GenerationConfig::new()
                .with_temperature(0.2)
                .with_max_output_tokens(200),
        )
        .build(&parent())
        .expect("the Go sample builds");

    let model_parameters = prost_types::Value {
        kind: Some(prost_types::value::Kind::StructValue(prost_types::Struct {
            fields: [
                ("temperature".to_owned(), number(0.2)),
                ("maxOutputTokens".to_owned(), number(200.0)),
            ]
            .into(),
        })),
    };
    let expected = BatchPredictionJob {
        display_name: "batch-predict-gcs-test-001".into(),
        model: "publishers/google/models/gemini-1.5-pro-002".into(),
        model_parameters: Some(model_parameters),
        input_config: Some(vertex_batch::v1::batch_prediction_job::InputConfig {
            source: Some(Source::GcsSource(GcsSource {
                uris: input_uris.map(String::from).to_vec(),
            })),
            instances_format: "jsonl".into(),
        }),
        output_config: Some(vertex_batch::v1::batch_prediction_job::OutputConfig {
            destination: Some(Destination::GcsDestination(GcsDestination {
                output_uri_prefix: output_uri.into(),
            })),
            predictions_format: "jsonl".into(),
        }),
        ..Default::default()
    };
    assert_eq!(job, expected);
}

/// The Go sample `batchPredictBQ`, and the Java/Node.js BigQuery samples whose model is
/// `projects/P/locations/L/publishers/google/models/...`.
#[test]
fn go_and_java_bigquery_samples() {
    let input_uri = "bq://storage-samples.generative_ai.batch_requests_for_multimodal_input";
    let output_uri = "bq://my-project.my_dataset.my_table";
    let go = BatchPredictionJob::builder("gemini-1.5-pro-002")
        .with_display_name("batch-predict-bq-test-001")
        .with_input(input_uri)
        .with_output(output_uri)
        .with_model_parameters(json!({"temperature": 0.2, "maxOutputTokens": 200}))
        .build(&parent())
        .expect("the Go sample builds");
    assert_eq!(
        rest_body(&go),
        json!({
            "displayName": "batch-predict-bq-test-001",
            "model": "publishers/google/models/gemini-1.5-pro-002",
            "modelParameters": {"temperature": 0.2, "maxOutputTokens": 200},
            "inputConfig": {"instancesFormat": "bigquery", "bigquerySource": {"inputUri": input_uri}},
            "outputConfig": {"predictionsFormat": "bigquery", "bigqueryDestination": {"outputUri": output_uri}},
        })
    );

    let java_model = format!(
        "projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/gemini-1.5-flash-002"
    );
    let java = BatchPredictionJob::builder(java_model.as_str())
        .with_display_name("my-display-name")
        .with_input(input_uri)
        .with_output(output_uri)
        .build(&parent())
        .expect("the Java sample builds");
    assert_eq!(java.model, java_model);
    assert_eq!(java.model_parameters, None);
}

/// The Python samples: `BatchPredictionJob.submit(source_model, input_dataset, output_uri_prefix)`
/// with no display name; the builder names the job.
#[test]
fn python_samples_need_no_display_name() {
    for (input, output) in [
        (
            "gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl",
            "gs://my-bucket/out",
        ),
        (
            "bq://storage-samples.generative_ai.batch_requests_for_multimodal_input",
            "bq://my-project",
        ),
    ] {
        let job = BatchPredictionJob::builder("gemini-1.5-flash-002")
            .with_input(input)
            .with_output(output)
            .build(&parent())
            .expect("the Python sample builds");
        assert!(
            job.display_name.starts_with("vertex-batch-"),
            "{}",
            job.display_name
        );
        assert_eq!(job.model, "publishers/google/models/gemini-1.5-flash-002");
    }
}

fn number(n: f64) -> prost_types::Value {
    prost_types::Value {
        kind: Some(prost_types::value::Kind::NumberValue(n)),
    }
}

//! `create --request`: every REST body of the docs, verbatim, and a bad body as a one-line
//! error naming it.

use std::path::PathBuf;

use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::v1::batch_prediction_job::input_config::Source;
use vertex_batch::v1::batch_prediction_job::output_config::Destination;

use crate::cli::*;

/// The REST request bodies of the docs, verbatim, with their placeholders.
const DOCS_SYNTAX_BODY: &str = r#"{
      "displayName": "...",
      "model": "publishers/google/models/${MODEL_ID}",
      "inputConfig": {
        "instancesFormat": "bigquery",
        "bigquerySource": {
          "inputUri" : "..."
        }
      },
      "outputConfig": {
        "predictionsFormat": "bigquery",
        "bigqueryDestination": {
          "outputUri": "..."
        }
      }
  }"#;

pub(crate) const DOCS_GCS_BODY: &str = r#"{
  "displayName": "my-cloud-storage-batch-prediction-job",
  "model": "publishers/google/models/gemini-1.5-flash-002",
  "inputConfig": {
    "instancesFormat": "jsonl",
    "gcsSource": {
      "uris" : "INPUT_URI"
    }
  },
  "outputConfig": {
    "predictionsFormat": "OUTPUT_FORMAT",
    "DESTINATION": {
      "OUTPUT_URI_FIELD_NAME": "OUTPUT_URI"
    }
  }
}"#;

const DOCS_BIGQUERY_BODY: &str = r#"{
  "displayName": "my-bigquery-batch-prediction-job",
  "model": "publishers/google/models/gemini-1.5-flash-002",
  "inputConfig": {
    "instancesFormat": "bigquery",
    "bigquerySource":{
      "inputUri" : "INPUT_URI"
    }
  },
  "outputConfig": {
    "predictionsFormat": "OUTPUT_FORMAT",
    "DESTINATION": {
      "OUTPUT_URI_FIELD_NAME": "OUTPUT_URI"
    }
  }
}"#;

/// The docs' replacements for a Cloud Storage or a BigQuery output.
pub(crate) fn fill(body: &str, input: &str, bigquery_output: bool) -> String {
    let (format, destination, field, uri) = if bigquery_output {
        (
            "bigquery",
            "bigqueryDestination",
            "outputUri",
            "bq://my-project.mydataset.output_result",
        )
    } else {
        (
            "jsonl",
            "gcsDestination",
            "outputUriPrefix",
            "gs://my-bucket/path/to/output",
        )
    };
    body.replace("INPUT_URI", input)
        .replace("OUTPUT_FORMAT", format)
        .replace("DESTINATION", destination)
        .replace("OUTPUT_URI_FIELD_NAME", field)
        .replace("OUTPUT_URI", uri)
}

fn input_uris(job: &BatchPredictionJob) -> Vec<String> {
    match job.input_config.as_ref().and_then(|c| c.source.as_ref()) {
        Some(Source::GcsSource(gcs)) => gcs.uris.clone(),
        Some(Source::BigquerySource(bq)) => vec![bq.input_uri.clone()],
        _ => vec![],
    }
}

fn output_uri(job: &BatchPredictionJob) -> String {
    match job
        .output_config
        .as_ref()
        .and_then(|c| c.destination.as_ref())
    {
        Some(Destination::GcsDestination(gcs)) => gcs.output_uri_prefix.clone(),
        Some(Destination::BigqueryDestination(bq)) => bq.output_uri.clone(),
        _ => String::new(),
    }
}

#[test]
fn create_accepts_every_rest_body_of_the_docs() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let syntax = DOCS_SYNTAX_BODY
        .replace("${MODEL_ID}", "gemini-2.0-flash-001")
        .replacen("\"...\"", "\"docs-syntax\"", 1)
        .replacen("\"...\"", "\"bq://my-project.mydataset.input_table\"", 1)
        .replacen("\"...\"", "\"bq://my-project.mydataset.output_result\"", 1);
    let gcs_input = "gs://my-bucket/path/to/file.jsonl";
    let bq_input = "bq://my-project.mydataset.input_table";
    let bodies = [
        ("syntax", syntax),
        ("gcs-to-gcs", fill(DOCS_GCS_BODY, gcs_input, false)),
        ("gcs-to-bq", fill(DOCS_GCS_BODY, gcs_input, true)),
        ("bq-to-bq", fill(DOCS_BIGQUERY_BODY, bq_input, true)),
        ("bq-to-gcs", fill(DOCS_BIGQUERY_BODY, bq_input, false)),
    ];
    for (name, body) in bodies {
        let request: serde_json::Value = serde_json::from_str(&body).expect("the body is JSON");
        let path = dir.join(format!("request-{name}-{}.json", std::process::id()));
        std::fs::write(&path, &body).expect("written");
        let from_file = job_from_stdout(vb(&[
            "create",
            "--request",
            path.to_str().expect("utf-8"),
            "--json",
        ]));
        let from_stdin = job_from_stdout(vb_with_stdin(
            &["create", "--request", "-", "--json"],
            Some(&body),
        ));
        for job in [&from_file, &from_stdin] {
            assert!(job.name.contains("/batchPredictionJobs/"), "{name}");
            assert_eq!(
                job.display_name,
                request["displayName"].as_str().expect("a name"),
                "{name}"
            );
            assert_eq!(
                job.model,
                request["model"].as_str().expect("a model"),
                "{name}"
            );
            let input = &request["inputConfig"];
            let expected_input = input["gcsSource"]["uris"]
                .as_str()
                .or(input["bigquerySource"]["inputUri"].as_str())
                .expect("an input");
            assert_eq!(input_uris(job), [expected_input], "{name}");
            let output = &request["outputConfig"];
            let expected_output = output["gcsDestination"]["outputUriPrefix"]
                .as_str()
                .or(output["bigqueryDestination"]["outputUri"].as_str())
                .expect("an output");
            assert_eq!(output_uri(job), expected_output, "{name}");
        }
        assert_ne!(from_file.name, from_stdin.name, "two requests, two jobs");
    }
}

#[test]
fn a_bad_request_body_is_a_one_line_error_naming_it() {
    let line = one_line_error(
        vb_with_stdin(
            &["create", "--request", "-"],
            Some(r#"{"displayName": "x", "modle": "m"}"#),
        ),
        1,
    );
    assert!(
        line.contains("--request") && line.contains("modle"),
        "{line}"
    );
    let line = one_line_error(vb(&["create", "--request", "/nonexistent/request.json"]), 1);
    assert!(line.contains("/nonexistent/request.json"), "{line}");
}

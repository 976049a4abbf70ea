//! The REST request bodies of the reference page ("Batch prediction for Gemini", the samples
//! in `shared/reference/`), their placeholders filled in, for the tests that send them or
//! compare with them.
#![allow(dead_code)] // each test binary uses its own part

/// The Cloud Storage sample's body, `uris` a lone string as the page writes it.
pub const GCS_BODY: &str = r#"{
  "displayName": "my-cloud-storage-batch-prediction-job",
  "model": "publishers/google/models/gemini-1.5-flash-002",
  "inputConfig": {
    "instancesFormat": "jsonl",
    "gcsSource": {
      "uris" : "gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl"
    }
  },
  "outputConfig": {
    "predictionsFormat": "jsonl",
    "gcsDestination": {
      "outputUriPrefix": "gs://mybucket/path/to/output"
    }
  }
}"#;

/// The BigQuery sample's body.
pub const BIGQUERY_BODY: &str = r#"{
  "displayName": "my-bigquery-batch-prediction-job",
  "model": "publishers/google/models/gemini-1.5-flash-002",
  "inputConfig": {
    "instancesFormat": "bigquery",
    "bigquerySource":{
      "inputUri" : "bq://myproject.mydataset.input_table"
    }
  },
  "outputConfig": {
    "predictionsFormat": "bigquery",
    "bigqueryDestination": {
      "outputUri": "bq://myproject.mydataset.output_result"
    }
  }
}"#;

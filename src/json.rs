//! proto3 JSON, the shape the REST API speaks: camelCase names, enums as names, RFC 3339 times.
//!
//! A REST request body from the documentation becomes a `BatchPredictionJob`, and a job prints as
//! the REST API would return it. Built on prost-reflect and the crate's own descriptor set
//! ([`crate::FILE_DESCRIPTOR_SET`]), so every field of the vendored protos is covered.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::v1::BatchPredictionJob;

const JOB_MESSAGE: &str = "google.cloud.aiplatform.v1.BatchPredictionJob";

/// The largest REST request body [`job_from_json`] takes, in bytes (4 MiB, the message size gRPC
/// servers accept by default; a job is a few KiB).
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// A job as proto3 JSON, as the REST API returns it.
///
/// ```
/// use vertex_batch::json::job_to_json;
/// use vertex_batch::v1::{BatchPredictionJob, JobState};
///
/// let job = BatchPredictionJob {
///     display_name: "nightly".into(),
///     state: JobState::Running as i32,
///     ..Default::default()
/// };
/// let json = job_to_json(&job)?;
/// assert_eq!(json["displayName"], "nightly");
/// assert_eq!(json["state"], "JOB_STATE_RUNNING");
/// # Ok::<(), vertex_batch::Error>(())
/// ```
pub fn job_to_json(job: &BatchPredictionJob) -> Result<Json> {
    let mut message = DynamicMessage::new(job_descriptor());
    message
        .transcode_from(job)
        .map_err(|e| Error::internal(format!("a job could not be re-encoded: {e}")))?;
    let options = SerializeOptions::new().skip_default_fields(true);
    message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|e| Error::internal(format!("a job could not be written as JSON: {e}")))
}

/// A job from a REST request body (proto3 JSON), e.g. the bodies of the batch-prediction docs.
///
/// As in those docs, `inputConfig.gcsSource.uris` may be a single string rather than a list.
/// Unknown fields are errors that name the field; a body longer than [`MAX_BODY_BYTES`] is an
/// error too, and so is an integer beyond 2^53 in magnitude anywhere in it, as written: a
/// protobuf number (`modelParameters`) would change its value, and proto3 JSON writes 64-bit
/// integer fields as strings (`"successfulCount": "12"`), which stay exact. `modelParameters`
/// nested deeper than decoders read ([`MAX_DEPTH`](crate::params::MAX_DEPTH)) is an error
/// naming where.
///
/// ```
/// use vertex_batch::json::job_from_json;
///
/// let job = job_from_json(r#"{
///   "displayName": "my-cloud-storage-batch-prediction-job",
///   "model": "publishers/google/models/gemini-1.5-flash-002",
///   "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": "gs://b/in.jsonl"}},
///   "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": "gs://b/out"}}
/// }"#)?;
/// assert_eq!(job.display_name, "my-cloud-storage-batch-prediction-job");
/// # Ok::<(), vertex_batch::Error>(())
/// ```
pub fn job_from_json(body: &str) -> Result<BatchPredictionJob> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::invalid(
            "request body",
            format!(
                "is {} bytes, longer than the limit of {}",
                body.len(),
                crate::error::size_text(MAX_BODY_BYTES)
            ),
        ));
    }
    let mut json: Json = serde_json::from_str(body)
        .map_err(|e| Error::invalid("request body", format!("not JSON: {e}")))?;
    if let Some(big) = crate::params::big_integer_in_text(body) {
        return Err(big_integer(&big));
    }
    accept_single_uri(&mut json);
    job_from_json_value(json)
}

/// Like [`job_from_json`], from a parsed JSON value (taken as it is: `uris` must be a list).
///
/// Integers beyond 2^53 are refused as [`job_from_json`] refuses them, but only those
/// `serde_json` kept as integers: parsing read any beyond 64 bits as a rounded float already.
pub fn job_from_json_value(json: Json) -> Result<BatchPredictionJob> {
    if let Some(big) = crate::params::big_integer_in_value(&json) {
        return Err(big_integer(&big));
    }
    // Deeper than a decoder reads, the job could not even be built: say where, in few words.
    if let Some(parameters) = json.get("modelParameters")
        && let Err(Error::InvalidInput { field, reason }) =
            crate::params::json_to_value_at(parameters, "modelParameters")
    {
        return Err(Error::invalid(
            "request body",
            format!("at `{field}`: {reason}"),
        ));
    }
    let message = DynamicMessage::deserialize(job_descriptor(), json.clone()).map_err(|e| {
        let at = failing_path(&job_descriptor(), &json)
            .map(|path| format!("at `{path}`: "))
            .unwrap_or_default();
        Error::invalid(
            "request body",
            format!("{at}not a BatchPredictionJob in proto3 JSON (camelCase field names): {e}"),
        )
    })?;
    message
        .transcode_to()
        .map_err(|e| Error::invalid("request body", format!("could not be decoded: {e}")))
}

/// The error for an integer beyond 2^53 in a request body, at its path (`modelParameters.seed`).
fn big_integer(big: &crate::params::BigInteger) -> Error {
    let path = crate::params::path_text("", &big.path);
    Error::invalid(
        "request body",
        format!(
            "at `{}`: {}",
            path.trim_start_matches('.'),
            crate::params::too_big_reason(&big.literal)
        ),
    )
}

/// The docs write `"uris": "gs://..."`; the proto field is repeated. Wrap a lone string.
fn accept_single_uri(json: &mut Json) {
    if let Some(uris) = json.pointer_mut("/inputConfig/gcsSource/uris")
        && uris.is_string()
    {
        *uris = Json::Array(vec![uris.take()]);
    }
}

/// The path (`inputConfig.gcsSource.uris`) of the first field of `json` that does not decode as
/// `descriptor`: prost-reflect's errors say what was wrong but not where. Found by decoding one
/// field at a time, only once decoding has failed.
fn failing_path(descriptor: &MessageDescriptor, json: &Json) -> Option<String> {
    let Json::Object(map) = json else {
        return None;
    };
    map.iter().find_map(|(key, value)| {
        let alone = Json::Object([(key.clone(), value.clone())].into_iter().collect());
        DynamicMessage::deserialize(descriptor.clone(), alone).err()?;
        let field = descriptor
            .get_field_by_json_name(key)
            .or_else(|| descriptor.get_field_by_name(key));
        let deeper = match field.map(|f| (f.kind(), f.is_list() || f.is_map())) {
            Some((prost_reflect::Kind::Message(inner), false)) => failing_path(&inner, value),
            _ => None,
        };
        Some(deeper.map_or_else(|| key.clone(), |path| format!("{key}.{path}")))
    })
}

/// The descriptor pool of every vendored proto, decoded once.
pub(crate) fn descriptor_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        // The set is made by build.rs from the same protos: it always decodes.
        DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET)
            .expect("the crate's own descriptor set decodes")
    })
}

fn job_descriptor() -> MessageDescriptor {
    descriptor_pool()
        .get_message_by_name(JOB_MESSAGE)
        .expect("BatchPredictionJob is in the crate's descriptor set")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::JobState;

    #[test]
    fn the_bigquery_body_of_the_docs_is_accepted() {
        let job = job_from_json(
            r#"{
              "displayName": "my-bigquery-batch-prediction-job",
              "model": "publishers/google/models/gemini-1.5-flash-002",
              "inputConfig": {"instancesFormat": "bigquery", "bigquerySource": {"inputUri": "bq://p.d.t"}},
              "outputConfig": {"predictionsFormat": "bigquery", "bigqueryDestination": {"outputUri": "bq://p.d.out"}}
            }"#,
        )
        .unwrap();
        assert_eq!(job.input_config.unwrap().instances_format, "bigquery");
    }

    #[test]
    fn a_job_round_trips_through_json() {
        let job = BatchPredictionJob {
            name: "projects/p/locations/us-central1/batchPredictionJobs/1".into(),
            state: JobState::Succeeded as i32,
            create_time: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            labels: [("team".to_string(), "ml".to_string())].into(),
            ..Default::default()
        };
        let json = job_to_json(&job).unwrap();
        assert_eq!(json["createTime"], "2023-11-14T22:13:20Z");
        assert_eq!(job_from_json_value(json).unwrap(), job);
    }

    #[test]
    fn wrong_types_and_unknown_fields_name_the_field() {
        let err = job_from_json(r#"{"displayName": 5}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("request body"), "{err}");
        assert!(err.contains("at `displayName`"), "{err}");
        let err = job_from_json(r#"{"inputConfig": {"gcsSource": {"uris": [5]}}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at `inputConfig.gcsSource.uris`"), "{err}");
        let err = job_from_json(r#"{"displayNam": "x"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("displayNam"), "{err}");
        assert!(job_from_json("not json").unwrap_err().is_invalid_input());
    }
}

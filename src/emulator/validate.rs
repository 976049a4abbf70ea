//! The service's rules for resource names and for the jobs that Create accepts. Violations
//! become INVALID_ARGUMENT with google.rpc.BadRequest field violations naming the field.

use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use super::outcome::{OUTCOME_LABEL, Outcome};
use crate::names::split_bigquery_path;
use crate::v1::BatchPredictionJob;
use crate::v1::batch_prediction_job::input_config::Source;
use crate::v1::batch_prediction_job::output_config::Destination;

/// The INVALID_ARGUMENT status for `violations`, its message listing them all.
pub(crate) fn bad_request(violations: Vec<FieldViolation>) -> tonic::Status {
    let listed: Vec<String> = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect();
    tonic::Status::with_error_details(
        tonic::Code::InvalidArgument,
        format!(
            "Request contains an invalid argument. {}",
            listed.join("; ")
        ),
        ErrorDetails::with_bad_request(violations),
    )
}

fn violation(field: &str, description: impl Into<String>) -> FieldViolation {
    FieldViolation::new(field, description)
}

fn is_segment(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.:".contains(c))
}

fn is_location(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A location the emulator can serve: lower-case letters, digits and hyphens.
pub(crate) fn valid_location(location: &str) -> bool {
    is_location(location)
}

/// `projects/{project}/locations/{location}` -> (project, location), checking the location is
/// the emulator's own.
pub(crate) fn parent<'a>(
    parent: &'a str,
    field: &str,
    served: &str,
) -> Result<(&'a str, &'a str), FieldViolation> {
    match parent.split('/').collect::<Vec<_>>().as_slice() {
        ["projects", project, "locations", location]
            if is_segment(project) && is_location(location) =>
        {
            check_location(location, field, served)?;
            Ok((project, location))
        }
        _ => Err(violation(
            field,
            format!(
                "`{parent}` is not a location name: expected `projects/{{project}}/locations/{{location}}`"
            ),
        )),
    }
}

fn check_location(location: &str, field: &str, served: &str) -> Result<(), FieldViolation> {
    if location == served {
        Ok(())
    } else {
        Err(violation(
            field,
            format!(
                "location `{location}` does not match this endpoint's location `{served}`: \
                 send requests for {location} to the {location} endpoint"
            ),
        ))
    }
}

/// Checks a `projects/{project}/locations/{location}/batchPredictionJobs/{id}` name.
pub(crate) fn job_name(name: &str, served: &str) -> Result<(), tonic::Status> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        [
            "projects",
            project,
            "locations",
            location,
            "batchPredictionJobs",
            id,
        ] if is_segment(project)
            && is_location(location)
            && !id.is_empty()
            && id.chars().all(|c| c.is_ascii_digit()) =>
        {
            check_location(location, "name", served).map_err(|v| bad_request(vec![v]))
        }
        _ => Err(bad_request(vec![violation(
            "name",
            format!(
                "`{name}` is not a batch prediction job name: expected \
                 `projects/{{project}}/locations/{{location}}/batchPredictionJobs/{{numeric id}}`"
            ),
        )])),
    }
}

/// Every rule a submitted job breaks (empty when it is fine). `served` is the emulator's
/// location, which a tuned model's location must match too.
pub(crate) fn job(job: &BatchPredictionJob, served: &str) -> Vec<FieldViolation> {
    let mut found = Vec::new();
    let f = |name: &str| format!("batch_prediction_job.{name}");

    if job.display_name.trim().is_empty() {
        found.push(violation(
            &f("display_name"),
            "required: give the job a display name",
        ));
    } else if job.display_name.chars().count() > 128 {
        found.push(violation(&f("display_name"), "at most 128 characters"));
    }
    if let Err(reason) = model(&job.model, served) {
        found.push(violation(&f("model"), reason));
    }
    input(job, &mut found);
    output(job, &mut found);
    if let Some(value) = &job.model_parameters
        && !matches!(value.kind, Some(prost_types::value::Kind::StructValue(_)))
    {
        found.push(violation(
            &f("model_parameters"),
            "must be a struct value, e.g. {\"temperature\": 0.2, \"maxOutputTokens\": 1024}",
        ));
    }
    labels(job, &mut found);
    found
}

fn model(model: &str, served: &str) -> Result<(), String> {
    let parts: Vec<&str> = model.split('/').collect();
    let ok = |segments: &[&&str]| segments.iter().all(|s| is_segment(s));
    match parts.as_slice() {
        [] | [""] => Err("required: e.g. `publishers/google/models/gemini-2.0-flash-001`".into()),
        ["publishers", publisher, "models", name] if ok(&[publisher, name]) => Ok(()),
        [
            "projects",
            project,
            "locations",
            location,
            "publishers",
            publisher,
            "models",
            name,
        ] if ok(&[project, location, publisher, name]) => same_location(location, served),
        ["projects", project, "locations", location, "models", id] if ok(&[project, location]) => {
            let (id, version) = id.split_once('@').unwrap_or((id, "1"));
            let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
            if !digits(id) || !(digits(version) || is_segment(version)) {
                return Err(format!(
                    "`{model}`: a tuned model is `projects/{{p}}/locations/{{l}}/models/{{numeric id}}[@version]`"
                ));
            }
            same_location(location, served)
        }
        _ => Err(format!(
            "`{model}` is not a model name: expected `publishers/{{publisher}}/models/{{model}}`, \
             `projects/{{p}}/locations/{{l}}/publishers/{{publisher}}/models/{{model}}` or a tuned \
             model `projects/{{p}}/locations/{{l}}/models/{{id}}[@version]`"
        )),
    }
}

/// A model's id, without its version: `publishers/google/models/gemini-2.0-flash-001@1` ->
/// `gemini-2.0-flash-001`, `projects/p/locations/l/models/123@2` -> `123`. What responses name
/// as their model version, and what the List filter takes for the model's display name.
pub(crate) fn model_id(model: &str) -> &str {
    let last = model.rsplit('/').next().unwrap_or(model);
    last.split('@').next().unwrap_or(last)
}

fn same_location(location: &str, served: &str) -> Result<(), String> {
    if location == served {
        Ok(())
    } else {
        Err(format!(
            "the model is in `{location}` but this endpoint serves `{served}`"
        ))
    }
}

const GCS_INPUT_FORMATS: [&str; 5] = ["jsonl", "csv", "tf-record", "tf-record-gzip", "file-list"];
const GCS_OUTPUT_FORMATS: [&str; 2] = ["jsonl", "csv"];

fn input(job: &BatchPredictionJob, found: &mut Vec<FieldViolation>) {
    let Some(config) = &job.input_config else {
        found.push(violation(
            "batch_prediction_job.input_config",
            "required: where the input rows are",
        ));
        return;
    };
    let format = config.instances_format.as_str();
    let format_field = "batch_prediction_job.input_config.instances_format";
    match &config.source {
        None => found.push(violation(
            "batch_prediction_job.input_config.source",
            "required: set gcs_source or bigquery_source",
        )),
        Some(Source::GcsSource(gcs)) => {
            if gcs.uris.is_empty() {
                found.push(violation(
                    "batch_prediction_job.input_config.gcs_source.uris",
                    "required: at least one `gs://bucket/path` URI",
                ));
            }
            for (i, uri) in gcs.uris.iter().enumerate() {
                if !is_gcs_uri(uri) {
                    found.push(violation(
                        &format!("batch_prediction_job.input_config.gcs_source.uris[{i}]"),
                        format!("`{uri}` is not a Cloud Storage URI: expected `gs://bucket/object`"),
                    ));
                }
            }
            if !GCS_INPUT_FORMATS.contains(&format) {
                found.push(violation(
                    format_field,
                    format!("`{format}` is not a format for gcs_source: use one of {}", GCS_INPUT_FORMATS.join(", ")),
                ));
            }
        }
        Some(Source::BigquerySource(bq)) => {
            if !is_bq_uri(&bq.input_uri, 3, 3) {
                found.push(violation(
                    "batch_prediction_job.input_config.bigquery_source.input_uri",
                    format!("`{}` is not a BigQuery table: expected `bq://project.dataset.table`", bq.input_uri),
                ));
            }
            if format != "bigquery" {
                found.push(violation(format_field, format!("`{format}` does not match bigquery_source: use `bigquery`")));
            }
        }
        Some(Source::VertexMultimodalDatasetSource(_)) => found.push(violation(
            "batch_prediction_job.input_config.vertex_multimodal_dataset_source",
            "the emulator does not support multimodal dataset sources: use gcs_source or bigquery_source",
        )),
    }
}

fn output(job: &BatchPredictionJob, found: &mut Vec<FieldViolation>) {
    let Some(config) = &job.output_config else {
        found.push(violation(
            "batch_prediction_job.output_config",
            "required: where predictions go",
        ));
        return;
    };
    let format = config.predictions_format.as_str();
    let format_field = "batch_prediction_job.output_config.predictions_format";
    match &config.destination {
        None => found.push(violation(
            "batch_prediction_job.output_config.destination",
            "required: set gcs_destination or bigquery_destination",
        )),
        Some(Destination::GcsDestination(gcs)) => {
            if !is_gcs_uri(&gcs.output_uri_prefix) {
                found.push(violation(
                    "batch_prediction_job.output_config.gcs_destination.output_uri_prefix",
                    format!("`{}` is not a Cloud Storage URI: expected `gs://bucket/prefix`", gcs.output_uri_prefix),
                ));
            }
            if !GCS_OUTPUT_FORMATS.contains(&format) {
                found.push(violation(
                    format_field,
                    format!("`{format}` is not a format for gcs_destination: use one of {}", GCS_OUTPUT_FORMATS.join(", ")),
                ));
            }
        }
        Some(Destination::BigqueryDestination(bq)) => {
            if !is_bq_uri(&bq.output_uri, 1, 3) {
                found.push(violation(
                    "batch_prediction_job.output_config.bigquery_destination.output_uri",
                    format!("`{}` is not a BigQuery destination: expected `bq://project[.dataset[.table]]`", bq.output_uri),
                ));
            }
            if format != "bigquery" {
                found.push(violation(format_field, format!("`{format}` does not match bigquery_destination: use `bigquery`")));
            }
        }
        Some(Destination::VertexMultimodalDatasetDestination(_)) => found.push(violation(
            "batch_prediction_job.output_config.vertex_multimodal_dataset_destination",
            "the emulator does not support multimodal dataset destinations: use gcs_destination or bigquery_destination",
        )),
    }
}

fn is_gcs_uri(uri: &str) -> bool {
    uri.strip_prefix("gs://")
        .and_then(|rest| rest.split('/').next())
        .is_some_and(|bucket| bucket.len() >= 3 && !bucket.contains(char::is_whitespace))
        && !uri.contains(char::is_whitespace)
}

/// `bq://[DOMAIN:]PROJECT[.DATASET[.TABLE]]` with `min_parts` to `max_parts` parts. The project
/// may be domain-scoped (`example.com:my-project`), so the first part may hold dots.
fn is_bq_uri(uri: &str, min_parts: usize, max_parts: usize) -> bool {
    uri.strip_prefix("bq://").is_some_and(|path| {
        let parts = split_bigquery_path(path);
        (min_parts..=max_parts).contains(&parts.len())
            && parts.iter().enumerate().all(|(i, p)| {
                !p.is_empty()
                    && p.chars().all(|c| {
                        c.is_ascii_alphanumeric() || "-_:$".contains(c) || (i == 0 && c == '.')
                    })
            })
    })
}

/// Labels: at most 64; keys 1 to 63 characters, starting with a lower-case letter, of
/// lower-case letters (international ones too), digits, `_` and `-`; values up to 63 of the
/// same characters. The client's own rules, so the two agree.
fn labels(job: &BatchPredictionJob, found: &mut Vec<FieldViolation>) {
    const FIELD: &str = "batch_prediction_job.labels";
    if job.labels.len() > 64 {
        found.push(violation(
            FIELD,
            format!("{} labels: at most 64 are allowed", job.labels.len()),
        ));
    }
    let mut keys: Vec<&String> = job.labels.keys().collect();
    keys.sort();
    for key in keys {
        let value = &job.labels[key];
        if let Some(reason) = crate::job::label_problem(key, value) {
            found.push(violation(&format!("{FIELD}[{key}]"), reason));
        } else if key == OUTCOME_LABEL && Outcome::from_label(value).is_none() {
            found.push(violation(
                &format!("{FIELD}[{key}]"),
                "the emulator's outcome label takes succeeded, failed, partially-succeeded or expired",
            ));
        }
    }
}

/// A batch row's request labels, as the service checks them: an object of strings, at most 64,
/// each key and value by the same rules as a job's labels. The refused row's status text, if
/// any.
pub(crate) fn request_labels(request: &serde_json::Value) -> Result<(), String> {
    const FIELD: &str = "GenerateContentRequest.labels";
    let Some(labels) = request.get("labels").filter(|labels| !labels.is_null()) else {
        return Ok(());
    };
    let Some(labels) = labels.as_object() else {
        return Err(format!(
            "Invalid JSON payload received. labels: expected an object of strings, got {labels}."
        ));
    };
    if labels.len() > 64 {
        return Err(format!(
            "* {FIELD}: {} labels: at most 64 are allowed\n",
            labels.len()
        ));
    }
    for (key, value) in labels {
        let Some(value) = value.as_str() else {
            return Err(format!(
                "Invalid JSON payload received. labels[{key}]: expected a string, got {value}."
            ));
        };
        if let Some(reason) = crate::job::label_problem(key, value) {
            return Err(format!("* {FIELD}[{key}]: {reason}\n"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_id_is_the_last_segment_without_its_version() {
        assert_eq!(
            model_id("publishers/google/models/gemini-2.0-flash-001"),
            "gemini-2.0-flash-001"
        );
        assert_eq!(model_id("projects/p/locations/l/models/123@2"), "123");
    }
}

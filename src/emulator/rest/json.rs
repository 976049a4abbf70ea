//! proto3 JSON in and out of REST calls, over the crate's descriptor set (prost-reflect).
//!
//! Requests: field names in camelCase (`displayName`) or as in the proto (`display_name`),
//! enums by name or number. A field the message does not have is refused, and so is a value of
//! the wrong type; the error names the field by its path in the request
//! (`batch_prediction_job.input_config.gcs_source`) in the words of Google's front end, so a
//! client's error handling sees what it would see from the service. As that front end does, a
//! lone value stands for a one-element list: the documentation's bodies write
//! `"uris": "gs://..."` for the repeated `uris`.
//!
//! Answers: camelCase names, default values left out, enums by name, or by number when the
//! call asks with `$alt=json;enum-encoding=int`.

use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, SerializeOptions,
};
use serde_json::{Map, Value as Json};
use tonic_types::FieldViolation;

use super::error::invalid_json;

/// How answers are written.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Output {
    /// Enums as numbers (`$alt=json;enum-encoding=int`) rather than names.
    pub(super) enum_numbers: bool,
    /// Indented (the default, as Google's front end), or compact with `prettyPrint=false`.
    pub(super) compact: bool,
}

/// The request message `descriptor` from `json`, an object of proto3 JSON fields.
pub(super) fn decode(
    descriptor: &MessageDescriptor,
    mut json: Json,
) -> Result<DynamicMessage, tonic::Status> {
    if let Some(violation) = check(descriptor, &mut json, "") {
        return Err(invalid_json(violation));
    }
    let options = DeserializeOptions::new().deny_unknown_fields(true);
    DynamicMessage::deserialize_with_options(descriptor.clone(), json, &options).map_err(|e| {
        // check() found nothing: something no one field shows, like two members of a oneof.
        invalid_json(FieldViolation::new(
            "",
            format!("Invalid JSON payload received. {e}"),
        ))
    })
}

/// `message` (protobuf bytes of `descriptor`) as proto3 JSON text.
pub(super) fn encode(
    descriptor: &MessageDescriptor,
    message: &[u8],
    output: Output,
) -> Result<Vec<u8>, String> {
    let message = DynamicMessage::decode(descriptor.clone(), message).map_err(|e| {
        format!(
            "the answer does not decode as {}: {e}",
            descriptor.full_name()
        )
    })?;
    let options = SerializeOptions::new()
        .skip_default_fields(true)
        .use_enum_numbers(output.enum_numbers);
    let mut json = message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|e| format!("the answer cannot be written as JSON: {e}"))?;
    bare_empty(&mut json);
    text(&json, output)
}

/// prost-reflect writes an `Any` holding `google.protobuf.Empty` as
/// `{"@type": ".../google.protobuf.Empty", "value": {}}`, as if Empty had a JSON form of its
/// own. It has not (the protobuf C++ and Java printers, and the service, write no `value`): a
/// finished delete's `response` is `{"@type": "type.googleapis.com/google.protobuf.Empty"}`.
fn bare_empty(json: &mut Json) {
    match json {
        Json::Object(members) => {
            if members.get("@type").and_then(Json::as_str)
                == Some("type.googleapis.com/google.protobuf.Empty")
                && members.get("value") == Some(&Json::Object(Map::new()))
            {
                members.remove("value");
            }
            members.values_mut().for_each(bare_empty);
        }
        Json::Array(items) => items.iter_mut().for_each(bare_empty),
        _ => {}
    }
}

/// `json` as text, indented unless `output` says compact.
pub(super) fn text(json: &Json, output: Output) -> Result<Vec<u8>, String> {
    let written = if output.compact {
        serde_json::to_vec(json)
    } else {
        serde_json::to_vec_pretty(json)
    };
    written.map_err(|e| e.to_string())
}

/// Walks `json` against `descriptor`, wrapping lone values given for lists, and returns the
/// first field that is unknown or of the wrong type. `at` is the path of `json` in the request.
fn check(descriptor: &MessageDescriptor, json: &mut Json, at: &str) -> Option<FieldViolation> {
    let Json::Object(members) = json else {
        return Some(wrong_value(at, &type_name_of_message(descriptor), json));
    };
    for (key, value) in members.iter_mut() {
        let Some(field) = descriptor
            .get_field_by_json_name(key)
            .or_else(|| descriptor.get_field_by_name(key))
        else {
            let location = if at.is_empty() {
                String::new()
            } else {
                format!(" at '{at}'")
            };
            return Some(FieldViolation::new(
                at,
                format!(
                    "Invalid JSON payload received. Unknown name \"{key}\"{location}: Cannot find field."
                ),
            ));
        };
        if value.is_null() {
            continue;
        }
        let path = join(at, field.name());
        if field.is_list() && !value.is_array() {
            *value = Json::Array(vec![value.take()]);
        }
        if let Some(violation) = check_field(descriptor, &field, key, value, &path) {
            return Some(violation);
        }
    }
    None
}

fn check_field(
    descriptor: &MessageDescriptor,
    field: &FieldDescriptor,
    key: &str,
    value: &mut Json,
    path: &str,
) -> Option<FieldViolation> {
    match (field.kind(), value) {
        // A plain message (not a well-known type with a JSON form of its own): look inside.
        (Kind::Message(inner), value) if !field.is_map() && !is_well_known(&inner) => match value {
            Json::Array(items) if field.is_list() => items
                .iter_mut()
                .enumerate()
                .find_map(|(i, item)| check(&inner, item, &format!("{path}[{i}]"))),
            value => check(&inner, value, path),
        },
        // Anything else: decode the field alone, and say where it failed.
        (kind, value) => {
            let alone = Json::Object(Map::from_iter([(key.to_string(), value.clone())]));
            DynamicMessage::deserialize(descriptor.clone(), alone).err()?;
            let type_name = match kind {
                Kind::Message(inner) => type_name_of_message(&inner),
                Kind::Enum(inner) => format!("type.googleapis.com/{}", inner.full_name()),
                scalar => format!("TYPE_{}", format!("{scalar:?}").to_uppercase()),
            };
            Some(wrong_value(path, &type_name, value))
        }
    }
}

fn wrong_value(path: &str, type_name: &str, value: &Json) -> FieldViolation {
    FieldViolation::new(
        path,
        format!("Invalid value at '{path}' ({type_name}), {value}"),
    )
}

fn type_name_of_message(descriptor: &MessageDescriptor) -> String {
    format!("type.googleapis.com/{}", descriptor.full_name())
}

fn is_well_known(descriptor: &MessageDescriptor) -> bool {
    descriptor.package_name() == "google.protobuf"
}

fn join(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_string()
    } else {
        format!("{at}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::descriptor_pool;
    use crate::v1::CreateBatchPredictionJobRequest;

    fn create_request() -> MessageDescriptor {
        descriptor_pool()
            .get_message_by_name("google.cloud.aiplatform.v1.CreateBatchPredictionJobRequest")
            .unwrap()
    }

    fn refused(json: Json) -> FieldViolation {
        let status = decode(&create_request(), json).unwrap_err();
        let details = tonic_types::StatusExt::get_error_details(&status);
        details.bad_request().unwrap().field_violations[0].clone()
    }

    #[test]
    fn camel_case_snake_case_and_lone_values_are_accepted() {
        let json = serde_json::json!({
            "parent": "projects/p/locations/l",
            "batch_prediction_job": {
                "displayName": "x",
                "input_config": {"instancesFormat": "jsonl", "gcsSource": {"uris": "gs://b/i"}},
                "state": 3,
            },
        });
        let request: CreateBatchPredictionJobRequest = decode(&create_request(), json)
            .unwrap()
            .transcode_to()
            .unwrap();
        let job = request.batch_prediction_job.unwrap();
        assert_eq!(job.display_name, "x");
        assert_eq!(job.state, 3);
        let source = job.input_config.unwrap().source.unwrap();
        let crate::v1::batch_prediction_job::input_config::Source::GcsSource(gcs) = source else {
            panic!("{source:?}")
        };
        assert_eq!(gcs.uris, ["gs://b/i"]);
    }

    #[test]
    fn an_unknown_field_is_named_with_where_it_is() {
        let violation = refused(serde_json::json!({
            "batchPredictionJob": {"inputConfig": {"gcsSorce": {}}},
        }));
        assert_eq!(violation.field, "batch_prediction_job.input_config");
        assert_eq!(
            violation.description,
            "Invalid JSON payload received. Unknown name \"gcsSorce\" at \
             'batch_prediction_job.input_config': Cannot find field."
        );
    }

    #[test]
    fn a_wrong_type_is_named_with_the_expected_type() {
        let violation = refused(serde_json::json!({"batchPredictionJob": {"displayName": 5}}));
        assert_eq!(violation.field, "batch_prediction_job.display_name");
        assert_eq!(
            violation.description,
            "Invalid value at 'batch_prediction_job.display_name' (TYPE_STRING), 5"
        );
        let violation = refused(serde_json::json!({"batchPredictionJob": {"state": "RUNNING"}}));
        assert!(
            violation
                .description
                .contains("google.cloud.aiplatform.v1.JobState"),
            "{}",
            violation.description
        );
        let violation = refused(serde_json::json!({"batchPredictionJob": "x"}));
        assert_eq!(violation.field, "batch_prediction_job");
    }
}

//! A REST call as its RPC's request message, put together as `google.api.http` says: the
//! fields the path binds (`name`, `parent`), the body (one field, or the whole request for
//! `body: "*"`), and every other field from the query string (`pageSize`, `filter`).

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value as Json};
use tonic_types::FieldViolation;

use super::error::invalid_json;
use super::json;
use super::routes::Route;

fn refused(field: &str, description: impl Into<String>) -> tonic::Status {
    invalid_json(FieldViolation::new(field, description))
}

/// The request message for a call to `route`.
pub(super) fn assemble(
    route: &Route,
    bound: Vec<(String, String)>,
    body: &[u8],
    query: Vec<(String, String)>,
) -> Result<DynamicMessage, tonic::Status> {
    let input = route.descriptor.input();
    let mut request = Map::new();
    match route.body.as_deref() {
        None if !body_is_empty(body) => {
            return Err(refused(
                "",
                format!(
                    "Invalid JSON payload received. {} {} takes no body: its fields go in the \
                     URL and the query string",
                    route.method,
                    route.descriptor.name()
                ),
            ));
        }
        None => {}
        Some("*") => match parse_body(body)? {
            Some(Json::Object(members)) => request = members,
            Some(other) => {
                return Err(refused(
                    "",
                    format!(
                        "Invalid JSON payload received. Expected an object of {} fields, got {other}",
                        input.full_name()
                    ),
                ));
            }
            None => {}
        },
        Some(field) => {
            if let Some(json) = parse_body(body)? {
                request.insert(field.to_string(), json);
            }
        }
    }
    for (field, value) in bound {
        if let Some(given) = find(&input, &request, &field) {
            return Err(refused(
                &field,
                format!("`{given}` is given by the URL path: leave it out of the body"),
            ));
        }
        request.insert(field, Json::String(value));
    }
    for (key, value) in query {
        bind_query_parameter(&input, &mut request, &key, value)?;
    }
    json::decode(&input, Json::Object(request))
}

fn body_is_empty(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    // An empty object is no body either: some clients send `{}` with every call.
    text.is_empty() || text.replace(char::is_whitespace, "") == "{}"
}

/// The body as JSON, or `None` when there is none.
fn parse_body(body: &[u8]) -> Result<Option<Json>, tonic::Status> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| refused("", format!("Invalid JSON payload received. {e}")))
}

/// The member of `request` that sets `field` (by its proto or its JSON name), if any.
fn find<'a>(
    input: &MessageDescriptor,
    request: &'a Map<String, Json>,
    field: &str,
) -> Option<&'a str> {
    let descriptor = input.get_field_by_name(field)?;
    [descriptor.name(), descriptor.json_name()]
        .into_iter()
        .find_map(|name| request.get_key_value(name).map(|(key, _)| key.as_str()))
}

/// Sets the field `key` names from a query parameter, as Google's front end binds them.
fn bind_query_parameter(
    input: &MessageDescriptor,
    request: &mut Map<String, Json>,
    key: &str,
    value: String,
) -> Result<(), tonic::Status> {
    let Some(field) = input
        .get_field_by_json_name(key)
        .or_else(|| input.get_field_by_name(key))
    else {
        return Err(refused(
            key,
            format!(
                "Invalid JSON payload received. Unknown name \"{key}\": Cannot bind query \
                 parameter. Field '{key}' could not be found in request message."
            ),
        ));
    };
    if matches!(field.kind(), Kind::Message(m) if m.package_name() != "google.protobuf") {
        return Err(refused(
            key,
            format!(
                "Invalid JSON payload received. Cannot bind query parameter '{key}': it is a \
                 message ({}); send it in the body",
                field.kind().as_message().map_or("", |m| m.full_name())
            ),
        ));
    }
    let value = scalar(&field, value);
    let name = field.name().to_string();
    if field.is_list() {
        match request
            .entry(name)
            .or_insert_with(|| Json::Array(Vec::new()))
        {
            Json::Array(items) => items.push(value),
            _ => {
                return Err(refused(
                    key,
                    "given twice, in the query and the path or body",
                ));
            }
        }
        return Ok(());
    }
    if let Some(given) = find(input, request, field.name()) {
        return Err(refused(
            key,
            format!(
                "Invalid JSON payload received. `{given}` is given twice (query and path or body)"
            ),
        ));
    }
    request.insert(name, value);
    Ok(())
}

/// A query parameter as the JSON value of `field`: text, except for booleans. Numbers stay text,
/// which proto3 JSON accepts for every numeric type, so a malformed one is refused with the rest.
fn scalar(field: &FieldDescriptor, value: String) -> Json {
    match (field.kind(), value.as_str()) {
        (Kind::Bool, "true") => Json::Bool(true),
        (Kind::Bool, "false") => Json::Bool(false),
        _ => Json::String(value),
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::v1::{CancelBatchPredictionJobRequest, ListBatchPredictionJobsRequest};

    fn route(method: Method, path: &str) -> (&'static Route, Vec<(String, String)>) {
        super::super::routes::find(&method, path).unwrap()
    }

    const JOBS: &str = "/v1/projects/p/locations/l/batchPredictionJobs";

    #[test]
    fn a_list_takes_its_parent_from_the_path_and_the_rest_from_the_query() {
        let (route, bound) = route(Method::GET, JOBS);
        let query = vec![
            ("pageSize".to_string(), "5".to_string()),
            ("page_token".to_string(), "abc".to_string()),
            ("filter".to_string(), "state=JOB_STATE_RUNNING".to_string()),
        ];
        let request: ListBatchPredictionJobsRequest = assemble(route, bound, b"", query)
            .unwrap()
            .transcode_to()
            .unwrap();
        assert_eq!(request.parent, "projects/p/locations/l");
        assert_eq!(request.page_size, 5);
        assert_eq!(request.page_token, "abc");
        assert_eq!(request.filter, "state=JOB_STATE_RUNNING");
    }

    #[test]
    fn unknown_and_malformed_query_parameters_are_named() {
        let (route, bound) = route(Method::GET, JOBS);
        let status = assemble(
            route,
            bound.clone(),
            b"",
            vec![("pageSise".into(), "5".into())],
        )
        .unwrap_err();
        assert!(
            status.message().contains("\"pageSise\""),
            "{}",
            status.message()
        );
        let status =
            assemble(route, bound, b"", vec![("pageSize".into(), "five".into())]).unwrap_err();
        assert!(
            status.message().contains("'page_size'"),
            "{}",
            status.message()
        );
    }

    #[test]
    fn cancel_takes_an_empty_body_and_refuses_a_name_in_it() {
        let path = format!("{JOBS}/1:cancel");
        let (route, bound) = route(Method::POST, &path);
        let request: CancelBatchPredictionJobRequest =
            assemble(route, bound.clone(), b"{}", vec![])
                .unwrap()
                .transcode_to()
                .unwrap();
        assert_eq!(request.name, "projects/p/locations/l/batchPredictionJobs/1");
        let status = assemble(route, bound, br#"{"name": "x"}"#, vec![]).unwrap_err();
        assert!(
            status.message().contains("URL path"),
            "{}",
            status.message()
        );
    }

    #[test]
    fn a_get_with_a_body_and_a_malformed_body_are_refused() {
        let (route_get, bound) = route(Method::GET, &format!("{JOBS}/1"));
        assert!(assemble(route_get, bound, br#"{"a": 1}"#, vec![]).is_err());
        let (create, bound) = route(Method::POST, JOBS);
        let status = assemble(create, bound, b"{\"displayName\": ", vec![]).unwrap_err();
        assert!(
            status
                .message()
                .starts_with("Invalid JSON payload received."),
            "{}",
            status.message()
        );
    }
}

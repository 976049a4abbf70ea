//! Errors in the shape Google's REST front end gives them:
//! `{"error": {"code": 400, "message": "...", "status": "INVALID_ARGUMENT", "details": [...]}}`,
//! the HTTP status mapped from the gRPC code as google/rpc/code.proto documents, and the
//! status's rich details (BadRequest field violations, RetryInfo) in proto3 JSON.

use http::StatusCode;
use serde_json::{Value as Json, json};
use tonic::Code;
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The INVALID_ARGUMENT for a request whose JSON does not fit: the message is the violation's
/// description, as Google's front end writes it.
pub(super) fn invalid_json(violation: FieldViolation) -> tonic::Status {
    tonic::Status::with_error_details(
        Code::InvalidArgument,
        violation.description.clone(),
        ErrorDetails::with_bad_request(vec![violation]),
    )
}

/// The NOT_FOUND for a URL no route serves, in the words of Google's front end.
pub(super) fn no_route(method: &http::Method, path: &str) -> tonic::Status {
    tonic::Status::not_found(format!(
        "The requested URL {path} was not found on this server (no {method} route: the \
         emulator serves the batch-prediction methods of JobService and GetOperation under /v1/)."
    ))
}

/// The HTTP status for a gRPC code (google/rpc/code.proto gives each its HTTP mapping).
pub(super) fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The status name, `INVALID_ARGUMENT`, as google.rpc.Code spells it.
fn status_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The JSON body for `status`.
pub(super) fn body(status: &tonic::Status) -> Json {
    let mut error = json!({
        "code": http_status(status.code()).as_u16(),
        "message": status.message(),
        "status": status_name(status.code()),
    });
    let details = details(&status.get_error_details());
    if !details.is_empty() {
        error["details"] = Json::Array(details);
    }
    json!({ "error": error })
}

/// The details the emulator attaches (BadRequest from validation, RetryInfo from faults), as
/// `google.protobuf.Any` in proto3 JSON.
fn details(details: &ErrorDetails) -> Vec<Json> {
    let mut found = Vec::new();
    if let Some(bad_request) = details.bad_request() {
        let violations: Vec<Json> = bad_request
            .field_violations
            .iter()
            .map(|v| {
                let mut violation = json!({ "description": v.description });
                // proto3 JSON leaves out empty strings: a malformed body names no field.
                if !v.field.is_empty() {
                    violation["field"] = json!(v.field);
                }
                violation
            })
            .collect();
        found.push(json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": violations,
        }));
    }
    if let Some(delay) = details.retry_info().and_then(|info| info.retry_delay) {
        found.push(json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": duration(delay),
        }));
    }
    found
}

/// A google.protobuf.Duration in proto3 JSON: seconds with up to nine decimals, `1.500s`.
fn duration(delay: std::time::Duration) -> String {
    match delay.subsec_nanos() {
        0 => format!("{}s", delay.as_secs()),
        nanos => {
            let fraction = format!("{nanos:09}");
            format!("{}.{}s", delay.as_secs(), fraction.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_request_keeps_its_field_violations() {
        let status = tonic::Status::with_error_details(
            Code::InvalidArgument,
            "Request contains an invalid argument.",
            ErrorDetails::with_bad_request(vec![FieldViolation::new("parent", "required")]),
        );
        assert_eq!(
            body(&status),
            json!({"error": {
                "code": 400,
                "message": "Request contains an invalid argument.",
                "status": "INVALID_ARGUMENT",
                "details": [{
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": "parent", "description": "required"}],
                }],
            }})
        );
    }

    #[test]
    fn a_retry_delay_is_a_duration_and_no_details_means_no_member() {
        let status = tonic::Status::with_error_details(
            Code::Unavailable,
            "try later",
            ErrorDetails::with_retry_info(Some(std::time::Duration::from_millis(1500))),
        );
        let json = body(&status);
        assert_eq!(json["error"]["code"], 503);
        assert_eq!(json["error"]["details"][0]["retryDelay"], "1.5s");
        let plain = body(&tonic::Status::not_found("gone"));
        assert_eq!(plain["error"]["status"], "NOT_FOUND");
        assert!(plain["error"].get("details").is_none());
    }
}

//! BigQuery's answers as the crate's [`Error`]: the service's JSON error (code, reason,
//! message), a failed job's `errorResult`, and connections that could not be made.

use serde_json::Value;

use crate::error::Error;

/// What a request was doing, for messages (`BigQuery refused <what> <target>`) and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Query,
    JobStatus,
    QueryResults,
    Metadata,
    Create,
    Delete,
    List,
    Rows,
    Insert,
}

impl Op {
    /// The operation's name in logs.
    pub(super) fn name(self) -> &'static str {
        match self {
            Op::Query => "query",
            Op::JobStatus => "job status",
            Op::QueryResults => "query results",
            Op::Metadata => "metadata",
            Op::Create => "create",
            Op::Delete => "delete",
            Op::List => "list",
            Op::Rows => "rows",
            Op::Insert => "insert",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Op::Query => "the query",
            Op::JobStatus => "the status of job",
            Op::QueryResults => "the results of job",
            Op::Metadata => "the metadata of",
            Op::Create => "the creation of",
            Op::Delete => "the deletion of",
            Op::List => "the tables of",
            Op::Rows => "the rows of",
            Op::Insert => "the insert into",
        }
    }
}

/// BigQuery's JSON error body (`{"error": {"code", "message", "errors": [{"reason"}]}}`):
/// code, reason, message; `None` for a body of another shape.
pub(super) fn parse_error_body(body: &[u8]) -> Option<(u16, String, String)> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let code = error.get("code").and_then(Value::as_u64).unwrap_or(0) as u16;
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let reason = reason_of(error).unwrap_or_default();
    Some((code, reason, message))
}

/// The first `errors[].reason` of an error object (or of a job's `errorResult`, which has
/// `reason` itself).
pub(super) fn reason_of(error: &Value) -> Option<String> {
    error
        .get("reason")
        .or_else(|| error.get("errors")?.get(0)?.get("reason"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Whether another try may get past an answer with `code` and `reason`: 408, 429, 5xx, and
/// the 403s BigQuery gives for rate limits (`rateLimitExceeded`) and its own failures
/// (`backendError`); see <https://cloud.google.com/bigquery/docs/error-messages>.
pub(super) fn retriable(code: u16, reason: &str) -> bool {
    matches!(code, 408 | 429 | 500..=599)
        || matches!(
            reason,
            "rateLimitExceeded" | "backendError" | "internalError"
        )
}

/// The HTTP code BigQuery's error table gives a job's `errorResult.reason`
/// (<https://cloud.google.com/bigquery/docs/error-messages>); 400 for the rest.
pub(super) fn code_of_reason(reason: &str) -> u16 {
    match reason {
        "notFound" => 404,
        "duplicate" => 409,
        "accessDenied" | "billingNotEnabled" | "quotaExceeded" | "rateLimitExceeded"
        | "responseTooLarge" => 403,
        "backendError" => 503,
        "internalError" => 500,
        "stopped" => 200,
        _ => 400,
    }
}

/// An [`Error::BigQuery`], with advice for the usual causes.
pub(super) fn refused(op: Op, target: &str, code: u16, reason: String, message: String) -> Error {
    let hint = match (code, reason.as_str()) {
        (401, _) => Some(
            "the credentials were refused; check them (gcloud auth application-default login, \
             or the service-account key)",
        ),
        (403, "accessDenied") | (403, "") => Some(
            "the credentials' principal needs roles/bigquery.dataEditor on the dataset and \
             roles/bigquery.jobUser on the project",
        ),
        (404, _) => Some("check the project, the dataset and the table"),
        (_, "rateLimitExceeded" | "quotaExceeded") => Some("BigQuery's quota; try again later"),
        _ => None,
    };
    Error::BigQuery {
        what: op.what(),
        target: target.to_owned(),
        code,
        reason: if reason.is_empty() {
            "no reason given".to_owned()
        } else {
            reason
        },
        message: match hint {
            Some(hint) => format!("{message} ({hint})"),
            None => message,
        },
    }
}

/// A connection that could not be made or broke, or no answer in time.
pub(super) fn transport(endpoint: &str, what: &str) -> Error {
    let failure = if what.contains("Connection refused") {
        crate::error::TransportFailure::Refused
    } else {
        crate::error::TransportFailure::Other
    };
    Error::Transport {
        endpoint: endpoint.to_owned(),
        message: format!(
            "{what}: check the BigQuery endpoint (BIGQUERY_EMULATOR_HOST or \
             BigQueryBuilder::with_endpoint) and the network"
        ),
        failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_code_reason_and_message() {
        let body = br#"{"error":{"code":404,"message":"Not found: table:p.d.t","errors":[{"domain":"global","reason":"notFound","message":"Not found: table:p.d.t"}],"status":"NOT_FOUND"}}"#;
        assert_eq!(
            parse_error_body(body),
            Some((404, "notFound".into(), "Not found: table:p.d.t".into()))
        );
        assert_eq!(parse_error_body(b"<html>"), None);
        let err = refused(
            Op::Metadata,
            "bq://p.d.t",
            404,
            "notFound".into(),
            "Not found: table:p.d.t".into(),
        );
        assert!(err.is_not_found());
        assert_eq!(
            err.to_string(),
            "BigQuery refused the metadata of bq://p.d.t: Not found: table:p.d.t (check the \
             project, the dataset and the table) (notFound, HTTP 404)"
        );
    }

    #[test]
    fn rate_limits_and_server_failures_are_retried_bad_requests_not() {
        assert!(retriable(403, "rateLimitExceeded"));
        assert!(retriable(503, ""));
        assert!(retriable(429, ""));
        assert!(!retriable(403, "accessDenied"));
        assert!(!retriable(400, "invalidQuery"));
        assert!(!retriable(404, "notFound"));
        assert!(!retriable(409, "duplicate"));
    }
}

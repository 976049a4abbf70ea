//! The crate's one error type.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::endpoint::Endpoint;
use crate::v1::JobState;

/// A `Result` whose error is the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, from bad input caught before any call to a job that ended badly.
///
/// Use the predicates ([`Error::is_invalid_input`], ...) rather than
/// matching on variants: the enum is `#[non_exhaustive]`.
///
/// ```
/// use vertex_batch::Error;
///
/// let err = Error::invalid("location", "`US-Central1` has upper case letters; a location looks like `us-central1`");
/// assert!(err.is_invalid_input());
/// assert_eq!(
///     err.to_string(),
///     "invalid location: `US-Central1` has upper case letters; a location looks like `us-central1`"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input caught before any network call: `field` names what was wrong, `reason` says
    /// what is expected.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The argument, field or option at fault, e.g. `location`, `input_config.gcs_source.uris[0]`.
        field: String,
        /// What is wrong and what a good value looks like.
        reason: String,
    },

    /// A credential source could not give a token.
    #[error("authentication failed ({source_name}): {message}")]
    Auth {
        /// The credential source that failed, e.g. `service account key file /path/key.json`.
        source_name: String,
        /// Why, and what to do about it.
        message: String,
    },

    /// The connection to the endpoint could not be made or broke.
    #[error("transport error talking to {endpoint}: {message}")]
    Transport {
        /// The endpoint URI.
        endpoint: String,
        /// What went wrong (the full source chain, flattened), and what to do about it.
        message: String,
    },

    /// The service answered with a gRPC status. `hint` says what to do where the crate knows.
    #[error("{}", status_message(.status, .hint.as_deref()))]
    Status {
        /// The status as received; its details decode with [`tonic_types::StatusExt`].
        status: Box<tonic::Status>,
        /// Advice for the common causes (wrong endpoint, location mismatch, permissions).
        hint: Option<String>,
    },

    /// A wait gave up before the job ended. The job goes on running: nothing is lost.
    #[error(
        "gave up waiting for {job} after {elapsed:?}: it is still {} (wait again with the same name)",
        state_name(*.state)
    )]
    WaitTimeout {
        /// The job's full resource name.
        job: String,
        /// The last state seen.
        state: JobState,
        /// How long the wait lasted.
        elapsed: Duration,
    },

    /// A job ended in a state other than SUCCEEDED.
    #[error("{job} ended {}{}", state_name(*.state), .message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    JobEnded {
        /// The job's full resource name.
        job: String,
        /// The state it ended in.
        state: JobState,
        /// The job's `error.message`, when it has one.
        message: Option<String>,
    },

    /// Cloud Storage refused a request about an object or a prefix (feature `storage`).
    #[error("Cloud Storage refused {what} {uri}: {message} (HTTP {code})")]
    Storage {
        /// What was asked: `upload of`, `download of`, `listing of`, `metadata of`, `delete of`.
        what: &'static str,
        /// The object or prefix, `gs://bucket/name`.
        uri: String,
        /// The HTTP status code, e.g. 404.
        code: u16,
        /// The service's message, and what to do where the crate knows.
        message: String,
    },

    /// Reading or writing a local file (a batch input file, predictions.jsonl) failed.
    #[error("{}", io_message(.path.as_deref(), .source))]
    Io {
        /// The file or directory, when the error is about one.
        path: Option<PathBuf>,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

impl Error {
    /// An [`Error::InvalidInput`] for `field`, with `reason` saying what is expected.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Bad input, caught before any call.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Error::InvalidInput { .. })
    }

    /// A credential source failed.
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::Auth { .. })
    }

    /// The gRPC status code, when the service answered with one.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Error::Status { status, .. } => Some(status.code()),
            _ => None,
        }
    }

    /// The service said the resource does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(tonic::Code::NotFound)
            || matches!(self, Error::Storage { code: 404, .. })
    }

    /// A wait timed out; the job is still running.
    pub fn is_wait_timeout(&self) -> bool {
        matches!(self, Error::WaitTimeout { .. })
    }

    /// The job ended in a state other than SUCCEEDED.
    pub fn is_job_ended(&self) -> bool {
        matches!(self, Error::JobEnded { .. })
    }

    /// Reading or writing a local file failed.
    pub fn is_io(&self) -> bool {
        matches!(self, Error::Io { .. })
    }

    /// The job this error is about, when it is about one (a wait timeout or a job that ended badly).
    pub fn job_name(&self) -> Option<&str> {
        match self {
            Error::WaitTimeout { job, .. } | Error::JobEnded { job, .. } => Some(job),
            _ => None,
        }
    }
}

/// The crate's error for a status the service sent, with advice for the usual causes.
pub(crate) fn status_with_hint(status: tonic::Status, endpoint: &Endpoint) -> Error {
    let hint = hint_for(&status, endpoint);
    Error::Status {
        status: Box::new(status),
        hint,
    }
}

/// Advice for a status, where the crate knows the usual cause.
fn hint_for(status: &tonic::Status, endpoint: &Endpoint) -> Option<String> {
    use tonic::Code;
    use tonic_types::StatusExt;

    // Batch jobs live on the regional endpoint of their location; `global` and the
    // multi-regions serve only some. A custom endpoint (the emulator, a proxy) says nothing.
    let non_regional = matches!(endpoint.location(), Some("global" | "us" | "eu"));
    let mut hints = Vec::new();
    if let Some(bad) = status.get_details_bad_request() {
        for violation in bad.field_violations {
            hints.push(format!(
                "field `{}`: {}",
                violation.field, violation.description
            ));
        }
    }
    match status.code() {
        Code::NotFound | Code::Unimplemented if non_regional => hints.push(format!(
            "{} is not a regional endpoint; batch prediction jobs live on the endpoint of their \
             location: use Endpoint::for_location(\"us-central1\") or the location of the job",
            endpoint.host()
        )),
        Code::NotFound => hints.push(format!(
            "no such resource at {}; check the name, the project and the job's location",
            endpoint.host()
        )),
        Code::InvalidArgument if status.message().contains("location") => hints.push(format!(
            "this client talks to {} (location `{}`); a job's parent must be in that same location",
            endpoint.host(),
            endpoint.location().unwrap_or("custom")
        )),
        Code::PermissionDenied => {
            let reason = status
                .get_details_error_info()
                .map(|info| format!("reason {} from {}; ", info.reason, info.domain))
                .unwrap_or_default();
            hints.push(format!(
                "{reason}check that the credentials' principal has roles/aiplatform.user on the \
                 project and that the Vertex AI API is enabled"
            ));
        }
        Code::Unauthenticated => hints.push(
            "the endpoint refused the credentials; check them (gcloud auth application-default login, \
             or the service-account key)"
                .into(),
        ),
        Code::ResourceExhausted => hints.push(
            "quota exhausted; retry later, or opt in with RetryPolicy::with_retry_resource_exhausted".into(),
        ),
        Code::DeadlineExceeded => hints.push(
            "no answer in time; raise RetryPolicy::with_attempt_timeout if the network is slow".into(),
        ),
        _ => {}
    }
    (!hints.is_empty()).then(|| hints.join("; "))
}

fn state_name(state: JobState) -> &'static str {
    state.as_str_name().trim_start_matches("JOB_STATE_")
}

fn io_message(path: Option<&Path>, source: &std::io::Error) -> String {
    match path {
        Some(path) => format!("I/O error on {}: {source}", path.display()),
        None => format!("I/O error: {source}"),
    }
}

fn status_message(status: &tonic::Status, hint: Option<&str>) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(hint) = hint {
        text.push_str(" (");
        text.push_str(hint);
        text.push(')');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use tonic_types::{ErrorDetails, StatusExt};

    fn message(status: tonic::Status, endpoint: &Endpoint) -> String {
        status_with_hint(status, endpoint).to_string()
    }

    #[test]
    fn a_404_from_the_global_endpoint_points_to_the_regional_one() {
        let text = message(tonic::Status::not_found("no job"), &Endpoint::global());
        assert!(text.contains("not a regional endpoint"), "{text}");
        assert!(text.contains("Endpoint::for_location"), "{text}");
        let regional = Endpoint::for_location("us-central1").unwrap();
        let text = message(tonic::Status::not_found("no job"), &regional);
        assert!(!text.contains("not a regional endpoint"), "{text}");
    }

    #[test]
    fn permission_denied_shows_the_error_info_reason() {
        let details = ErrorDetails::with_error_info(
            "IAM_PERMISSION_DENIED",
            "aiplatform.googleapis.com",
            std::collections::HashMap::new(),
        );
        let status = tonic::Status::with_error_details(Code::PermissionDenied, "denied", details);
        let text = message(status, &Endpoint::global());
        assert!(
            text.contains("reason IAM_PERMISSION_DENIED from aiplatform.googleapis.com"),
            "{text}"
        );
        assert!(text.contains("roles/aiplatform.user"), "{text}");
    }

    #[test]
    fn bad_request_field_violations_are_listed() {
        let details =
            ErrorDetails::with_bad_request_violation("batch_prediction_job.model", "is required");
        let status = tonic::Status::with_error_details(Code::InvalidArgument, "invalid", details);
        let text = message(status, &Endpoint::for_location("eu").unwrap());
        assert!(
            text.contains("field `batch_prediction_job.model`: is required"),
            "{text}"
        );
    }
}

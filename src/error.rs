//! The crate's one error type.

use std::time::Duration;

use crate::endpoint::Endpoint;
use crate::v1::JobState;

/// A `Result` whose error is the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, from bad input caught before any call to a job that ended badly.
///
/// Use the predicates ([`Error::is_invalid_input`], [`Error::is_retryable`], ...) rather than
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
    }

    /// A wait timed out; the job is still running.
    pub fn is_wait_timeout(&self) -> bool {
        matches!(self, Error::WaitTimeout { .. })
    }

    /// The job ended in a state other than SUCCEEDED.
    pub fn is_job_ended(&self) -> bool {
        matches!(self, Error::JobEnded { .. })
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
    Error::Status { status: Box::new(status), hint }
}

/// Advice for a status, where the crate knows the usual cause.
fn hint_for(status: &tonic::Status, endpoint: &Endpoint) -> Option<String> {
    use tonic::Code;
    use tonic_types::StatusExt;

    let regional = endpoint.location().is_some_and(|l| !matches!(l, "global" | "us" | "eu"));
    let mut hints = Vec::new();
    if let Some(bad) = status.get_details_bad_request() {
        for violation in bad.field_violations {
            hints.push(format!("field `{}`: {}", violation.field, violation.description));
        }
    }
    match status.code() {
        Code::NotFound | Code::Unimplemented if !regional => hints.push(format!(
            "{} is not a regional endpoint; batch prediction jobs live on the endpoint of their \
             location: use Endpoint::for_location(\"us-central1\") or the location of the job",
            endpoint.host()
        )),
        Code::NotFound => hints.push(format!(
            "no such resource at {}; check the name, the project and that the job is in location `{}`",
            endpoint.host(),
            endpoint.location().unwrap_or_default()
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

fn status_message(status: &tonic::Status, hint: Option<&str>) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(hint) = hint {
        text.push_str(" (");
        text.push_str(hint);
        text.push(')');
    }
    text
}

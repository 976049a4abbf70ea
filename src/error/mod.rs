//! The crate's one error type, and where every error the network gives becomes one.
//!
//! - `mod.rs` (here): [`Error`], what each variant means, and its predicates.
//! - `from_status.rs`: a gRPC status, or a connection that failed, becomes an [`Error`]; the
//!   one path every RPC's failure takes ([`AuthChannel::error_from_status`](crate::transport::AuthChannel::error_from_status)).
//! - `advice.rs`: every piece of advice an error message gives (wrong endpoint, permissions,
//!   an untrusted certificate, nothing listening, ...).
//! - `field.rs`: [`Field`], what an [`Error::InvalidInput`] is about, typed; it displays as the
//!   library's name (`max_requests_per_job`, `input line 3`), and a tool maps it to its own
//!   words (the `vertex-batch` CLI to its flags, in one table of its own).
//! - `audience.rs`: who reads the advice of a status or a failed connection ([`Audience`]), and
//!   each piece of it worded for a program (functions) and for the command line (flags).

mod advice;
mod audience;
mod field;
mod from_status;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::v1::JobState;

pub use audience::Audience;
pub use field::Field;
pub(crate) use from_status::{flatten, from_status, from_transport};

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
        /// The argument, field or option at fault, e.g. [`Field::Location`],
        /// [`Field::InputLine`], or a path such as `input_config.gcs_source.uris[0]`
        /// ([`Field::Other`]); it displays as the library's name for it.
        field: Field,
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

    /// The connection to the endpoint could not be made or broke. [`Error::is_tls_certificate`]
    /// tells a server certificate this client refused from the other failures.
    #[error("transport error talking to {endpoint}: {message}")]
    Transport {
        /// The endpoint URI.
        endpoint: String,
        /// What went wrong (the full source chain, flattened), and what to do about it.
        message: String,
        /// What kind of failure it was.
        failure: TransportFailure,
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

    /// BigQuery refused a request about a table, a dataset or a job, or a query job ended with
    /// an error (feature `bigquery`).
    #[error("BigQuery refused {what} {target}: {message} ({reason}, HTTP {code})")]
    BigQuery {
        /// What was asked: `the query`, `the metadata of`, `the creation of`, `the rows of`, ...
        what: &'static str,
        /// The table (`bq://project.dataset.table`), dataset or job.
        target: String,
        /// The HTTP status code, e.g. 404; for a job that failed, the code BigQuery's error
        /// table gives its reason (`invalidQuery`: 400).
        code: u16,
        /// BigQuery's reason, e.g. `notFound`, `invalidQuery`, `duplicate`.
        reason: String,
        /// The service's message, and what to do where the crate knows.
        message: String,
    },

    /// Another process runs this batch run now (feature `storage`): it holds the run's lease in
    /// the staging prefix. Run again once it has ended, or wait for the lease
    /// ([`BatchRun::with_lease_wait`](crate::run::BatchRun::with_lease_wait)).
    #[error(
        "the run staged at {staging} is running in another process ({holder}): wait for it to \
         end, or wait for its lease"
    )]
    RunHeld {
        /// The run's staging prefix.
        staging: String,
        /// Who holds its lease: host, process id, since when.
        holder: String,
    },

    /// A batch run stopped before it ended (asked to stop, or its lease was lost): its
    /// manifest is consistent and nothing is lost; the same run started again resumes.
    #[error(
        "the run staged at {staging} stopped: {reason}; start it again with the same input and \
         staging prefix to resume"
    )]
    RunStopped {
        /// The run's staging prefix.
        staging: String,
        /// Why it stopped.
        reason: String,
    },

    /// Reading or writing a local file (a batch input file, predictions.jsonl) failed.
    ///
    /// Like every variant, its message says the cause (`I/O error on FILE: CAUSE`); so the
    /// cause is not also its [`source`](std::error::Error::source), which a printer of error
    /// chains (`anyhow`'s `{:#}`) would show a second time.
    #[error("{}", io_message(.path.as_deref(), .error))]
    Io {
        /// The file or directory, when the error is about one.
        path: Option<PathBuf>,
        /// The underlying I/O error.
        error: std::io::Error,
    },

    /// Something failed inside this crate or a library it uses, where nothing the caller gave
    /// and nothing the service said is at fault: a bug to report, not input to fix.
    #[error("internal error: {message}")]
    Internal {
        /// What failed.
        message: String,
    },
}

/// What kind of connection failure an [`Error::Transport`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportFailure {
    /// The server's TLS certificate was refused: not signed by a trusted CA, not valid for the
    /// endpoint's name, or expired.
    TlsCertificate,
    /// Nothing accepts connections at the endpoint's host and port.
    Refused,
    /// Any other failure: name resolution, a timeout, a TLS handshake, a connection that broke.
    Other,
}

impl Error {
    /// An [`Error::InvalidInput`] for `field` (a [`Field`], or its name: `"location"` is
    /// [`Field::Location`], other text [`Field::Other`]), with `reason` saying what is expected.
    pub fn invalid(field: impl Into<Field>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Internal`]: a failure that is neither the caller's input nor the service's
    /// answer.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Error::Internal {
            message: message.into(),
        }
    }

    /// Bad input, caught before any call.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Error::InvalidInput { .. })
    }

    /// The field of an [`Error::InvalidInput`]: which setting or input was refused.
    ///
    /// ```
    /// use vertex_batch::Error;
    /// use vertex_batch::error::Field;
    ///
    /// let err = Error::invalid(Field::MaxRunningJobs, "0: at least 1 job must be allowed to run");
    /// assert_eq!(err.field(), Some(&Field::MaxRunningJobs));
    /// assert_eq!(err.to_string(), "invalid max_running_jobs: 0: at least 1 job must be allowed to run");
    /// ```
    pub fn field(&self) -> Option<&Field> {
        match self {
            Error::InvalidInput { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The connection to the endpoint could not be made or broke (a TLS certificate problem
    /// included).
    pub fn is_transport(&self) -> bool {
        matches!(self, Error::Transport { .. })
    }

    /// This client refused the server's TLS certificate: not trusted, not valid for the name, or
    /// expired. The message says which, and what to do.
    pub fn is_tls_certificate(&self) -> bool {
        matches!(
            self,
            Error::Transport {
                failure: TransportFailure::TlsCertificate,
                ..
            }
        )
    }

    /// A failure inside this crate or a library it uses: neither bad input nor the service's
    /// answer.
    pub fn is_internal(&self) -> bool {
        matches!(self, Error::Internal { .. })
    }

    /// A credential source failed.
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::Auth { .. })
    }

    /// The gRPC status code, when the service answered with one.
    pub fn code(&self) -> Option<tonic::Code> {
        self.status().map(tonic::Status::code)
    }

    /// The status the service answered with, when it answered with one: its details decode
    /// with [`tonic_types::StatusExt`].
    pub fn status(&self) -> Option<&tonic::Status> {
        match self {
            Error::Status { status, .. } => Some(status),
            _ => None,
        }
    }

    /// The service said the resource does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(tonic::Code::NotFound)
            || matches!(self, Error::Storage { code: 404, .. })
            || matches!(self, Error::BigQuery { code: 404, .. })
    }

    /// Cloud Storage refused a request because one of its
    /// [`Preconditions`](crate::storage::Preconditions) did not hold (HTTP 412): an object
    /// written only if absent already exists, or the object is no longer the generation the
    /// caller read. Nothing was changed.
    ///
    /// A write with `ifGenerationMatch` that had to be sent again (after a broken connection or
    /// a 503) may answer 412 because its first attempt landed: read the object back to tell.
    ///
    /// ```
    /// use vertex_batch::Error;
    ///
    /// let taken = Error::Storage {
    ///     what: "the upload of",
    ///     uri: "gs://bucket/run/lease.json".into(),
    ///     code: 412,
    ///     message: "At least one of the pre-conditions you specified did not hold.".into(),
    /// };
    /// assert!(taken.is_precondition_failed());
    /// assert!(!taken.is_not_found());
    /// ```
    pub fn is_precondition_failed(&self) -> bool {
        matches!(self, Error::Storage { code: 412, .. })
    }

    /// A wait timed out; the job is still running.
    pub fn is_wait_timeout(&self) -> bool {
        matches!(self, Error::WaitTimeout { .. })
    }

    /// The job ended in a state other than SUCCEEDED.
    pub fn is_job_ended(&self) -> bool {
        matches!(self, Error::JobEnded { .. })
    }

    /// Another process holds the batch run's lease ([`Error::RunHeld`]).
    pub fn is_run_held(&self) -> bool {
        matches!(self, Error::RunHeld { .. })
    }

    /// A batch run stopped before its end and can be resumed ([`Error::RunStopped`]).
    pub fn is_run_stopped(&self) -> bool {
        matches!(self, Error::RunStopped { .. })
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

/// A size limit as error messages give it: `64 MiB (67108864 bytes)`.
pub(crate) fn size_text(bytes: usize) -> String {
    const UNITS: [(usize, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    match UNITS
        .iter()
        .find(|(unit, _)| bytes >= *unit && bytes.is_multiple_of(*unit))
    {
        Some((unit, name)) => format!("{} {name} ({bytes} bytes)", bytes / unit),
        None => format!("{bytes} bytes"),
    }
}

fn state_name(state: JobState) -> &'static str {
    state.as_str_name().trim_start_matches("JOB_STATE_")
}

fn io_message(path: Option<&Path>, error: &std::io::Error) -> String {
    match path {
        Some(path) => format!("I/O error on {}: {error}", path.display()),
        None => format!("I/O error: {error}"),
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

//! gcloud-storage's errors as the crate's [`Error`], naming the object and saying what to do.

use gcloud_storage::http::Error as GcsError;

use crate::error::Error;

/// What a request was doing, for messages: `Cloud Storage refused <what> <uri>`.
#[derive(Clone, Copy, Debug)]
pub(super) enum Op {
    Upload,
    Download,
    List,
    Metadata,
    Delete,
}

impl Op {
    /// The operation's name in logs.
    pub(super) fn name(self) -> &'static str {
        match self {
            Op::Upload => "upload",
            Op::Download => "download",
            Op::List => "list",
            Op::Metadata => "metadata",
            Op::Delete => "delete",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Op::Upload => "the upload of",
            Op::Download => "the download of",
            Op::List => "the listing of",
            Op::Metadata => "the metadata of",
            Op::Delete => "the delete of",
        }
    }
}

/// The crate error for `err`, which happened doing `op` on `uri` at `endpoint`.
pub(super) fn convert(err: GcsError, op: Op, uri: &str, endpoint: &str) -> Error {
    match err {
        GcsError::Response(response) => storage(op, uri, response.code, response.message),
        GcsError::HttpClient(err) => match err.status() {
            Some(status) => storage(op, uri, status.as_u16(), status.to_string()),
            None => transport(endpoint, &err),
        },
        GcsError::RawResponse(err, detail) => match err.status() {
            Some(status) => storage(op, uri, status.as_u16(), detail),
            None => transport(endpoint, &err),
        },
        GcsError::HttpMiddleware(err) => transport(endpoint, err.as_ref()),
        GcsError::TokenSource(err) => match err.downcast::<Error>() {
            Ok(err) => *err,
            Err(err) => Error::Auth {
                source_name: "Cloud Storage token source".to_owned(),
                message: err.to_string(),
            },
        },
        GcsError::InvalidRangeHeader(header) => storage(
            op,
            uri,
            502,
            format!("the service answered with a Range header that makes no sense: {header:?}"),
        ),
    }
}

/// An [`Error::Storage`], with advice for the usual causes.
pub(super) fn storage(op: Op, uri: &str, code: u16, message: String) -> Error {
    let hint = match code {
        401 => Some(
            "the credentials were refused; check them (gcloud auth application-default login, or the service-account key)",
        ),
        403 => Some(
            "the credentials' principal needs roles/storage.objectAdmin on the bucket (roles/storage.objectViewer to read only)",
        ),
        404 => Some("check the bucket and the object name"),
        412 => Some(
            "a precondition did not hold: the object exists, or is no longer the generation \
             read; read it again to see what it is now",
        ),
        416 => Some("the byte range starts past the end of the object"),
        429 | 503 => Some("the service is busy; try again later"),
        _ => None,
    };
    Error::Storage {
        what: op.what(),
        uri: uri.to_owned(),
        code,
        message: match hint {
            Some(hint) => format!("{message} ({hint})"),
            None => message,
        },
    }
}

fn transport(endpoint: &str, err: &(dyn std::error::Error + 'static)) -> Error {
    Error::Transport {
        endpoint: endpoint.to_owned(),
        message: format!(
            "{}: check the storage endpoint (STORAGE_EMULATOR_HOST or StorageBuilder::with_endpoint) \
             and the network",
            crate::error::flatten(err)
        ),
        failure: crate::error::TransportFailure::Other,
    }
}

//! The routing header, `x-goog-request-params`: Google's front ends route a call by the
//! resource it names. Create and List carry `parent=<parent>`, Get, Delete and Cancel carry
//! `name=<name>`, the value URL-encoded.
//!
//! The crate's own client adds it; users of the raw generated stubs add it with one line:
//!
//! ```
//! use vertex_batch::routing;
//! use vertex_batch::v1::GetBatchPredictionJobRequest;
//!
//! let name = "projects/p/locations/us-central1/batchPredictionJobs/123";
//! let request = routing::with_name(
//!     tonic::Request::new(GetBatchPredictionJobRequest { name: name.to_owned() }),
//!     name,
//! );
//! assert_eq!(
//!     request.metadata().get(routing::REQUEST_PARAMS).unwrap(),
//!     "name=projects/p/locations/us-central1/batchPredictionJobs/123"
//! );
//! ```

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tonic::metadata::MetadataValue;

/// The routing header's name.
pub const REQUEST_PARAMS: &str = "x-goog-request-params";

/// What stays as is: RFC 3986's unreserved characters and `/`, which resource names are made
/// of (Google's Python client, `urlencode(..., safe="/")`, does the same; the service accepts
/// `%2F` too).
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Adds `x-goog-request-params: name=<name>` (Get, Delete, Cancel).
///
/// ```
/// use vertex_batch::routing;
///
/// let request = routing::with_name(tonic::Request::new(()), "projects/p/locations/eu/batchPredictionJobs/1");
/// assert!(request.metadata().contains_key(routing::REQUEST_PARAMS));
/// ```
pub fn with_name<T>(request: tonic::Request<T>, name: &str) -> tonic::Request<T> {
    with_param(request, "name", name)
}

/// Adds `x-goog-request-params: parent=<parent>` (Create, List).
///
/// ```
/// use vertex_batch::routing;
///
/// let request = routing::with_parent(tonic::Request::new(()), "projects/p/locations/us-central1");
/// assert_eq!(
///     request.metadata().get(routing::REQUEST_PARAMS).unwrap(),
///     "parent=projects/p/locations/us-central1"
/// );
/// ```
pub fn with_parent<T>(request: tonic::Request<T>, parent: &str) -> tonic::Request<T> {
    with_param(request, "parent", parent)
}

/// The header value for one parameter, e.g. `name=projects/p/...`.
///
/// ```
/// use vertex_batch::routing;
///
/// assert_eq!(routing::request_params("name", "a b&c/d"), "name=a%20b%26c/d");
/// ```
pub fn request_params(key: &str, value: &str) -> String {
    format!("{key}={}", utf8_percent_encode(value, KEEP))
}

fn with_param<T>(mut request: tonic::Request<T>, key: &str, value: &str) -> tonic::Request<T> {
    // Percent-encoding leaves only visible ASCII, which is always a valid metadata value.
    if let Ok(value) = MetadataValue::try_from(request_params(key, value)) {
        request.metadata_mut().insert(REQUEST_PARAMS, value);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_keep_their_slashes() {
        assert_eq!(
            request_params("parent", "projects/my-proj_1/locations/us-central1"),
            "parent=projects/my-proj_1/locations/us-central1"
        );
    }

    #[test]
    fn everything_else_is_percent_encoded() {
        assert_eq!(
            request_params("name", "a=b&c d?e#f"),
            "name=a%3Db%26c%20d%3Fe%23f"
        );
        assert_eq!(request_params("name", "é~."), "name=%C3%A9~.");
        assert_eq!(request_params("name", "x\n"), "name=x%0A");
    }

    #[test]
    fn the_header_replaces_any_earlier_one() {
        let request = with_name(with_parent(tonic::Request::new(()), "p"), "n");
        let values: Vec<_> = request.metadata().get_all(REQUEST_PARAMS).iter().collect();
        assert_eq!(values, ["name=n"]);
    }
}

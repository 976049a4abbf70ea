//! The JSON the API answers with: object resources, listings and errors, in the service's
//! shapes (numbers as strings, RFC 3339 times).

use std::time::SystemTime;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::store::{ObjectMeta, StoreError};

/// Escaped in an object name inside a URL path: everything but unreserved characters.
const NAME: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An object name escaped for a URL path segment.
pub(super) fn escape(name: &str) -> String {
    utf8_percent_encode(name, NAME).to_string()
}

/// The `storage#object` resource; `base` is the server's own URL, for the links.
pub(super) fn object(meta: &ObjectMeta, base: &str) -> Value {
    let time = rfc3339(meta.updated);
    let (bucket, name) = (&meta.bucket, escape(&meta.name));
    json!({
        "kind": "storage#object",
        "id": format!("{}/{}/{}", meta.bucket, meta.name, meta.generation),
        "selfLink": format!("{base}/storage/v1/b/{bucket}/o/{name}"),
        "mediaLink": format!(
            "{base}/download/storage/v1/b/{bucket}/o/{name}?generation={}&alt=media",
            meta.generation
        ),
        "name": meta.name,
        "bucket": meta.bucket,
        "generation": meta.generation.to_string(),
        "metageneration": meta.metageneration.to_string(),
        "contentType": meta.content_type,
        "storageClass": "STANDARD",
        "size": meta.size.to_string(),
        "etag": format!("emulator-{}", meta.generation),
        "crc32c": meta.hashes.crc32c_base64(),
        "md5Hash": meta.hashes.md5_base64(),
        "timeCreated": time,
        "updated": time,
    })
}

/// A `storage#objects` page.
pub(super) fn listing(items: &[ObjectMeta], next_page_token: Option<String>, base: &str) -> Value {
    let mut page = json!({
        "kind": "storage#objects",
        "items": items.iter().map(|meta| object(meta, base)).collect::<Vec<_>>(),
    });
    if let Some(token) = next_page_token {
        page["nextPageToken"] = Value::String(token);
    }
    page
}

fn rfc3339(time: SystemTime) -> String {
    prost_types::Timestamp::from(time).to_string()
}

/// An error as the JSON API writes them; a 304 (a read whose `NotMatch` condition failed)
/// has no body, as HTTP requires.
pub(super) fn error(err: &StoreError) -> Response {
    if err.code == 304 {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let status = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({
        "error": {
            "code": err.code,
            "message": err.message,
            "errors": [{"domain": "global", "reason": err.reason, "message": err.message}],
        }
    });
    (status, Json(body)).into_response()
}

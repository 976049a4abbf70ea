//! The Cloud Storage JSON API subset a storage client needs, over HTTP/1.1: media, multipart
//! (`multipart.rs`) and resumable uploads, downloads with ranges, listing with a prefix and page tokens, object
//! metadata, delete. Paths and answers follow the service
//! (<https://cloud.google.com/storage/docs/json_api/v1/objects>); anything else is a 404
//! naming what the emulator serves.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use futures_util::StreamExt;

use super::conditions::Conditions;
use super::faults::{Failure, StorageFaults};
use super::resource;
use super::store::{ObjectData, ObjectStore, ObjectWriter, StoreError};
use crate::emulator::clock::lock;
use crate::emulator::state::EmulatorState;

/// The biggest body of a multipart upload, held whole while it is split (the service's own
/// limit for one is 5 TiB, but clients send multipart only for small objects: larger ones go
/// resumable).
const MAX_MULTIPART: usize = 256 * 1024 * 1024;
/// The biggest listing page, as the service's.
const MAX_PAGE: usize = 1000;
/// How much of a file a download reads at a time.
const READ_SIZE: usize = 256 * 1024;

/// What the storage server needs: the objects, the open upload sessions, and the token rule.
pub(crate) struct StorageApi {
    pub(crate) store: ObjectStore,
    /// The emulator's state, whose issued tokens are required when `require_auth` is set.
    pub(crate) state: EmulatorState,
    pub(crate) require_auth: bool,
    /// This server's own URL, `http://127.0.0.1:PORT`, for links and session URIs.
    pub(crate) base: String,
    sessions: Mutex<HashMap<String, Session>>,
    next_session: AtomicU64,
    /// Each request, `METHOD /path` and what matters of it, when calls are recorded.
    requests: Option<Mutex<Vec<String>>>,
    /// How many upload chunks to come are cut off half way with a 503.
    chunk_faults: AtomicU64,
    /// Requests failed at a rate and downloads dropped part way, with their counts.
    pub(crate) faults: Arc<StorageFaults>,
}

/// A resumable upload under way.
struct Session {
    writer: ObjectWriter,
}

impl StorageApi {
    pub(crate) fn new(
        store: ObjectStore,
        state: EmulatorState,
        require_auth: bool,
        base: String,
        record: bool,
        faults: Arc<StorageFaults>,
    ) -> Self {
        StorageApi {
            store,
            state,
            require_auth,
            base,
            sessions: Mutex::default(),
            next_session: AtomicU64::new(1),
            requests: record.then(Mutex::default),
            chunk_faults: AtomicU64::new(0),
            faults,
        }
    }

    /// The next `n` upload chunks keep half their bytes and are answered 503.
    pub(crate) fn fail_next_upload_chunks(&self, n: u64) {
        self.chunk_faults.store(n, Ordering::Relaxed);
    }

    /// Whether this chunk is one to cut off.
    fn take_chunk_fault(&self) -> bool {
        self.chunk_faults
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    /// The requests received so far, oldest first: `METHOD /path`, then the upload type, the
    /// `Content-Range` of a chunk, the `Range` of a download or the page token of a listing.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.requests
            .as_ref()
            .map(|r| lock(r).clone())
            .unwrap_or_default()
    }

    fn record(&self, request: &axum::extract::Request) {
        let Some(requests) = &self.requests else {
            return;
        };
        let mut line = format!("{} {}", request.method(), request.uri().path());
        let params = query(request.uri().query().map(str::to_owned));
        for key in ["uploadType", "alt", "pageToken"] {
            if let Some(value) = params.get(key) {
                line.push_str(&format!(" {key}={value}"));
            }
        }
        for name in [header::CONTENT_RANGE, header::RANGE] {
            if let Some(value) = header_text(request.headers(), name.as_str()) {
                line.push_str(&format!(" {name}: {value}"));
            }
        }
        lock(requests).push(line);
    }

    /// `Err` with the 401 to answer when auth is required and the request has no good token.
    #[allow(clippy::result_large_err)]
    fn authorize(&self, headers: &HeaderMap) -> Result<(), Response> {
        if !self.require_auth {
            return Ok(());
        }
        let header = headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        match self.state.bearer_refusal(header) {
            None => Ok(()),
            Some(message) => Err(resource::error(&StoreError {
                code: 401,
                reason: "required",
                message: message.to_owned(),
            })),
        }
    }
}

/// The routes, on `api`.
pub(crate) fn router(api: Arc<StorageApi>) -> Router {
    Router::new()
        .route(
            "/upload/storage/v1/b/{bucket}/o",
            axum::routing::post(start_upload)
                .put(upload_chunk)
                .delete(cancel_upload),
        )
        .route("/storage/v1/b/{bucket}/o", get(list))
        .route(
            "/storage/v1/b/{bucket}/o/{*object}",
            get(get_object).delete(delete_object),
        )
        .route("/download/storage/v1/b/{bucket}/o/{*object}", get(download))
        .fallback(unknown_route)
        .method_not_allowed_fallback(unknown_method)
        // Uploads stream into the store: no body is held whole.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(api.clone(), intercept))
        .with_state(api)
}

type Api = State<Arc<StorageApi>>;

/// Every request: recorded, counted, and failed when the failure rate says so.
async fn intercept(
    State(api): Api,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    api.record(&request);
    match api.faults.on_request() {
        None => next.run(request).await,
        Some(failure) => {
            let (code, reason) = match failure {
                Failure::TooManyRequests => (429, "rateLimitExceeded"),
                Failure::Unavailable => (503, "backendError"),
            };
            resource::error(&StoreError {
                code,
                reason,
                message: format!(
                    "The emulator failed this request on purpose (storage failure rate): \
                     retry it ({} {})",
                    request.method(),
                    request.uri().path()
                ),
            })
        }
    }
}

/// Query parameters, decoded (`+` is a space, as in forms).
fn query(raw: Option<String>) -> HashMap<String, String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    raw.unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

fn bad_request(message: impl Into<String>) -> Response {
    resource::error(&StoreError::invalid(message))
}

async fn start_upload(
    State(api): Api,
    Path(bucket): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(refused) = api.authorize(&headers) {
        return refused;
    }
    let params = query(raw);
    let conditions = match Conditions::from_query(&params) {
        Ok(conditions) => conditions,
        Err(err) => return resource::error(&err),
    };
    match params.get("uploadType").map(String::as_str) {
        Some("media") => {
            let Some(name) = params.get("name") else {
                return bad_request("a media upload needs the object's name in `name=`");
            };
            let content_type = header_text(&headers, header::CONTENT_TYPE.as_str())
                .unwrap_or("application/octet-stream");
            if let Err(err) = api.store.check_write(&bucket, name, &conditions) {
                return resource::error(&err);
            }
            let mut writer = match api.store.writer(&bucket, name, content_type) {
                Ok(writer) => writer.with_conditions(conditions),
                Err(err) => return resource::error(&err),
            };
            if let Err(response) = write_body(body, &mut writer, 0).await {
                return response;
            }
            match writer.commit() {
                Ok(meta) => axum::Json(resource::object(&meta, &api.base)).into_response(),
                Err(err) => resource::error(&err),
            }
        }
        Some("multipart") => {
            let content_type = header_text(&headers, header::CONTENT_TYPE.as_str())
                .unwrap_or_default()
                .to_owned();
            let bytes = match axum::body::to_bytes(body, MAX_MULTIPART).await {
                Ok(bytes) => bytes,
                Err(err) => {
                    return resource::error(&StoreError {
                        code: 413,
                        reason: "uploadTooLarge",
                        message: format!(
                            "a multipart upload of more than {MAX_MULTIPART} bytes ({err}): \
                             send a resumable upload"
                        ),
                    });
                }
            };
            let parts = match super::multipart::parse(&content_type, &bytes) {
                Ok(parts) => parts,
                Err(err) => return resource::error(&err),
            };
            let from_body = parts.metadata.get("name").and_then(|n| n.as_str());
            let Some(name) = params.get("name").map(String::as_str).or(from_body) else {
                return bad_request(
                    "a multipart upload needs the object's name in `name=` or in its metadata",
                );
            };
            let object_type = parts
                .metadata
                .get("contentType")
                .and_then(|t| t.as_str())
                .or(parts.media_type.as_deref())
                .unwrap_or("application/octet-stream");
            if let Err(err) = api.store.check_write(&bucket, name, &conditions) {
                return resource::error(&err);
            }
            let mut writer = match api.store.writer(&bucket, name, object_type) {
                Ok(writer) => writer.with_conditions(conditions),
                Err(err) => return resource::error(&err),
            };
            if let Err(err) = writer.write_all(parts.media) {
                return resource::error(&StoreError {
                    code: 500,
                    reason: "backendError",
                    message: format!("could not store the upload: {err}"),
                });
            }
            match writer.commit() {
                Ok(meta) => axum::Json(resource::object(&meta, &api.base)).into_response(),
                Err(err) => resource::error(&err),
            }
        }
        Some("resumable") => {
            // The name is in the query or in the JSON metadata body.
            let metadata = match axum::body::to_bytes(body, 1024 * 1024).await {
                Ok(bytes) => bytes,
                Err(err) => return bad_request(format!("could not read the metadata: {err}")),
            };
            let from_body = serde_json::from_slice::<serde_json::Value>(&metadata)
                .ok()
                .and_then(|v| v.get("name")?.as_str().map(str::to_owned));
            let Some(name) = params.get("name").cloned().or(from_body) else {
                return bad_request(
                    "a resumable upload needs the object's name in `name=` or in the JSON body",
                );
            };
            let content_type = header_text(&headers, "x-upload-content-type")
                .unwrap_or("application/octet-stream");
            if let Err(err) = api.store.check_write(&bucket, &name, &conditions) {
                return resource::error(&err);
            }
            let writer = match api.store.writer(&bucket, &name, content_type) {
                Ok(writer) => writer.with_conditions(conditions),
                Err(err) => return resource::error(&err),
            };
            let id = format!(
                "emulator-{}-{}",
                api.next_session.fetch_add(1, Ordering::Relaxed),
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>())
            );
            lock(&api.sessions).insert(id.clone(), Session { writer });
            let location = format!(
                "{}/upload/storage/v1/b/{bucket}/o?uploadType=resumable&upload_id={id}",
                api.base
            );
            let mut response = StatusCode::OK.into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        Some(other) => bad_request(format!(
            "uploadType `{other}`: the emulator takes `media`, `multipart` and `resumable` \
             uploads"
        )),
        None => bad_request("an upload needs `uploadType=`: `media`, `multipart` or `resumable`"),
    }
}

/// `Content-Range` of a chunk: `bytes FIRST-LAST/TOTAL`, `bytes FIRST-LAST/*`,
/// `bytes */TOTAL` or `bytes */*`; `(first, total)`.
fn content_range(value: &str) -> Option<(Option<u64>, Option<u64>)> {
    let spec = value.strip_prefix("bytes ")?;
    let (range, total) = spec.split_once('/')?;
    let total = match total {
        "*" => None,
        n => Some(n.parse().ok()?),
    };
    let first = match range {
        "*" => None,
        range => {
            let (first, last) = range.split_once('-')?;
            let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
            (last >= first).then_some(first)?;
            Some(first)
        }
    };
    Some((first, total))
}

/// How many bytes a chunk's `Content-Range` names: `LAST - FIRST + 1`, or 0 for `bytes */...`.
fn range_length(value: &str) -> Option<u64> {
    let spec = value.strip_prefix("bytes ")?;
    let (range, _) = spec.split_once('/')?;
    if range == "*" {
        return Some(0);
    }
    let (first, last) = range.split_once('-')?;
    let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
    last.checked_sub(first)?.checked_add(1)
}

async fn upload_chunk(
    State(api): Api,
    Path(_bucket): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // The session URI is the credential, as on the service: no token is checked here.
    let params = query(raw);
    let Some(id) = params.get("upload_id").cloned() else {
        return bad_request(
            "a PUT to the upload path needs `upload_id=` (a resumable session URI)",
        );
    };
    let (first, total) = match header_text(&headers, header::CONTENT_RANGE.as_str()) {
        Some(value) => match content_range(value) {
            Some(range) => range,
            None => {
                return bad_request(format!(
                    "Content-Range {value:?}: expected `bytes FIRST-LAST/TOTAL`, \
                     `bytes FIRST-LAST/*` or `bytes */TOTAL`"
                ));
            }
        },
        // A whole object in one request.
        None => (Some(0), None),
    };
    // The range must say what the body holds, as the service checks.
    if let (Some(value), Some(length)) = (
        header_text(&headers, header::CONTENT_RANGE.as_str()),
        header_text(&headers, header::CONTENT_LENGTH.as_str()).and_then(|n| n.parse::<u64>().ok()),
    ) && let Some(declared) = range_length(value)
        && declared != length
    {
        return bad_request(format!(
            "Content-Range {value:?} is {declared} bytes but the body has {length} \
             (Content-Length): send the bytes the range names"
        ));
    }
    let Some(mut session) = lock(&api.sessions).remove(&id) else {
        return resource::error(&StoreError {
            code: 404,
            reason: "notFound",
            message: format!("No such upload session: {id}"),
        });
    };
    let have = session.writer.written();
    if let Some(first) = first
        && first <= have
        && api.take_chunk_fault()
    {
        // A chunk cut off half way: half of its new bytes are kept, and the answer is a 503.
        let new = header_text(&headers, header::CONTENT_LENGTH.as_str())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
            .saturating_sub(have - first);
        let result = write_body_up_to(body, &mut session.writer, have - first, new / 2).await;
        lock(&api.sessions).insert(id, session);
        return match result {
            Err(response) => response,
            Ok(()) => resource::error(&StoreError {
                code: 503,
                reason: "backendError",
                message: "the emulator was told to cut this chunk off (fail_next_upload_chunks)"
                    .to_owned(),
            }),
        };
    }
    let result = match first {
        Some(first) if first > have => Err(bad_request(format!(
            "the chunk starts at byte {first} but the session has only bytes 0-{} (send from \
             byte {have})",
            have.saturating_sub(1)
        ))),
        // Bytes the session already has are skipped: a client may send again after a failure.
        Some(first) => write_body(body, &mut session.writer, have - first).await,
        None => Ok(()),
    };
    let no_range_whole = header_text(&headers, header::CONTENT_RANGE.as_str()).is_none();
    let written = session.writer.written();
    let total = if no_range_whole { Some(written) } else { total };
    if let Err(response) = result {
        lock(&api.sessions).insert(id, session);
        return response;
    }
    match total {
        Some(total) if written == total => match session.writer.commit() {
            Ok(meta) => axum::Json(resource::object(&meta, &api.base)).into_response(),
            Err(err) => resource::error(&err),
        },
        Some(total) if written > total => bad_request(format!(
            "the session has {written} bytes, more than the total {total} the request declares"
        )),
        _ => {
            lock(&api.sessions).insert(id, session);
            // 308 "Resume Incomplete", with the bytes kept so far.
            let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
            if written > 0
                && let Ok(value) = HeaderValue::from_str(&format!("bytes=0-{}", written - 1))
            {
                response.headers_mut().insert(header::RANGE, value);
            }
            response
        }
    }
}

async fn cancel_upload(State(api): Api, RawQuery(raw): RawQuery) -> Response {
    let params = query(raw);
    match params
        .get("upload_id")
        .and_then(|id| lock(&api.sessions).remove(id))
    {
        // Dropping the writer discards what was written.
        Some(_) => StatusCode::from_u16(499)
            .unwrap_or(StatusCode::NO_CONTENT)
            .into_response(),
        None => resource::error(&StoreError {
            code: 404,
            reason: "notFound",
            message: "No such upload session".to_owned(),
        }),
    }
}

/// Writes the request body into `writer`, dropping its first `skip` bytes.
async fn write_body(body: Body, writer: &mut ObjectWriter, skip: u64) -> Result<(), Response> {
    write_body_up_to(body, writer, skip, u64::MAX).await
}

/// Like [`write_body`], keeping at most `keep` of the bytes after the skipped ones.
async fn write_body_up_to(
    body: Body,
    writer: &mut ObjectWriter,
    mut skip: u64,
    mut keep: u64,
) -> Result<(), Response> {
    let mut stream = body.into_data_stream();
    while let Some(bytes) = stream.next().await {
        let bytes = bytes.map_err(|e| bad_request(format!("the upload broke off: {e}")))?;
        let drop = skip.min(bytes.len() as u64) as usize;
        skip -= drop as u64;
        let kept = keep.min((bytes.len() - drop) as u64) as usize;
        keep -= kept as u64;
        writer.write_all(&bytes[drop..drop + kept]).map_err(|e| {
            resource::error(&StoreError {
                code: 500,
                reason: "backendError",
                message: format!("could not store the upload: {e}"),
            })
        })?;
    }
    Ok(())
}

async fn list(
    State(api): Api,
    Path(bucket): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = api.authorize(&headers) {
        return refused;
    }
    let params = query(raw);
    let prefix = params.get("prefix").map_or("", String::as_str);
    let max = match params.get("maxResults").map(|n| n.parse::<usize>()) {
        None => MAX_PAGE,
        Some(Ok(n)) if n > 0 => n.min(MAX_PAGE),
        Some(_) => return bad_request("maxResults must be a positive number"),
    };
    // A page token is the last name of the previous page, base64.
    let after = match params.get("pageToken").filter(|t| !t.is_empty()) {
        None => None,
        Some(token) => match base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
        {
            Some(name) => Some(name),
            None => {
                return bad_request(format!("pageToken {token:?} is not one this emulator gave"));
            }
        },
    };
    match api.store.list(&bucket, prefix, after.as_deref(), max) {
        Ok((items, more)) => {
            let next = more
                .then(|| items.last())
                .flatten()
                .map(|last| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&last.name));
            axum::Json(resource::listing(&items, next, &api.base)).into_response()
        }
        Err(err) => resource::error(&err),
    }
}

async fn get_object(
    State(api): Api,
    Path((bucket, object)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = api.authorize(&headers) {
        return refused;
    }
    let params = query(raw);
    let conditions = match Conditions::from_query(&params) {
        Ok(conditions) => conditions,
        Err(err) => return resource::error(&err),
    };
    if params.get("alt").map(String::as_str) == Some("media") {
        return media(&api, &bucket, &object, &headers, &conditions);
    }
    match api.store.meta_if(&bucket, &object, &conditions) {
        Ok(meta) => axum::Json(resource::object(&meta, &api.base)).into_response(),
        Err(err) => resource::error(&err),
    }
}

async fn download(
    State(api): Api,
    Path((bucket, object)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = api.authorize(&headers) {
        return refused;
    }
    match Conditions::from_query(&query(raw)) {
        Ok(conditions) => media(&api, &bucket, &object, &headers, &conditions),
        Err(err) => resource::error(&err),
    }
}

async fn delete_object(
    State(api): Api,
    Path((bucket, object)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = api.authorize(&headers) {
        return refused;
    }
    let deleted = Conditions::from_query(&query(raw))
        .and_then(|conditions| api.store.delete_if(&bucket, &object, &conditions));
    match deleted {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => resource::error(&err),
    }
}

/// The object's bytes, or the range the `Range` header asks for (206 with `Content-Range`),
/// with the generation they are in `x-goog-generation` and the whole object's CRC32C and MD5
/// in `x-goog-hash`, as the service sends them.
fn media(
    api: &StorageApi,
    bucket: &str,
    object: &str,
    headers: &HeaderMap,
    conditions: &Conditions,
) -> Response {
    let (meta, data) = match api.store.open_if(bucket, object, conditions) {
        Ok(opened) => opened,
        Err(err) => return resource::error(&err),
    };
    let size = meta.size;
    let range = match header_text(headers, header::RANGE.as_str()) {
        None => None,
        Some(value) => match byte_range(value, size) {
            Ok(range) => range,
            Err(()) => {
                let mut response = resource::error(&StoreError {
                    code: 416,
                    reason: "requestedRangeNotSatisfiable",
                    message: format!(
                        "Range {value:?} is not satisfiable: {bucket}/{object} has {size} bytes"
                    ),
                });
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return response;
            }
        },
    };
    let (first, len) = range.map_or((0, size), |(first, last)| (first, last - first + 1));
    let body = match data {
        ObjectData::Memory(bytes) => {
            let end = first.saturating_add(len).min(bytes.len() as u64);
            Body::from(bytes.slice(first.min(end) as usize..end as usize))
        }
        ObjectData::File(mut file) => {
            use std::io::{Seek, SeekFrom};
            if let Err(e) = file.seek(SeekFrom::Start(first)) {
                return resource::error(&StoreError {
                    code: 500,
                    reason: "backendError",
                    message: format!("could not read the object: {e}"),
                });
            }
            Body::from_stream(file_chunks(file.take(len)))
        }
    };
    let body = match api.faults.on_download(len) {
        Some(keep) => cut_off(body, keep),
        None => body,
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&meta.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert("x-goog-generation", HeaderValue::from(meta.generation));
    headers.insert(
        "x-goog-metageneration",
        HeaderValue::from(meta.metageneration),
    );
    // The whole object's hashes, also for a range, as the service sends them.
    for hash in [
        format!("crc32c={}", meta.hashes.crc32c_base64()),
        format!("md5={}", meta.hashes.md5_base64()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&hash) {
            headers.append("x-goog-hash", v);
        }
    }
    if let Some((first, last)) = range {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{size}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    response
}

/// A `Range: bytes=...` header as `(first, last)` inclusive and clamped to the object, `None`
/// for the whole object, `Err` when nothing of it can be served (416). As the service (and
/// HTTP) does, a header that is not one well-formed byte range (another unit, several ranges,
/// `5-2`, no numbers) is ignored: the whole object.
fn byte_range(value: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let number = |text: &str| text.parse::<u64>().ok();
    let (first, last) = match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            Some(0) | None => return Ok(None),
            Some(n) => (size.saturating_sub(n), size.checked_sub(1).ok_or(())?),
        },
        (first, "") => match number(first) {
            Some(first) => (first, size.checked_sub(1).ok_or(())?),
            None => return Ok(None),
        },
        (first, last) => match (number(first), number(last)) {
            (Some(first), Some(last)) if last >= first => (first, last.min(size.saturating_sub(1))),
            _ => return Ok(None),
        },
    };
    if size == 0 || first >= size {
        return Err(());
    }
    Ok(Some((first, last)))
}

/// `body`'s first `keep` bytes, then an error, which makes the server drop the connection
/// part way through the body (its `Content-Length` promised more).
fn cut_off(body: Body, keep: u64) -> Body {
    let stream = futures_util::stream::unfold(
        (body.into_data_stream(), keep, false),
        |(mut stream, left, ended)| async move {
            if ended {
                return None;
            }
            if left == 0 {
                // Once pending first: the server flushes what it has buffered (the headers,
                // the bytes kept) before it drops the connection, as a connection that breaks
                // on the way delivers what was sent before the break.
                tokio::task::yield_now().await;
                let dropped = std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "dropped on purpose (storage drop rate)",
                );
                return Some((Err(dropped), (stream, 0, true)));
            }
            match stream.next().await {
                Some(Ok(bytes)) => {
                    let n = left.min(bytes.len() as u64);
                    Some((Ok(bytes.slice(..n as usize)), (stream, left - n, false)))
                }
                Some(Err(err)) => Some((Err(std::io::Error::other(err)), (stream, 0, true))),
                None => None,
            }
        },
    );
    Body::from_stream(stream)
}

/// A file's bytes as a stream of chunks; reads run on the blocking pool.
fn file_chunks(
    file: std::io::Take<std::fs::File>,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::try_unfold(file, |mut file| async move {
        let (file, chunk) = tokio::task::spawn_blocking(move || {
            let mut chunk = vec![0; READ_SIZE];
            let n = file.read(&mut chunk)?;
            chunk.truncate(n);
            Ok::<_, std::io::Error>((file, chunk))
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok((!chunk.is_empty()).then(|| (Bytes::from(chunk), file)))
    })
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn unknown_method(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    resource::error(&StoreError {
        code: 405,
        reason: "methodNotAllowed",
        message: format!(
            "{method} is not a method of {}: objects are read with GET, uploaded with POST (and \
             PUT to a resumable session), deleted with DELETE",
            uri.path()
        ),
    })
}

async fn unknown_route(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    resource::error(&StoreError {
        code: 404,
        reason: "notFound",
        message: format!(
            "{method} {}: the emulator serves the Cloud Storage JSON API's objects only \
             (insert by media, multipart or resumable upload, get, get with alt=media, list, delete)",
            uri.path()
        ),
    })
}

impl std::fmt::Debug for StorageApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageApi")
            .field("base", &self.base)
            .field("require_auth", &self.require_auth)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_clamped_or_refused() {
        assert_eq!(byte_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(byte_range("bytes=90-200", 100), Ok(Some((90, 99))));
        assert_eq!(byte_range("bytes=10-", 100), Ok(Some((10, 99))));
        assert_eq!(byte_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(byte_range("bytes=100-", 100), Err(()));
        assert_eq!(byte_range("bytes=0-", 0), Err(()));
        // Not one well-formed byte range: ignored, the whole object.
        for ignored in [
            "items=1-2",
            "bytes=5-2",
            "bytes=0-1,5-6",
            "bytes=x-",
            "bytes=-0",
            "bytes=1",
            "bytes=--1",
        ] {
            assert_eq!(byte_range(ignored, 100), Ok(None), "{ignored}");
        }
    }

    #[test]
    fn content_ranges_parse() {
        assert_eq!(content_range("bytes 0-9/*"), Some((Some(0), None)));
        assert_eq!(content_range("bytes 10-19/20"), Some((Some(10), Some(20))));
        assert_eq!(content_range("bytes */20"), Some((None, Some(20))));
        assert_eq!(content_range("bytes */*"), Some((None, None)));
        assert_eq!(content_range("bytes 9-0/*"), None);
        assert_eq!(content_range("0-9/*"), None);
        assert_eq!(range_length("bytes 0-9/*"), Some(10));
        assert_eq!(range_length("bytes */20"), Some(0));
        assert_eq!(range_length("bytes 9-0/*"), None);
    }
}

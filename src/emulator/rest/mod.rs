//! The emulator over REST: the same JobService and Operations, the same state, validation,
//! bearer-token rule, call record and faults, answering HTTP/JSON on the gRPC port.
//!
//! A call is routed by the `google.api.http` annotations of the vendored protos
//! ([`routes`]), made into the RPC's request message from its path, body and query
//! ([`request`]), and handed to the very service implementation gRPC calls reach, with the HTTP
//! headers as its metadata. The answer is proto3 JSON ([`json`]); an error is Google's JSON
//! error with the status's details ([`error`]).
//!
//! One port serves both protocols: a request whose `content-type` is `application/grpc...` goes
//! to the gRPC services, any other to REST ([`one_port`]). With TLS, ALPN offers `h2` and
//! `http/1.1` (see `tls_incoming`), so HTTP/1.1-only REST clients connect too.

mod error;
mod json;
mod query;
mod request;
mod routes;
mod template;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, Uri};
use prost_reflect::DynamicMessage;
use tonic::metadata::MetadataMap;
use tower::ServiceExt;

use super::Emulator;
use super::operations::OperationsService;
use super::service::JobServiceImpl;
use crate::proto::google::longrunning::operations_server::Operations;
use crate::v1::job_service_server::JobService;
use json::Output;
use routes::{Route, Rpc};

/// The services REST calls reach: the same values the gRPC server holds.
#[derive(Debug, Clone)]
pub(crate) struct Services {
    pub(crate) jobs: JobServiceImpl,
    pub(crate) operations: OperationsService,
}

/// gRPC (`grpc`, tonic's routes) and REST for `services`, told apart by content type.
pub(crate) fn one_port(grpc: tonic::service::Routes, services: Services) -> tonic::service::Routes {
    let grpc = grpc.into_axum_router();
    let rest = axum::Router::new()
        .fallback(handle)
        .with_state(Arc::new(services));
    let both = tower::service_fn(move |request: http::Request<Body>| {
        let is_grpc = request
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"));
        if is_grpc {
            grpc.clone().oneshot(request)
        } else {
            rest.clone().oneshot(request)
        }
    });
    axum::Router::new().fallback_service(both).into()
}

impl Emulator {
    /// The REST base URL, `http://127.0.0.1:PORT` (`https://` with TLS): the gRPC port, which
    /// answers HTTP/JSON too, at the paths of the service's REST API
    /// (`/v1/projects/P/locations/L/batchPredictionJobs`, ...).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vertex_batch::Error> {
    /// let emu = vertex_batch::emulator::Emulator::builder().start().await?;
    /// let jobs = format!(
    ///     "{}/v1/projects/my-project/locations/{}/batchPredictionJobs",
    ///     emu.rest_uri(),
    ///     emu.location()
    /// );
    /// assert!(jobs.starts_with("http://127.0.0.1:"));
    /// # Ok(()) }
    /// ```
    pub fn rest_uri(&self) -> String {
        self.uri()
    }
}

/// The largest request body REST takes: 2 MiB (a job is a few KiB). A larger one is a 413
/// with Google's JSON error.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

async fn handle(
    State(services): State<Arc<Services>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let query = match query::parse(uri.query()) {
        Ok(query) => query,
        Err(status) => return failure(&status, Output::default()),
    };
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Some((route, bound)) = routes::find(&method, uri.path()) else {
        return failure(&error::no_route(&method, uri.path()), query.output);
    };
    let answer = match request::assemble(route, bound, &body, query.fields) {
        Ok(message) => call(&services, route, message, headers).await,
        Err(status) => Err(status),
    };
    let written = answer.and_then(|bytes| {
        json::encode(&route.descriptor.output(), &bytes, query.output)
            .map_err(tonic::Status::internal)
    });
    match written {
        Ok(text) => json_response(http::StatusCode::OK, text),
        Err(status) => failure(&status, query.output),
    }
}

/// How much of a body too large is still read (and dropped) before the 413 is sent, so that
/// a client still sending gets the answer rather than a reset connection.
const DRAIN_BYTES: u64 = 32 * 1024 * 1024;

/// The request's body, at most [`MAX_BODY_BYTES`]; a larger one is answered 413 with
/// Google's JSON error (once up to [`DRAIN_BYTES`] of it were read), a body that breaks off
/// 400.
async fn read_body(body: Body) -> Result<Bytes, Response> {
    use futures_util::StreamExt;
    let mut collected = Vec::new();
    let mut total: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            failure(
                &tonic::Status::invalid_argument(format!("the request body broke off: {e}")),
                Output::default(),
            )
        })?;
        total = total.saturating_add(chunk.len() as u64);
        if total > DRAIN_BYTES {
            break;
        }
        if total <= MAX_BODY_BYTES as u64 {
            collected.extend_from_slice(&chunk);
        }
    }
    if total <= MAX_BODY_BYTES as u64 {
        return Ok(Bytes::from(collected));
    }
    let size = if total > DRAIN_BYTES {
        format!("more than {DRAIN_BYTES} bytes")
    } else {
        format!("{total} bytes")
    };
    let status = tonic::Status::invalid_argument(format!(
        "The request body ({size}) is larger than the {} MiB the emulator's REST API takes; a \
         batch prediction job is a few KiB: send the job, not its data (put the data in Cloud \
         Storage and name it in inputConfig)",
        MAX_BODY_BYTES / (1024 * 1024)
    ));
    let mut error = error::body(&status);
    error["error"]["code"] = serde_json::json!(413);
    let text = json::text(&error, Output::default()).unwrap_or_default();
    Err(json_response(http::StatusCode::PAYLOAD_TOO_LARGE, text))
}

/// Calls the RPC; its answer as protobuf bytes.
async fn call(
    services: &Services,
    route: &Route,
    message: DynamicMessage,
    headers: HeaderMap,
) -> Result<Vec<u8>, tonic::Status> {
    let metadata = MetadataMap::from_headers(headers);
    let jobs = &services.jobs;
    match route.rpc {
        Rpc::Create => answer(
            jobs.create_batch_prediction_job(typed(&message, metadata)?)
                .await,
        ),
        Rpc::Get => answer(
            jobs.get_batch_prediction_job(typed(&message, metadata)?)
                .await,
        ),
        Rpc::List => answer(
            jobs.list_batch_prediction_jobs(typed(&message, metadata)?)
                .await,
        ),
        Rpc::Delete => answer(
            jobs.delete_batch_prediction_job(typed(&message, metadata)?)
                .await,
        ),
        Rpc::Cancel => answer(
            jobs.cancel_batch_prediction_job(typed(&message, metadata)?)
                .await,
        ),
        Rpc::GetOperation => answer(
            services
                .operations
                .get_operation(typed(&message, metadata)?)
                .await,
        ),
    }
}

/// The typed request a service method takes, with the call's headers as metadata.
fn typed<T: prost::Message + Default>(
    message: &DynamicMessage,
    metadata: MetadataMap,
) -> Result<tonic::Request<T>, tonic::Status> {
    let message = message
        .transcode_to()
        .map_err(|e| tonic::Status::internal(format!("the request does not transcode: {e}")))?;
    Ok(tonic::Request::from_parts(
        metadata,
        tonic::Extensions::default(),
        message,
    ))
}

fn answer<T: prost::Message>(
    answer: Result<tonic::Response<T>, tonic::Status>,
) -> Result<Vec<u8>, tonic::Status> {
    answer.map(|response| response.into_inner().encode_to_vec())
}

fn failure(status: &tonic::Status, output: Output) -> Response {
    let text = json::text(&error::body(status), output).unwrap_or_default();
    json_response(error::http_status(status.code()), text)
}

fn json_response(status: http::StatusCode, text: Vec<u8>) -> Response {
    let mut response = (status, text).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}

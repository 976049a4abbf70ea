//! What the emulator saw of each call, for tests to assert on headers.

use tonic::metadata::MetadataMap;

/// One call (gRPC, or REST under the same method name) as the emulator received it. The token
/// itself is never kept: only whether an `authorization` header was there.
///
/// ```
/// use vertex_batch::emulator::RecordedCall;
///
/// fn routed_by_name(call: &RecordedCall) -> bool {
///     call.request_params.as_deref().is_some_and(|p| p.starts_with("name="))
/// }
/// # let _ = routed_by_name;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedCall {
    /// The RPC's method name, e.g. `GetBatchPredictionJob`, `GetOperation`.
    pub method: String,
    /// Whether an `authorization` header came with the call.
    pub authorization_present: bool,
    /// `x-goog-request-params`, the routing header.
    pub request_params: Option<String>,
    /// `x-goog-user-project`, the quota project.
    pub user_project: Option<String>,
    /// `x-goog-api-client`.
    pub api_client: Option<String>,
    /// `user-agent`.
    pub user_agent: Option<String>,
    /// `grpc-timeout`, the deadline the client sent, as on the wire (e.g. `5000m`).
    pub grpc_timeout: Option<String>,
}

impl RecordedCall {
    pub(crate) fn from_metadata(method: &str, metadata: &MetadataMap) -> Self {
        let text = |key: &str| {
            metadata
                .get(key)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        RecordedCall {
            method: method.to_string(),
            authorization_present: metadata.contains_key("authorization"),
            request_params: text("x-goog-request-params"),
            user_project: text("x-goog-user-project"),
            api_client: text("x-goog-api-client"),
            user_agent: text("user-agent"),
            grpc_timeout: text("grpc-timeout"),
        }
    }
}

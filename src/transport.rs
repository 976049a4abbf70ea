//! The authenticated channel: one tonic [`Channel`] to an [`Endpoint`], with every request
//! stamped with Google's headers. Any generated client runs on it.
//!
//! Headers added to every request (unless the request already has them):
//! - `authorization: Bearer <token>` from the channel's token cache (not with
//!   [`Credentials::none`]);
//! - `x-goog-user-project` when a quota project is set, or `GOOGLE_CLOUD_QUOTA_PROJECT` is;
//! - `x-goog-api-client: gl-rust/<rustc> grpc/<tonic> gccl/<this crate>`;
//! - `user-agent: vertex-batch/<version> tonic/<version>`.
//!
//! The routing header `x-goog-request-params` depends on the request: see [`crate::routing`].
//!
//! Why a tower service and not a tonic `Interceptor`: an interceptor is synchronous, and the
//! first token (or one that ran out) has to be awaited. The service stamps a cached token
//! synchronously, which is every call in steady state (a read lock and reference-counted
//! `HeaderValue` clones, nothing formatted per call), and boxes a future only for a call that must wait for a token. The
//! benchmark `benches/transport.rs` measures it against the bare channel.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderName, HeaderValue};
use tonic::body::Body;
use tonic::transport::Channel;
use tonic::transport::channel::ResponseFuture;
use tower::Service;

use crate::Error;
use crate::auth::{Credentials, TokenCache};
use crate::endpoint::Endpoint;

/// The environment variable naming the project billed for quota, as in Google's SDKs.
pub const QUOTA_PROJECT_ENV: &str = "GOOGLE_CLOUD_QUOTA_PROJECT";

/// The `user-agent` this crate sends (tonic appends `tonic/<version>`).
pub const USER_AGENT: &str = concat!("vertex-batch/", env!("CARGO_PKG_VERSION"));

/// The tonic release this crate is built against (Cargo.toml's requirement; the test
/// `api_client_names_the_tonic_in_cargo_toml` keeps them in step). A macro, for `concat!`.
macro_rules! tonic_version {
    () => {
        "0.14"
    };
}

/// The `x-goog-api-client` value: the language runtime, the gRPC library and this crate.
pub const API_CLIENT: &str = concat!(
    "gl-rust/",
    env!("VERTEX_BATCH_RUSTC_VERSION"),
    " grpc/",
    tonic_version!(),
    " gccl/",
    env!("CARGO_PKG_VERSION")
);

const X_GOOG_API_CLIENT: HeaderName = HeaderName::from_static("x-goog-api-client");
const X_GOOG_USER_PROJECT: HeaderName = HeaderName::from_static("x-goog-user-project");

/// The boxed error an [`AuthChannel`] call fails with; tonic turns it into a
/// [`tonic::Status`] (`UNAUTHENTICATED` for a token failure, `UNAVAILABLE` for a connection
/// failure). [`AuthChannel::error_from_status`] turns that back into a crate [`Error`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A channel to a Vertex AI endpoint that authenticates every request: build any generated
/// client on it.
///
/// Cheap to clone; clones share the connection and the token cache.
///
/// ```no_run
/// use vertex_batch::auth::Credentials;
/// use vertex_batch::endpoint::Endpoint;
/// use vertex_batch::proto::google::longrunning::operations_client::OperationsClient;
/// use vertex_batch::transport::AuthChannel;
/// use vertex_batch::v1::job_service_client::JobServiceClient;
///
/// # async fn run() -> vertex_batch::Result<()> {
/// let channel = AuthChannel::builder()
///     .with_endpoint(Endpoint::for_location("us-central1")?)
///     .with_credentials(Credentials::application_default())
///     .with_quota_project("my-billing-project")
///     .connect()
///     .await?;
/// let jobs = JobServiceClient::new(channel.clone());
/// let operations = OperationsClient::new(channel);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AuthChannel {
    inner: Channel,
    fixed: Arc<FixedHeaders>,
    tokens: Option<TokenCache>,
    endpoint: Arc<Endpoint>,
}

/// Header values computed once per channel.
#[derive(Debug)]
struct FixedHeaders {
    api_client: HeaderValue,
    user_project: Option<HeaderValue>,
}

/// Options for an [`AuthChannel`]; made by [`AuthChannel::builder`].
///
/// ```
/// use vertex_batch::auth::Credentials;
/// use vertex_batch::endpoint::Endpoint;
/// use vertex_batch::transport::AuthChannel;
///
/// let builder = AuthChannel::builder()
///     .with_endpoint(Endpoint::global())
///     .with_credentials(Credentials::none());
/// ```
#[derive(Clone, Debug)]
pub struct AuthChannelBuilder {
    endpoint: Option<Endpoint>,
    credentials: Credentials,
    quota_project: Option<String>,
}

impl AuthChannel {
    /// Starts building a channel. Without [`AuthChannelBuilder::with_endpoint`] the endpoint
    /// comes from `GOOGLE_CLOUD_LOCATION`; without [`AuthChannelBuilder::with_credentials`]
    /// Application Default Credentials are used.
    ///
    /// ```
    /// let builder = vertex_batch::transport::AuthChannel::builder();
    /// ```
    pub fn builder() -> AuthChannelBuilder {
        AuthChannelBuilder {
            endpoint: None,
            credentials: Credentials::application_default(),
            quota_project: None,
        }
    }

    /// The endpoint this channel talks to.
    ///
    /// ```no_run
    /// # async fn run(channel: vertex_batch::transport::AuthChannel) {
    /// println!("connected to {}", channel.endpoint().uri());
    /// # }
    /// ```
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The channel's token cache, so that Cloud Storage calls share its tokens.
    #[cfg(feature = "storage")]
    pub(crate) fn token_cache(&self) -> Option<&TokenCache> {
        self.tokens.as_ref()
    }

    /// The crate [`Error`] behind a status a generated client returned on this channel: the
    /// [`Error::Auth`] of a token that could not be had, an [`Error::Transport`] that says what
    /// to do about a connection that failed (an untrusted certificate, nothing listening, ...),
    /// or the service's own answer as [`Error::Status`].
    ///
    /// ```no_run
    /// # async fn run(channel: vertex_batch::transport::AuthChannel) {
    /// use vertex_batch::v1::{GetBatchPredictionJobRequest, job_service_client::JobServiceClient};
    ///
    /// let mut jobs = JobServiceClient::new(channel.clone());
    /// let name = "projects/p/locations/us-central1/batchPredictionJobs/1".to_owned();
    /// if let Err(status) = jobs.get_batch_prediction_job(GetBatchPredictionJobRequest { name }).await {
    ///     eprintln!("{}", channel.error_from_status(status));
    /// }
    /// # }
    /// ```
    pub fn error_from_status(&self, status: tonic::Status) -> Error {
        error_from_status(status, &self.endpoint)
    }
}

/// The crate error behind a status from a call on a channel to `endpoint`: see
/// [`AuthChannel::error_from_status`].
fn error_from_status(status: tonic::Status, endpoint: &Endpoint) -> Error {
    let Some(source) = status.source() else {
        // Statuses the server sent have no source.
        return crate::error::status_with_hint(status, endpoint);
    };
    for err in chain(source) {
        if err.is::<tonic::TimeoutExpired>() {
            // tonic reports its own deadline as CANCELLED; it is the call's deadline.
            let status = tonic::Status::deadline_exceeded(
                "no answer before the call's deadline (RetryPolicy::with_attempt_timeout)",
            );
            return crate::error::status_with_hint(status, endpoint);
        }
        if let Some(Error::Auth {
            source_name,
            message,
        }) = err.downcast_ref::<Error>()
        {
            return Error::Auth {
                source_name: source_name.clone(),
                message: message.clone(),
            };
        }
    }
    transport_error(endpoint, source)
}

impl AuthChannelBuilder {
    /// The endpoint to connect to.
    pub fn with_endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    /// The credential that authenticates the calls.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// The project billed for quota (`x-goog-user-project`); overrides
    /// `GOOGLE_CLOUD_QUOTA_PROJECT`.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project = Some(project.into());
        self
    }

    /// Makes the channel. Unless the endpoint is lazy, this connects and fetches the first
    /// token now, so a wrong endpoint or credential fails here rather than on the first call.
    ///
    /// Errors: [`Error::InvalidInput`] for a bad quota project or CA certificate,
    /// [`Error::Transport`] when the connection fails, [`Error::Auth`] when no token can be had.
    pub async fn connect(self) -> Result<AuthChannel, Error> {
        let endpoint = match self.endpoint {
            Some(endpoint) => endpoint,
            None => Endpoint::from_env()?,
        };
        let quota_project = self.quota_project.or_else(|| {
            std::env::var(QUOTA_PROJECT_ENV)
                .ok()
                .filter(|p| !p.is_empty())
        });
        let user_project = quota_project
            .map(|p| {
                HeaderValue::try_from(p.as_str()).map_err(|_| {
                    Error::invalid(
                        "quota_project",
                        format!(
                            "`{p}` is not a project ID (visible ASCII only, like `my-project`)"
                        ),
                    )
                })
            })
            .transpose()?;
        let fixed = Arc::new(FixedHeaders {
            api_client: HeaderValue::from_static(API_CLIENT),
            user_project,
        });

        let tonic_endpoint = endpoint.to_tonic(USER_AGENT)?;
        let inner = if endpoint.is_lazy_connect() {
            tonic_endpoint.connect_lazy()
        } else {
            tonic_endpoint
                .connect()
                .await
                .map_err(|e| transport_error(&endpoint, &e))?
        };
        let tokens = self.credentials.into_cache();
        if let (Some(tokens), false) = (&tokens, endpoint.is_lazy_connect()) {
            tokens.fetch().await?;
        }
        Ok(AuthChannel {
            inner,
            fixed,
            tokens,
            endpoint: Arc::new(endpoint),
        })
    }
}

impl Service<http::Request<Body>> for AuthChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = AuthResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let headers = request.headers_mut();
        if !headers.contains_key(X_GOOG_API_CLIENT) {
            headers.insert(X_GOOG_API_CLIENT, self.fixed.api_client.clone());
        }
        if let Some(project) = &self.fixed.user_project
            && !headers.contains_key(X_GOOG_USER_PROJECT)
        {
            headers.insert(X_GOOG_USER_PROJECT, project.clone());
        }
        let Some(tokens) = &self.tokens else {
            return AuthResponseFuture::Sent(self.inner.call(request));
        };
        if let Some(bearer) = tokens.cached_header() {
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, bearer);
            return AuthResponseFuture::Sent(self.inner.call(request));
        }
        // No usable token: wait for one, then send on the channel that poll_ready readied
        // (leaving a fresh clone in its place, as tower's contract asks).
        let ready = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, ready);
        let tokens = tokens.clone();
        AuthResponseFuture::WaitingForToken(Box::pin(async move {
            let bearer = tokens.fetch().await.map_err(unauthenticated)?;
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, bearer);
            ready.call(request).await.map_err(Into::into)
        }))
    }
}

/// A token failure as the status generated clients return, keeping the crate error as its
/// source for [`AuthChannel::error_from_status`].
fn unauthenticated(err: Error) -> BoxError {
    let mut status = tonic::Status::unauthenticated(err.to_string());
    status.set_source(Arc::new(err));
    Box::new(status)
}

/// The response future of [`AuthChannel`]: the channel's own future when a token was cached,
/// a boxed one only when the call has to wait for a token.
pub enum AuthResponseFuture {
    /// Sent on the channel.
    Sent(ResponseFuture),
    /// Waiting for the first (or an expired) token, then sent.
    WaitingForToken(Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>),
}

impl Future for AuthResponseFuture {
    type Output = Result<http::Response<Body>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            AuthResponseFuture::Sent(sent) => Pin::new(sent).poll(cx).map_err(Into::into),
            AuthResponseFuture::WaitingForToken(waiting) => waiting.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for AuthResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthResponseFuture::Sent(_) => "AuthResponseFuture::Sent",
            AuthResponseFuture::WaitingForToken(_) => "AuthResponseFuture::WaitingForToken",
        })
    }
}

impl fmt::Debug for AuthChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthChannel")
            .field("endpoint", &self.endpoint.uri())
            .field("tokens", &self.tokens)
            .field("headers", &self.fixed)
            .finish()
    }
}

/// An error and its sources, outermost first. `std::io::Error` reports its inner error's
/// source rather than the inner error itself, so the inner error is visited explicitly.
fn chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(err);
    while let Some(err) = next {
        out.push(err);
        next = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => err.source(),
        };
    }
    out
}

/// An error and its sources in one line, without repeating a message a parent already shows.
pub(crate) fn flatten(err: &(dyn StdError + 'static)) -> String {
    let mut text = String::new();
    for err in chain(err) {
        let message = err.to_string();
        if text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

/// A connection failure as [`Error::Transport`], with what to do about it.
fn transport_error(endpoint: &Endpoint, err: &(dyn StdError + 'static)) -> Error {
    let errors = chain(err);
    let advice = errors
        .iter()
        .find_map(|e| {
            e.downcast_ref::<rustls::Error>()
                .map(|tls| tls_advice(endpoint, tls))
        })
        .or_else(|| {
            errors.iter().find_map(|e| {
                let io = e.downcast_ref::<std::io::Error>()?;
                match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => Some(format!(
                        "nothing accepts connections at {}: check the host and port, and that \
                         the server (or the emulator) is running",
                        endpoint.uri()
                    )),
                    std::io::ErrorKind::TimedOut => Some(
                        "the connection timed out: check network access to the endpoint \
                         (firewall, proxy, VPC Service Controls)"
                            .to_owned(),
                    ),
                    _ => None,
                }
            })
        })
        .unwrap_or_else(|| {
            format!(
                "check the endpoint ({}), that this machine can reach it (DNS, firewall, proxy), \
                 and that it speaks {}",
                endpoint.uri(),
                if endpoint.is_tls() {
                    "TLS (for plain HTTP write http://)"
                } else {
                    "plain HTTP/2 (for TLS write https://)"
                }
            )
        });
    Error::Transport {
        endpoint: endpoint.uri(),
        // tonic's outermost message is only "transport error", which the variant says already.
        message: format!(
            "{}; {advice}",
            flatten(err).trim_start_matches("transport error: ")
        ),
    }
}

fn tls_advice(endpoint: &Endpoint, err: &rustls::Error) -> String {
    use rustls::CertificateError as Cert;
    match err {
        rustls::Error::InvalidCertificate(Cert::UnknownIssuer | Cert::BadSignature) => format!(
            "the server's TLS certificate is not trusted (its issuer is not a trusted CA): if \
             {} is a proxy, Private Service Connect or the emulator, add its CA certificate \
             with Endpoint::with_ca_pem, or use TrustRoots::Native when the CA is installed on \
             this machine",
            endpoint.host()
        ),
        rustls::Error::InvalidCertificate(
            Cert::NotValidForName | Cert::NotValidForNameContext { .. },
        ) => format!(
            "the server's TLS certificate is not valid for the name {}: reach the endpoint by a \
             name its certificate carries, or set that name with Endpoint::with_tls_domain",
            endpoint.host()
        ),
        rustls::Error::InvalidCertificate(Cert::Expired | Cert::ExpiredContext { .. }) => {
            "the server's TLS certificate has expired (or this machine's clock is wrong)".to_owned()
        }
        other => format!("the TLS handshake failed ({other}): check the endpoint speaks TLS"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_client_names_rustc_tonic_and_this_crate() {
        let parts: Vec<&str> = API_CLIENT.split(' ').collect();
        assert_eq!(parts.len(), 3, "{API_CLIENT}");
        let rustc = parts[0].strip_prefix("gl-rust/").unwrap();
        assert!(rustc.starts_with("1."), "{API_CLIENT}");
        assert_eq!(parts[1], concat!("grpc/", tonic_version!()));
        assert_eq!(parts[2], concat!("gccl/", env!("CARGO_PKG_VERSION")));
        assert!(HeaderValue::try_from(API_CLIENT).is_ok());
    }

    #[test]
    fn api_client_names_the_tonic_in_cargo_toml() {
        let manifest = include_str!("../Cargo.toml");
        let tonic = manifest
            .lines()
            .find(|l| l.starts_with("tonic = "))
            .unwrap();
        assert!(
            tonic.contains(concat!("version = \"", tonic_version!(), ".")),
            "{tonic}"
        );
    }

    #[test]
    fn flatten_skips_repeated_messages_and_reads_inside_io_errors() {
        let inner = std::io::Error::other("deep cause");
        let outer = std::io::Error::other(inner);
        assert_eq!(flatten(&outer), "deep cause");
    }
}

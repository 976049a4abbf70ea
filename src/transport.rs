//! The authenticated channel: one tonic [`Channel`] to an [`Endpoint`], with every request
//! stamped with Google's headers. Any generated client runs on it.
//!
//! Headers added to every request (unless the request already has them):
//! - `authorization: Bearer <token>` from the channel's token cache (not with
//!   [`Credentials::none`]);
//! - `x-goog-user-project` when a quota project is set, or `GOOGLE_CLOUD_QUOTA_PROJECT` is
//!   (the rule of [`env`](mod@crate::env));
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

use crate::auth::{Credentials, TokenCache};
use crate::endpoint::Endpoint;
use crate::env::Setting;
use crate::{Audience, Error};

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
    audience: Audience,
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
    audience: Audience,
}

impl AuthChannel {
    /// Starts building a channel. Without [`AuthChannelBuilder::with_endpoint`] the endpoint is
    /// the location's in `GOOGLE_CLOUD_LOCATION`, else `us-central1`'s (the rule of
    /// [`env`](mod@crate::env), as for [`JobClient`](crate::JobClient)); without
    /// [`AuthChannelBuilder::with_credentials`] Application Default Credentials are used.
    ///
    /// ```
    /// let builder = vertex_batch::transport::AuthChannel::builder();
    /// ```
    pub fn builder() -> AuthChannelBuilder {
        AuthChannelBuilder {
            endpoint: None,
            credentials: Credentials::application_default(),
            quota_project: None,
            audience: Audience::default(),
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
        crate::error::from_status(status, &self.endpoint, self.audience)
    }
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

    /// The project billed for quota (`x-goog-user-project`). Default:
    /// `GOOGLE_CLOUD_QUOTA_PROJECT` (blank is unset), else none.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project = Some(project.into());
        self
    }

    /// Who reads the advice in this channel's errors: a program (the default: advice names
    /// functions) or a person at the command line (advice names `vertex-batch` flags).
    pub fn with_audience(mut self, audience: Audience) -> Self {
        self.audience = audience;
        self
    }

    /// Makes the channel. Unless the endpoint is lazy, this connects and fetches the first
    /// token now, so a wrong endpoint or credential fails here rather than on the first call.
    ///
    /// Errors: [`Error::InvalidInput`] for a bad location, quota project or CA certificate
    /// (naming the variable when the value came from one),
    /// [`Error::Transport`] when the connection fails, [`Error::Auth`] when no token can be had.
    pub async fn connect(self) -> Result<AuthChannel, Error> {
        let endpoint = match self.endpoint {
            Some(endpoint) => endpoint,
            None => {
                let location = Setting::location(None);
                Endpoint::for_location(&location.value).map_err(|e| location.blame(e))?
            }
        };
        let user_project = Setting::quota_project(self.quota_project)
            .map(|project| {
                HeaderValue::try_from(project.value.as_str()).map_err(|_| {
                    project.blame(Error::invalid(
                        "quota_project",
                        format!(
                            "`{}` is not a project ID (visible ASCII only, like `my-project`)",
                            project.value
                        ),
                    ))
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
                .map_err(|e| crate::error::from_transport(&endpoint, &e, self.audience))?
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
            audience: self.audience,
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

    /// The `version = "..."` line of dependency `name` in `manifest`, written inline as in
    /// the repository (`tonic = { version = ... }`) or as its own table, as `cargo package`
    /// rewrites it (`[dependencies.tonic]`, then `version = ...`).
    fn dependency_version<'a>(manifest: &'a str, name: &str) -> Option<&'a str> {
        let mut lines = manifest.lines().map(str::trim);
        let inline = format!("{name} = ");
        let table = format!("[dependencies.{name}]");
        while let Some(line) = lines.next() {
            if line.starts_with(&inline) {
                return Some(line);
            }
            if line == table {
                return lines
                    .take_while(|l| !l.starts_with('['))
                    .find(|l| l.starts_with("version = "));
            }
        }
        None
    }

    #[test]
    fn api_client_names_the_tonic_in_cargo_toml() {
        let manifest = include_str!("../Cargo.toml");
        let tonic = dependency_version(manifest, "tonic").expect("tonic is a dependency");
        assert!(
            tonic.contains(concat!("version = \"", tonic_version!(), ".")),
            "{tonic}"
        );
    }

    #[test]
    fn the_tonic_version_is_found_in_either_manifest_form() {
        let repository = "[dependencies]\ntonic = { version = \"0.14.9\", features = [] }\n";
        let packaged = "[dependencies.tonic-types]\nversion = \"0.1\"\n\n[dependencies.tonic]\n\
                        features = [\"x\"]\nversion = \"0.14.9\"\n\n[dependencies.tokio]\n";
        assert!(
            dependency_version(repository, "tonic")
                .unwrap()
                .contains("0.14.9")
        );
        assert_eq!(
            dependency_version(packaged, "tonic"),
            Some("version = \"0.14.9\"")
        );
        assert_eq!(dependency_version("[dependencies]\n", "tonic"), None);
    }
}

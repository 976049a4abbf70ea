//! [`StorageBuilder`]: the endpoint, the credentials (or the token cache of a Vertex AI channel),
//! extra CAs, the upload chunk size and the listing page size.

use std::sync::Arc;
use std::time::Duration;

use gcloud_storage::client::{Client, ClientConfig};

use super::Storage;
use super::tokens::{CachedTokens, Provider};
use crate::RetryPolicy;
use crate::auth::Credentials;
use crate::error::{Error, Field, Result};
use crate::http_service::ServiceBuilder;
use crate::transport::AuthChannel;

/// The public Cloud Storage endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";

/// The variable Google's storage clients (Go, Python, Java, Node) read for an emulator's
/// address, `host:port` or `http://host:port`; when it is set they send no credentials.
pub const EMULATOR_HOST_ENV: &str = "STORAGE_EMULATOR_HOST";

/// Cloud Storage requires every resumable-upload chunk but the last to be a multiple of this.
pub const CHUNK_GRANULARITY: usize = 256 * 1024;

/// The default upload chunk: 16 MiB, as Google's Go client. Each chunk is one request, and is
/// held in memory while it is sent.
pub const DEFAULT_UPLOAD_CHUNK_SIZE: usize = 16 * 1024 * 1024;

/// The default listing page: 1,000 objects, the service's own default and maximum.
pub const DEFAULT_LIST_PAGE_SIZE: u32 = 1000;

/// The default retry budget of a Cloud Storage request: 120 s, the total Google's storage
/// clients allow a request and its retries (their default retry deadline).
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(120);

/// Configures a [`Storage`] client. From [`Storage::builder`] or [`Storage::from_env`].
///
/// ```
/// use vertex_batch::auth::Credentials;
/// use vertex_batch::storage::Storage;
///
/// let storage = Storage::builder()
///     .with_endpoint("http://127.0.0.1:9023")
///     .with_credentials(Credentials::none())
///     .with_upload_chunk_size(8 * 1024 * 1024)
///     .build()?;
/// assert_eq!(storage.endpoint(), "http://127.0.0.1:9023");
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until build()"]
pub struct StorageBuilder {
    service: ServiceBuilder,
    upload_chunk_size: usize,
    list_page_size: u32,
    retry: RetryPolicy,
}

impl StorageBuilder {
    pub(super) fn new() -> Self {
        StorageBuilder::with_service(ServiceBuilder::new(DEFAULT_ENDPOINT))
    }

    fn with_service(service: ServiceBuilder) -> Self {
        StorageBuilder {
            service,
            upload_chunk_size: DEFAULT_UPLOAD_CHUNK_SIZE,
            list_page_size: DEFAULT_LIST_PAGE_SIZE,
            retry: RetryPolicy::default().with_budget(DEFAULT_RETRY_BUDGET),
        }
    }

    /// The defaults, then [`EMULATOR_HOST_ENV`] as Google's storage clients read it: when it is
    /// set (and not blank), its address is the endpoint (`http://` is added to a bare
    /// `host:port`) and no credentials are sent; a later
    /// [`with_credentials`](Self::with_credentials) puts them back, for an emulator that
    /// requires tokens.
    pub(super) fn from_env() -> Self {
        StorageBuilder::with_service(ServiceBuilder::from_env(
            DEFAULT_ENDPOINT,
            EMULATOR_HOST_ENV,
            Field::StorageEmulatorHost,
        ))
    }

    /// Where the JSON API is served: `https://storage.googleapis.com` (the default), a private
    /// endpoint, or an emulator such as `http://127.0.0.1:9023`.
    ///
    /// A token is never sent in clear text over the network: a plain `http://` endpoint takes
    /// credentials only on loopback (`127.0.0.0/8`, `::1`, `localhost`); elsewhere
    /// [`build`](Self::build) refuses it unless the credentials are
    /// [`Credentials::none`].
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.service.set_endpoint(endpoint.into());
        self
    }

    /// The credentials (default Application Default Credentials). The client keeps its own
    /// token cache; to share the one of a Vertex AI client, use
    /// [`with_tokens_of`](Self::with_tokens_of) instead.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.service.set_credentials(credentials);
        self
    }

    /// Use the token cache of a Vertex AI channel (e.g. [`JobClient::channel`](crate::JobClient::channel)):
    /// one token source, one refresh, for both services.
    ///
    /// ```no_run
    /// # async fn run() -> vertex_batch::Result<()> {
    /// use vertex_batch::JobClient;
    /// use vertex_batch::storage::Storage;
    ///
    /// let jobs = JobClient::builder().with_project("my-project").connect().await?;
    /// let storage = Storage::builder().with_tokens_of(jobs.channel()).build()?;
    /// # let _ = storage; Ok(()) }
    /// ```
    pub fn with_tokens_of(mut self, channel: &AuthChannel) -> Self {
        self.service.set_tokens_of(channel);
        self
    }

    /// Also trust this CA (PEM), e.g. an emulator's or a TLS-inspecting proxy's.
    pub fn with_ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.service.add_ca_pem(pem.into());
        self
    }

    /// How much a resumable upload sends per request (default 16 MiB): a positive multiple of
    /// 256 KiB, as Cloud Storage requires. Each chunk is held in memory while it is sent.
    pub fn with_upload_chunk_size(mut self, bytes: usize) -> Self {
        self.upload_chunk_size = bytes;
        self
    }

    /// How many objects a listing asks for per page (default 1,000, the service's maximum).
    pub fn with_list_page_size(mut self, objects: u32) -> Self {
        self.list_page_size = objects;
        self
    }

    /// How failed requests are retried: 408, 429, 5xx and broken connections, with the
    /// policy's exponential backoff and full jitter, at most its attempts, within its budget
    /// (the same [`RetryPolicy`] as [`JobClient`](crate::JobClient)'s; its
    /// `RESOURCE_EXHAUSTED` setting does not apply here). Default: [`RetryPolicy::default`]
    /// (1 s doubling up to 60 s, 10 attempts, 60 s an attempt) with a budget of
    /// [`DEFAULT_RETRY_BUDGET`] (120 s). [`RetryPolicy::none`] turns retries off.
    ///
    /// The policy's [`attempt_timeout`](RetryPolicy::attempt_timeout) bounds connecting, each
    /// request but an upload's (metadata, a listing page, a delete, a resumable session's
    /// start, the wait for a download's first byte) and the wait for each next byte of a
    /// download: a request with no answer by then is retried, a stalled download resumed.
    /// Uploads take as long as their bytes take.
    ///
    /// Each request has its own attempts and budget: one chunk of an upload, one page of a
    /// listing, a download from where its bytes stopped. Each retry is an `info` event under
    /// the target `vertex_batch::storage` (`vertex-batch -v` shows them).
    ///
    /// A conditional write ([`Preconditions`](super::Preconditions)) that is sent again may
    /// answer 412 because its first attempt landed and only the answer was lost: a caller for
    /// whom that matters (a lease) reads the object back to tell.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vertex_batch::RetryPolicy;
    /// use vertex_batch::storage::Storage;
    ///
    /// let storage = Storage::builder()
    ///     .with_retry_policy(
    ///         RetryPolicy::default()
    ///             .with_initial_backoff(Duration::from_millis(100))
    ///             .with_max_attempts(20)
    ///             .with_budget(Duration::from_secs(300)),
    ///     )
    ///     .build()?;
    /// assert_eq!(storage.retry_policy().max_attempts(), 20);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Checks the settings and makes the client. Nothing is sent until the first call.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an endpoint that is not an `http(s)://host[:port]` URL, a
    /// plain `http://` endpoint off loopback with credentials that send a token (a token
    /// must not cross the network in clear text: use `https://`, or [`Credentials::none`]
    /// for an emulator that needs none), a chunk size that is not a positive multiple of
    /// 256 KiB, a page size of 0, or a CA that is not a PEM certificate.
    ///
    /// ```
    /// use vertex_batch::auth::Credentials;
    /// use vertex_batch::storage::Storage;
    ///
    /// let clear_text = Storage::builder()
    ///     .with_endpoint("http://10.0.0.7:9023")
    ///     .with_credentials(Credentials::static_token("ya29.secret"))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(clear_text.is_invalid_input());
    /// assert!(!clear_text.to_string().contains("ya29"));
    /// // No token, or loopback, or TLS: fine.
    /// for (endpoint, credentials) in [
    ///     ("http://10.0.0.7:9023", Credentials::none()),
    ///     ("http://127.0.0.1:9023", Credentials::static_token("ya29.secret")),
    ///     ("https://10.0.0.7", Credentials::static_token("ya29.secret")),
    /// ] {
    ///     Storage::builder().with_endpoint(endpoint).with_credentials(credentials).build()?;
    /// }
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn build(self) -> Result<Storage> {
        let endpoint = self.service.checked_endpoint(DEFAULT_ENDPOINT)?;
        if self.upload_chunk_size == 0 || !self.upload_chunk_size.is_multiple_of(CHUNK_GRANULARITY)
        {
            return Err(Error::invalid(
                "upload_chunk_size",
                format!(
                    "{} bytes: Cloud Storage takes resumable uploads in chunks that are a \
                     positive multiple of 256 KiB ({CHUNK_GRANULARITY} bytes), like 8 MiB",
                    self.upload_chunk_size
                ),
            ));
        }
        if self.list_page_size == 0 || self.list_page_size > DEFAULT_LIST_PAGE_SIZE {
            return Err(Error::invalid(
                "list_page_size",
                format!(
                    "{}: a page holds 1 to {DEFAULT_LIST_PAGE_SIZE} objects",
                    self.list_page_size
                ),
            ));
        }
        let service = self
            .service
            .connect(endpoint, self.retry.attempt_timeout())?;
        let config = ClientConfig {
            http: Some(reqwest_middleware::ClientWithMiddleware::from(service.http)),
            storage_endpoint: service.endpoint.clone(),
            token_source_provider: service.tokens.map(|cache| {
                Box::new(Provider(Arc::new(CachedTokens(cache))))
                    as Box<dyn token_source::TokenSourceProvider>
            }),
            ..ClientConfig::default()
        };
        Ok(Storage::from_parts(
            Client::new(config),
            service.endpoint,
            self.upload_chunk_size,
            self.list_page_size,
            self.retry,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_go_over_tls_or_to_loopback_only() {
        // STORAGE_EMULATOR_HOST's builder sends none: any host is fine.
        let from_env = StorageBuilder::with_service(ServiceBuilder::emulator(
            "gcs:4443",
            Field::StorageEmulatorHost,
        ));
        assert_eq!(from_env.build().unwrap().endpoint(), "http://gcs:4443");
        // A token there is refused, naming the variable.
        let err = StorageBuilder::with_service(ServiceBuilder::emulator(
            "gcs:4443",
            Field::StorageEmulatorHost,
        ))
        .with_credentials(Credentials::static_token("ya29.x"))
        .build()
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid STORAGE_EMULATOR_HOST: http://gcs:4443 is plain HTTP"),
            "{err}"
        );
        let err = StorageBuilder::new()
            .with_endpoint("http://gcs:4443")
            .build()
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid endpoint: http://gcs:4443 is plain HTTP"),
            "{err}"
        );
    }

    #[test]
    fn chunk_and_page_sizes_are_checked() {
        let err = StorageBuilder::new()
            .with_upload_chunk_size(1000)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("multiple of 256 KiB"), "{err}");
        let err = StorageBuilder::new()
            .with_list_page_size(0)
            .build()
            .unwrap_err();
        assert!(
            err.to_string().starts_with("invalid list_page_size"),
            "{err}"
        );
    }
}

//! [`BigQueryBuilder`]: the endpoint (or `BIGQUERY_EMULATOR_HOST`), the credentials (or the
//! token cache of a Vertex AI channel), extra CAs, the retry policy and the page size.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use super::{BigQuery, Inner};
use crate::RetryPolicy;
use crate::auth::Credentials;
use crate::error::{Error, Field, Result};
use crate::http_service::ServiceBuilder;
use crate::transport::AuthChannel;

/// The public BigQuery endpoint (the REST API v2 is below it, at `/bigquery/v2/`).
pub const DEFAULT_ENDPOINT: &str = "https://bigquery.googleapis.com";

/// The variable Google's BigQuery clients and bqemulator use for an emulator's address,
/// `host:port` or `http://host:port`; when it is set no credentials are sent.
pub const EMULATOR_HOST_ENV: &str = "BIGQUERY_EMULATOR_HOST";

/// Rows asked for per page of a table or of a query's results: 10,000 (BigQuery also ends a
/// page at about 10 MB).
pub const DEFAULT_PAGE_SIZE: u32 = 10_000;

/// The default retry budget of a BigQuery request: 120 s, as the storage client's.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(120);

/// Configures a [`BigQuery`] client. From [`BigQuery::builder`] or [`BigQuery::from_env`].
///
/// ```
/// use vertex_batch::auth::Credentials;
/// use vertex_batch::bigquery::BigQuery;
///
/// let bigquery = BigQuery::builder()
///     .with_endpoint("http://127.0.0.1:9050")
///     .with_credentials(Credentials::none())
///     .with_page_size(500)
///     .build()?;
/// assert_eq!(bigquery.endpoint(), "http://127.0.0.1:9050");
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until build()"]
pub struct BigQueryBuilder {
    service: ServiceBuilder,
    page_size: u32,
    retry: RetryPolicy,
}

impl BigQueryBuilder {
    pub(super) fn new() -> Self {
        BigQueryBuilder::with_service(ServiceBuilder::new(DEFAULT_ENDPOINT))
    }

    fn with_service(service: ServiceBuilder) -> Self {
        BigQueryBuilder {
            service,
            page_size: DEFAULT_PAGE_SIZE,
            retry: RetryPolicy::default().with_budget(DEFAULT_RETRY_BUDGET),
        }
    }

    /// The defaults, then [`EMULATOR_HOST_ENV`] as Google's BigQuery clients read it (the way
    /// [`Storage::from_env`](crate::storage::Storage::from_env) reads `STORAGE_EMULATOR_HOST`):
    /// when it is set (and not blank) its address is the endpoint (`http://` is added to a
    /// bare `host:port`) and no credentials are sent; a later
    /// [`with_credentials`](Self::with_credentials) puts them back.
    pub(super) fn from_env() -> Self {
        BigQueryBuilder::with_service(ServiceBuilder::from_env(
            DEFAULT_ENDPOINT,
            EMULATOR_HOST_ENV,
            Field::BigQueryEmulatorHost,
        ))
    }

    /// Where the REST API is served: `https://bigquery.googleapis.com` (the default), or an
    /// emulator such as `http://127.0.0.1:9050`. A plain `http://` endpoint takes credentials
    /// only on loopback; elsewhere [`build`](Self::build) refuses it unless the credentials
    /// are [`Credentials::none`].
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

    /// Use the token cache of a Vertex AI channel (e.g.
    /// [`JobClient::channel`](crate::JobClient::channel)): one token source, one refresh, for
    /// Vertex AI, Cloud Storage and BigQuery.
    ///
    /// ```no_run
    /// # async fn run() -> vertex_batch::Result<()> {
    /// use vertex_batch::JobClient;
    /// use vertex_batch::bigquery::BigQuery;
    ///
    /// let jobs = JobClient::builder().with_project("my-project").connect().await?;
    /// let bigquery = BigQuery::builder().with_tokens_of(jobs.channel()).build()?;
    /// # let _ = bigquery; Ok(()) }
    /// ```
    pub fn with_tokens_of(mut self, channel: &AuthChannel) -> Self {
        self.service.set_tokens_of(channel);
        self
    }

    /// Also trust this CA (PEM), e.g. a TLS-inspecting proxy's.
    pub fn with_ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.service.add_ca_pem(pem.into());
        self
    }

    /// Rows asked for per page when reading a table or a query's results (default
    /// [`DEFAULT_PAGE_SIZE`]): 1 to 100,000.
    pub fn with_page_size(mut self, rows: u32) -> Self {
        self.page_size = rows;
        self
    }

    /// How failed requests are retried: 408, 429, 5xx, BigQuery's `rateLimitExceeded` and
    /// `backendError`, and broken connections, with the policy's exponential backoff and full
    /// jitter, at most its attempts, within its budget: the same [`RetryPolicy`] as
    /// [`JobClient`](crate::JobClient)'s and [`Storage`](crate::storage::Storage)'s. Default:
    /// [`RetryPolicy::default`] with a budget of [`DEFAULT_RETRY_BUDGET`]. Each retry is an
    /// `info` event under the target `vertex_batch::bigquery`, counted in
    /// [`BigQuery::retries`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use vertex_batch::RetryPolicy;
    /// use vertex_batch::bigquery::BigQuery;
    ///
    /// let bigquery = BigQuery::builder()
    ///     .with_retry_policy(RetryPolicy::default().with_max_attempts(3))
    ///     .build()?;
    /// assert_eq!(bigquery.retry_policy().max_attempts(), 3);
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
    /// plain `http://` endpoint off loopback with credentials that send a token, a page size
    /// out of range, or a CA that is not a PEM certificate.
    ///
    /// ```
    /// use vertex_batch::auth::Credentials;
    /// use vertex_batch::bigquery::BigQuery;
    ///
    /// let clear_text = BigQuery::builder()
    ///     .with_endpoint("http://10.0.0.7:9050")
    ///     .with_credentials(Credentials::static_token("ya29.secret"))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(clear_text.to_string().starts_with("invalid endpoint: http://10.0.0.7:9050 is plain HTTP"));
    /// assert!(!clear_text.to_string().contains("ya29"));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn build(self) -> Result<BigQuery> {
        let endpoint = self.service.checked_endpoint(DEFAULT_ENDPOINT)?;
        if !(1..=100_000).contains(&self.page_size) {
            return Err(Error::invalid(
                "page_size",
                format!("{}: a page holds 1 to 100000 rows", self.page_size),
            ));
        }
        let service = self
            .service
            .connect(endpoint, self.retry.attempt_timeout())?;
        Ok(BigQuery {
            inner: Arc::new(Inner {
                api: format!("{}/bigquery/v2/", service.endpoint),
                endpoint: service.endpoint,
                http: service.http,
                tokens: service.tokens,
                page_size: self.page_size,
                retry: self.retry,
                retries: AtomicU64::new(0),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked_with_bigquery_as_the_example() {
        let err = BigQueryBuilder::new()
            .with_endpoint("bigquery.example.com")
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("like `https://bigquery.googleapis.com`"),
            "{err}"
        );
        let err = BigQueryBuilder::new()
            .with_page_size(0)
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid page_size: 0"), "{err}");
    }

    #[test]
    fn an_emulator_host_off_loopback_gets_no_token() {
        let emulator = || {
            BigQueryBuilder::with_service(ServiceBuilder::emulator(
                "bq:9050",
                Field::BigQueryEmulatorHost,
            ))
        };
        assert!(emulator().build().is_ok());
        let err = emulator()
            .with_credentials(Credentials::static_token("ya29.x"))
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid BIGQUERY_EMULATOR_HOST: http://bq:9050 is plain HTTP"),
            "{err}"
        );
    }
}

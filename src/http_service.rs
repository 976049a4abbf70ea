//! What the builders of the crate's HTTP clients share ([`StorageBuilder`] and, with feature
//! `bigquery`, `BigQueryBuilder`): the endpoint and the setting it came from, an
//! `*_EMULATOR_HOST` variable read as Google's clients read it, the credentials or a Vertex AI
//! channel's token cache, and extra CAs; checked as one, so a token never crosses the network
//! in clear text. Each builder keeps only its own settings (chunk and page sizes, the retry
//! policy) and the client it makes.
//!
//! [`StorageBuilder`]: crate::storage::StorageBuilder

use std::time::Duration;

use crate::auth::{Credentials, TokenCache};
use crate::error::{Error, Field, Result};
use crate::storage::tls::http_client;
use crate::transport::AuthChannel;

/// The endpoint and credentials half of a service's builder.
#[derive(Clone, Debug)]
pub(crate) struct ServiceBuilder {
    endpoint: String,
    /// Which setting the endpoint came from, for error messages.
    endpoint_field: Field,
    tokens: Tokens,
    extra_ca_pems: Vec<String>,
}

#[derive(Clone, Debug)]
enum Tokens {
    Credentials(Credentials),
    /// A channel's cache (`None`: that channel sends no token).
    Shared(Option<TokenCache>),
}

/// What [`ServiceBuilder::connect`] gives a client: its checked endpoint, its tokens (`None`:
/// it sends none) and its HTTP client.
pub(crate) struct Service {
    pub(crate) endpoint: String,
    pub(crate) tokens: Option<TokenCache>,
    pub(crate) http: reqwest::Client,
}

impl ServiceBuilder {
    /// `endpoint` with Application Default Credentials.
    pub(crate) fn new(endpoint: &str) -> Self {
        ServiceBuilder {
            endpoint: endpoint.to_owned(),
            endpoint_field: Field::Endpoint,
            tokens: Tokens::Credentials(Credentials::application_default()),
            extra_ca_pems: Vec::new(),
        }
    }

    /// `public`, or the emulator `variable` names when it is set and not blank (its errors
    /// then name `field`).
    pub(crate) fn from_env(public: &str, variable: &str, field: Field) -> Self {
        match std::env::var(variable) {
            Ok(host) if !host.trim().is_empty() => Self::emulator(&host, field),
            _ => Self::new(public),
        }
    }

    /// The emulator at `host` (an `*_EMULATOR_HOST` value, named by `field` in errors), with
    /// no credentials, as Google's clients do.
    pub(crate) fn emulator(host: &str, field: Field) -> Self {
        ServiceBuilder {
            endpoint: emulator_endpoint(host),
            endpoint_field: field,
            tokens: Tokens::Credentials(Credentials::none()),
            extra_ca_pems: Vec::new(),
        }
    }

    pub(crate) fn set_endpoint(&mut self, endpoint: String) {
        self.endpoint = endpoint;
        self.endpoint_field = Field::Endpoint;
    }

    pub(crate) fn set_credentials(&mut self, credentials: Credentials) {
        self.tokens = Tokens::Credentials(credentials);
    }

    pub(crate) fn set_tokens_of(&mut self, channel: &AuthChannel) {
        self.tokens = Tokens::Shared(channel.token_cache().cloned());
    }

    pub(crate) fn add_ca_pem(&mut self, pem: String) {
        self.extra_ca_pems.push(pem);
    }

    /// The endpoint without a trailing slash, or why it is not one (`public`, the service's
    /// own endpoint, is the message's example). The first check of a `build`.
    pub(crate) fn checked_endpoint(&self, public: &str) -> Result<String> {
        check_endpoint(&self.endpoint, &self.endpoint_field, public)
    }

    /// The last checks of a `build`, after the endpoint's and the builder's own: no token in
    /// clear text off loopback, and the CAs; then the HTTP client, which gives up on a
    /// connection not made within `connect_timeout`.
    pub(crate) fn connect(
        self,
        endpoint: String,
        connect_timeout: Option<Duration>,
    ) -> Result<Service> {
        let tokens = match self.tokens {
            Tokens::Credentials(credentials) => credentials.into_cache(),
            Tokens::Shared(cache) => cache,
        };
        if tokens.is_some() && !token_safe(&endpoint) {
            return Err(Error::invalid(
                self.endpoint_field,
                format!(
                    "{endpoint} is plain HTTP to a host other than this machine: a token sent \
                     there could be read on the way; use an https:// endpoint, or send no token \
                     to an emulator that needs none"
                ),
            ));
        }
        let http = http_client(&self.extra_ca_pems, connect_timeout)?;
        Ok(Service {
            endpoint,
            tokens,
            http,
        })
    }
}

/// Whether a token may go to `endpoint` (checked by [`check_endpoint`]): over TLS, or to
/// this machine.
fn token_safe(endpoint: &str) -> bool {
    let Ok(uri) = endpoint.parse::<http::Uri>() else {
        return false;
    };
    if uri.scheme_str() != Some("http") {
        return true;
    }
    let host = uri.host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The endpoint an `*_EMULATOR_HOST` variable names, as Google's clients read it: the value
/// trimmed, `http://` added to a bare `host:port`.
fn emulator_endpoint(host: &str) -> String {
    let host = host.trim();
    if host.contains("://") {
        host.to_owned()
    } else {
        format!("http://{host}")
    }
}

/// `endpoint` without a trailing slash, or why it is not an endpoint, the message giving
/// `public` (the service's own endpoint) as the example.
fn check_endpoint(endpoint: &str, field: &Field, public: &str) -> Result<String> {
    let trimmed = endpoint.trim_end_matches('/');
    let bad = |why: &str| {
        Error::invalid(
            field.clone(),
            format!(
                "{endpoint:?} {why}: expected an http(s) URL with a host and no path, like \
                 `{public}` or `http://127.0.0.1:9023`"
            ),
        )
    };
    let uri: http::Uri = trimmed.parse().map_err(|_| bad("is not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(bad("has no http:// or https:// scheme")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(bad("has a path or a query"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "https://storage.googleapis.com";

    #[test]
    fn endpoints_are_checked_and_lose_their_trailing_slash() {
        assert_eq!(
            check_endpoint("http://127.0.0.1:9023/", &Field::Endpoint, PUBLIC).unwrap(),
            "http://127.0.0.1:9023"
        );
        for bad in [
            "127.0.0.1:9023",
            "ftp://x",
            "https://x/path",
            "http://",
            "https://x?a=b",
        ] {
            let err = check_endpoint(bad, &Field::Endpoint, PUBLIC)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("invalid endpoint:"), "{bad}: {err}");
            assert!(err.contains(&format!("like `{PUBLIC}`")), "{bad}: {err}");
        }
    }

    #[test]
    fn tokens_go_over_tls_or_to_loopback_only() {
        for safe in [
            "https://storage.googleapis.com",
            "https://10.0.0.7:443",
            "http://127.0.0.1:9023",
            "http://127.8.9.10",
            "http://[::1]:9023",
            "http://localhost:9023",
            "http://LOCALHOST",
        ] {
            assert!(token_safe(safe), "{safe}");
        }
        for exposed in [
            "http://10.0.0.7:9023",
            "http://storage.example.com",
            "http://[2001:db8::1]:80",
            "http://0.0.0.0:9023",
            "http://localhost.example.com",
        ] {
            assert!(!token_safe(exposed), "{exposed}");
        }
    }

    #[test]
    fn an_emulator_host_is_trimmed_and_gets_http_when_bare() {
        assert_eq!(emulator_endpoint(" gcs:4443 "), "http://gcs:4443");
        assert_eq!(emulator_endpoint("https://gcs:4443"), "https://gcs:4443");
        let emulator = ServiceBuilder::emulator("gcs:4443", Field::StorageEmulatorHost);
        assert_eq!(
            emulator.checked_endpoint(PUBLIC).unwrap(),
            "http://gcs:4443"
        );
        // No credentials: any host is fine.
        assert!(emulator.connect("http://gcs:4443".into(), None).is_ok());
    }
}

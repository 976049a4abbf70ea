//! Where the service is and how to reach it: a location becomes an `https://...:443` endpoint,
//! with its TLS and connection settings.
//!
//! | location                 | endpoint                                        |
//! |--------------------------|-------------------------------------------------|
//! | a region (`us-central1`) | `https://us-central1-aiplatform.googleapis.com:443` |
//! | `global`                 | `https://aiplatform.googleapis.com:443`         |
//! | `us`, `eu`               | `https://aiplatform.us.rep.googleapis.com:443`  |
//! | anything else            | [`Endpoint::custom`] (Private Service Connect, a proxy, the emulator) |

use std::time::Duration;

use http::Uri;
use tonic::transport::{Certificate, ClientTlsConfig};

use crate::Error;
use crate::env::{self, LOCATION_VAR};

/// Which certificate authorities a TLS connection trusts (besides any [`Endpoint::with_ca_pem`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TrustRoots {
    /// Mozilla's roots compiled into the binary (`webpki-roots`): the same everywhere, no
    /// dependency on the host's certificate store.
    #[default]
    WebPki,
    /// The operating system's certificate store, for hosts behind a TLS-inspecting proxy whose CA
    /// is installed system-wide.
    Native,
    /// Both of the above.
    WebPkiAndNative,
}

/// A Vertex AI endpoint and the settings of the connection to it.
///
/// ```
/// use vertex_batch::endpoint::Endpoint;
///
/// let ep = Endpoint::for_location("us-central1")?;
/// assert_eq!(ep.uri(), "https://us-central1-aiplatform.googleapis.com:443");
/// assert_eq!(ep.host(), "us-central1-aiplatform.googleapis.com");
/// assert_eq!(ep.location(), Some("us-central1"));
///
/// assert!(Endpoint::for_location("us-central1.evil.com").is_err());
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Endpoint {
    uri: Uri,
    location: Option<String>,
    roots: TrustRoots,
    extra_ca_pems: Vec<String>,
    tls_domain: Option<String>,
    connect_timeout: Option<Duration>,
    keep_alive: Option<(Duration, Duration)>,
    lazy_connect: bool,
}

impl Endpoint {
    /// The endpoint serving `location`: a region such as `us-central1`, `global`, or the
    /// multi-regions `us` and `eu`.
    ///
    /// The location is checked before it becomes part of a host name: it must be lower-case
    /// letters, digits and hyphens.
    ///
    /// ```
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// assert_eq!(Endpoint::for_location("global")?.uri(), "https://aiplatform.googleapis.com:443");
    /// assert_eq!(Endpoint::for_location("eu")?.uri(), "https://aiplatform.eu.rep.googleapis.com:443");
    /// let err = Endpoint::for_location("x:80").unwrap_err();
    /// assert!(err.is_invalid_input());
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn for_location(location: &str) -> Result<Self, Error> {
        crate::names::validate_location(location)?;
        let host = match location {
            "global" => "aiplatform.googleapis.com".to_owned(),
            "us" | "eu" => format!("aiplatform.{location}.rep.googleapis.com"),
            region => format!("{region}-aiplatform.googleapis.com"),
        };
        let uri = Uri::try_from(format!("https://{host}:443")).map_err(|e| {
            Error::invalid(
                "location",
                format!("`{location}` does not make a host name: {e}"),
            )
        })?;
        Ok(Self::new(uri, Some(location.to_owned())))
    }

    /// The `global` endpoint, `https://aiplatform.googleapis.com:443`.
    ///
    /// It does not serve batch jobs that read from or write to BigQuery, nor tuned models:
    /// use the region where the data and the model live for those.
    ///
    /// ```
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// assert!(Endpoint::global().is_global());
    /// ```
    pub fn global() -> Self {
        Self::new(
            Uri::from_static("https://aiplatform.googleapis.com:443"),
            Some("global".to_owned()),
        )
    }

    /// The endpoint whose location is in `GOOGLE_CLOUD_LOCATION`, as Google's other SDKs do.
    ///
    /// Strict, unlike the builders (see [`env`](mod@crate::env)): with the variable unset or blank this
    /// is an error, not `us-central1`, since it is asked for the environment's location.
    ///
    /// ```no_run
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// // GOOGLE_CLOUD_LOCATION=europe-west4
    /// let ep = Endpoint::from_env()?;
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn from_env() -> Result<Self, Error> {
        match env::location() {
            Some(location) => Self::for_location(&location).map_err(env::blame_location_var),
            None => Err(Error::invalid(
                "location",
                format!(
                    "no location given and {LOCATION_VAR} is not set: set it (e.g. \
                     {LOCATION_VAR}=us-central1) or use Endpoint::for_location"
                ),
            )),
        }
    }

    /// Any endpoint by URL: Private Service Connect, a proxy, the emulator.
    ///
    /// `https://` uses TLS; plain `http://` is used only when written so. The URL is a scheme,
    /// a host and an optional port, nothing else. No location is known for a custom endpoint.
    ///
    /// ```
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// let psc = Endpoint::custom("https://10.0.0.5:443")?;
    /// assert_eq!(psc.host(), "10.0.0.5");
    /// assert!(psc.is_tls());
    /// assert!(!Endpoint::custom("http://127.0.0.1:8080")?.is_tls());
    /// assert!(Endpoint::custom("ftp://example.com").is_err());
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn custom(url: &str) -> Result<Self, Error> {
        let expected = "a URL like `https://host:443` or `http://127.0.0.1:8080`";
        let uri = Uri::try_from(url)
            .map_err(|e| Error::invalid("endpoint", format!("`{url}` is not {expected}: {e}")))?;
        match uri.scheme_str() {
            Some("https" | "http") => {}
            _ => {
                return Err(Error::invalid(
                    "endpoint",
                    format!("`{url}` has no https:// or http:// scheme; expected {expected}"),
                ));
            }
        }
        let has_host = uri.host().is_some_and(|h| !h.is_empty());
        let has_path = uri.path_and_query().is_some_and(|p| p.as_str() != "/");
        let has_user = uri.authority().is_some_and(|a| a.as_str().contains('@'));
        if !has_host || has_path || has_user {
            return Err(Error::invalid(
                "endpoint",
                format!("`{url}` must be only a scheme, a host and a port; expected {expected}"),
            ));
        }
        // The URI parser takes any text after the host's `:` and reads no port from one that
        // is not a u16: the scheme's default port would then be dialled, silently.
        let authority = uri.authority().map_or("", |a| a.as_str());
        let after_host = authority
            .strip_prefix(uri.host().unwrap_or_default())
            .unwrap_or(authority);
        if let Some(port) = after_host.strip_prefix(':')
            && !(port.bytes().all(|b| b.is_ascii_digit()) && matches!(port.parse::<u16>(), Ok(1..)))
        {
            return Err(Error::invalid(
                "endpoint",
                format!("`{url}` has the port `{port}`; a port is a number from 1 to 65535"),
            ));
        }
        Ok(Self::new(uri, None))
    }

    fn new(uri: Uri, location: Option<String>) -> Self {
        Self {
            uri,
            location,
            roots: TrustRoots::default(),
            extra_ca_pems: Vec::new(),
            tls_domain: None,
            connect_timeout: Some(Duration::from_secs(10)),
            keep_alive: None,
            lazy_connect: false,
        }
    }

    /// Which certificate authorities to trust: the compiled-in webpki roots (the default), the
    /// operating system's store, or both.
    ///
    /// ```
    /// use vertex_batch::endpoint::{Endpoint, TrustRoots};
    ///
    /// let ep = Endpoint::global().with_trust_roots(TrustRoots::Native);
    /// ```
    pub fn with_trust_roots(mut self, roots: TrustRoots) -> Self {
        self.roots = roots;
        self
    }

    /// Trusts one more certificate authority (PEM), for a TLS-inspecting proxy or the emulator.
    ///
    /// ```
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// # let pem = String::new();
    /// let ep = Endpoint::custom("https://127.0.0.1:8443")?.with_ca_pem(pem);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.extra_ca_pems.push(pem.into());
        self
    }

    /// The name the server's certificate must carry, when it is not the endpoint's host (an
    /// endpoint reached by IP address through a proxy, say).
    ///
    /// ```
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// let ep = Endpoint::custom("https://10.0.0.5:443")?
    ///     .with_tls_domain("us-central1-aiplatform.googleapis.com");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_tls_domain(mut self, domain: impl Into<String>) -> Self {
        self.tls_domain = Some(domain.into());
        self
    }

    /// How long a TCP + TLS connection may take (10 s by default).
    ///
    /// ```
    /// use std::time::Duration;
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// let ep = Endpoint::global().with_connect_timeout(Duration::from_secs(3));
    /// ```
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Sends an HTTP/2 PING every `interval`, also while idle, and drops the connection when no
    /// answer comes within `timeout`: a dead connection is found before a call waits on it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// let ep = Endpoint::global().with_keep_alive(Duration::from_secs(30), Duration::from_secs(10));
    /// ```
    pub fn with_keep_alive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.keep_alive = Some((interval, timeout));
        self
    }

    /// Connect on the first call rather than at `connect()` (eager by default, so a wrong
    /// endpoint or credential fails at start-up).
    ///
    /// ```
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// let ep = Endpoint::global().with_lazy_connect(true);
    /// assert!(ep.is_lazy_connect());
    /// ```
    pub fn with_lazy_connect(mut self, lazy: bool) -> Self {
        self.lazy_connect = lazy;
        self
    }

    /// The host name (or IP address) of the endpoint.
    ///
    /// ```
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// assert_eq!(Endpoint::for_location("us")?.host(), "aiplatform.us.rep.googleapis.com");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn host(&self) -> &str {
        // Every constructor checks that the URI has a host.
        self.uri.host().unwrap_or_default()
    }

    /// The endpoint's URI, e.g. `https://us-central1-aiplatform.googleapis.com:443`.
    ///
    /// ```
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// assert_eq!(Endpoint::global().uri(), "https://aiplatform.googleapis.com:443");
    /// ```
    pub fn uri(&self) -> String {
        // `Uri` displays a bare authority with a trailing `/`; users write it without.
        self.uri.to_string().trim_end_matches('/').to_owned()
    }

    /// The location this endpoint serves, when it was made from one.
    ///
    /// ```
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// assert_eq!(Endpoint::global().location(), Some("global"));
    /// assert_eq!(Endpoint::custom("http://127.0.0.1:8080")?.location(), None);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// Whether this is the `global` endpoint, which serves neither BigQuery batch jobs nor
    /// tuned models.
    ///
    /// ```
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// assert!(!Endpoint::for_location("us-central1")?.is_global());
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn is_global(&self) -> bool {
        self.location.as_deref() == Some("global")
    }

    /// Whether the connection uses TLS (`https://`).
    ///
    /// ```
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// assert!(Endpoint::global().is_tls());
    /// ```
    pub fn is_tls(&self) -> bool {
        self.uri.scheme_str() == Some("https")
    }

    /// Whether the connection is made on the first call rather than at `connect()`.
    ///
    /// ```
    /// use vertex_batch::endpoint::Endpoint;
    ///
    /// assert!(!Endpoint::global().is_lazy_connect());
    /// ```
    pub fn is_lazy_connect(&self) -> bool {
        self.lazy_connect
    }

    /// The tonic endpoint with every setting applied; `user_agent` names this crate.
    ///
    /// The channel's defaults, as measured by `benches/grpc_path.rs` (the README's
    /// Performance section has the table):
    /// - `TCP_NODELAY` on, always. hyper's HTTP/2 writes a unary request in two writes (the
    ///   HEADERS frame, then the DATA frame with END_STREAM) and the server's answer in two
    ///   (HEADERS + DATA, then the trailers), so with Nagle's algorithm on either end the second
    ///   write waits for the peer's delayed ACK: about 44 ms a call on Linux instead of about
    ///   45 µs. tonic's default is the same; it is set here so that no change of default
    ///   upstream can undo it.
    /// - HTTP/2 windows, `http2_adaptive_window`, `buffer_size`: tonic's defaults. Larger
    ///   windows (4 MiB / 8 MiB), the adaptive window or a smaller request buffer changed a
    ///   Get's time by no more than the run-to-run noise at 1 or 64 calls in flight; the
    ///   messages of this API are a few KiB, far below the default 64 KiB window.
    /// - Keep-alive pings: off unless [`with_keep_alive`](Self::with_keep_alive) asks for
    ///   them (no effect on a call's time; a server may refuse pings it finds too frequent).
    pub(crate) fn to_tonic(&self, user_agent: &str) -> Result<tonic::transport::Endpoint, Error> {
        let mut ep = tonic::transport::Endpoint::from(self.uri.clone())
            .user_agent(user_agent.to_owned())
            .map_err(|e| Error::invalid("user_agent", e.to_string()))?
            .tcp_nodelay(true);
        if let Some(timeout) = self.connect_timeout {
            ep = ep.connect_timeout(timeout);
        }
        if let Some((interval, timeout)) = self.keep_alive {
            ep = ep
                .http2_keep_alive_interval(interval)
                .keep_alive_timeout(timeout)
                .keep_alive_while_idle(true);
        }
        if let Some(index) = self
            .extra_ca_pems
            .iter()
            .position(|pem| !pem.contains("-----BEGIN CERTIFICATE-----"))
        {
            // rustls would skip it silently and the handshake would then fail as untrusted.
            return Err(Error::invalid(
                "ca_pem",
                format!(
                    "CA certificate #{} holds no PEM certificate \
                     (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)",
                    index + 1
                ),
            ));
        }
        if self.is_tls() {
            ep = ep.tls_config(self.tls_config()).map_err(|e| {
                Error::invalid(
                    "ca_pem",
                    format!(
                        "the TLS settings were refused ({}): a CA certificate must be a PEM \
                         certificate (-----BEGIN CERTIFICATE-----)",
                        crate::error::flatten(&e),
                    ),
                )
            })?;
        }
        Ok(ep)
    }

    fn tls_config(&self) -> ClientTlsConfig {
        let mut tls = ClientTlsConfig::new().domain_name(
            self.tls_domain
                .clone()
                .unwrap_or_else(|| self.host().to_owned()),
        );
        tls = match self.roots {
            TrustRoots::WebPki => tls.with_webpki_roots(),
            TrustRoots::Native => tls.with_native_roots(),
            TrustRoots::WebPkiAndNative => tls.with_webpki_roots().with_native_roots(),
        };
        tls.ca_certificates(self.extra_ca_pems.iter().map(Certificate::from_pem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_map_to_their_endpoints() {
        let table = [
            (
                "us-central1",
                "https://us-central1-aiplatform.googleapis.com:443",
            ),
            (
                "europe-west4",
                "https://europe-west4-aiplatform.googleapis.com:443",
            ),
            ("global", "https://aiplatform.googleapis.com:443"),
            ("us", "https://aiplatform.us.rep.googleapis.com:443"),
            ("eu", "https://aiplatform.eu.rep.googleapis.com:443"),
        ];
        for (location, uri) in table {
            let ep = Endpoint::for_location(location).unwrap();
            assert_eq!(ep.uri(), uri, "{location}");
            assert_eq!(ep.location(), Some(location));
            assert!(ep.is_tls());
            assert_eq!(ep.is_global(), location == "global");
        }
    }

    #[test]
    fn bad_locations_are_refused_before_they_reach_a_host_name() {
        let table = [
            ("us-central1.evil.com", "contains '.'"),
            ("a/b", "contains '/'"),
            ("x:80", "contains ':'"),
            ("x@y", "contains '@'"),
            ("US-CENTRAL1", "has upper case letters"),
            ("", "is empty"),
            ("us central1", "contains ' '"),
            ("-us", "does not start with a letter"),
            ("1us", "does not start with a letter"),
            ("us-", "ends with a hyphen"),
        ];
        for (location, problem) in table {
            let err = Endpoint::for_location(location).unwrap_err();
            assert!(err.is_invalid_input(), "{location}");
            let text = err.to_string();
            assert!(text.starts_with("invalid location: "), "{text}");
            assert!(text.contains(problem), "{location}: {text}");
            assert!(text.contains("like `us-central1`"), "{text}");
        }
    }

    #[test]
    fn custom_endpoints_take_only_scheme_host_and_port() {
        let ep = Endpoint::custom("https://10.0.0.5:443").unwrap();
        assert_eq!(ep.uri(), "https://10.0.0.5:443");
        assert_eq!(ep.host(), "10.0.0.5");
        assert_eq!(ep.location(), None);
        assert!(!Endpoint::custom("http://127.0.0.1:8080").unwrap().is_tls());
        assert_eq!(
            Endpoint::custom("https://[::1]:65535").unwrap().uri(),
            "https://[::1]:65535"
        );
        for bad in [
            "10.0.0.5:443",
            "ftp://host",
            "https://",
            "https://host/path",
            "https://host?q=1",
            "https://user@host",
            "not a url",
        ] {
            let err = Endpoint::custom(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("invalid endpoint: "),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn settings_are_kept() {
        let ep = Endpoint::global()
            .with_lazy_connect(true)
            .with_tls_domain("example.com")
            .with_trust_roots(TrustRoots::WebPkiAndNative)
            .with_connect_timeout(Duration::from_secs(1))
            .with_keep_alive(Duration::from_secs(20), Duration::from_secs(5));
        assert!(ep.is_lazy_connect());
        assert_eq!(ep.tls_domain.as_deref(), Some("example.com"));
        assert_eq!(ep.roots, TrustRoots::WebPkiAndNative);
        assert_eq!(ep.connect_timeout, Some(Duration::from_secs(1)));
        assert_eq!(
            ep.keep_alive,
            Some((Duration::from_secs(20), Duration::from_secs(5)))
        );
    }
}

//! Where access tokens come from ([`Credentials`]) and the cache that hands them to every call.
//!
//! gcp_auth finds Application Default Credentials and runs the service-account flow; on top of
//! it the crate keeps one token per channel, fetched once however many calls start together,
//! and refreshed in the background before it expires so no call waits while the current token
//! is still good. No token text appears in any `Debug` or log output.

mod cache;
mod sources;

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Error;

pub(crate) use cache::TokenCache;

/// The OAuth scope every token is requested for.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// An access token and when it stops being valid.
///
/// `Debug` shows the expiry, never the secret.
///
/// ```
/// use std::time::Duration;
/// use vertex_batch::auth::Token;
///
/// let token = Token::new("ya29.secret").with_expires_in(Duration::from_secs(3600));
/// assert_eq!(token.secret(), "ya29.secret");
/// assert!(!format!("{token:?}").contains("ya29"));
/// ```
#[derive(Clone)]
pub struct Token {
    secret: Arc<str>,
    expires_at: Option<Instant>,
}

impl Token {
    /// A token that never expires (until [`Token::with_expires_at`] says otherwise).
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secret: Arc::from(secret.into()),
            expires_at: None,
        }
    }

    /// The token expires at `instant`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use vertex_batch::auth::Token;
    ///
    /// let at = Instant::now() + Duration::from_secs(60);
    /// assert_eq!(Token::new("t").with_expires_at(at).expires_at(), Some(at));
    /// ```
    pub fn with_expires_at(mut self, instant: Instant) -> Self {
        self.expires_at = Some(instant);
        self
    }

    /// The token expires `lifetime` from now (as an OAuth `expires_in`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use vertex_batch::auth::Token;
    ///
    /// assert!(Token::new("t").with_expires_in(Duration::from_secs(60)).expires_at().is_some());
    /// ```
    pub fn with_expires_in(self, lifetime: Duration) -> Self {
        self.with_expires_at(Instant::now() + lifetime)
    }

    /// The bearer token text. Keep it out of logs.
    ///
    /// ```
    /// use vertex_batch::auth::Token;
    ///
    /// assert_eq!(Token::new("t").secret(), "t");
    /// ```
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// When the token stops being valid; `None` for a token that does not expire.
    ///
    /// ```
    /// use vertex_batch::auth::Token;
    ///
    /// assert_eq!(Token::new("t").expires_at(), None);
    /// ```
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("secret", &"<redacted>")
            .field(
                "expires_in",
                &self
                    .expires_at
                    .map(|at| at.saturating_duration_since(Instant::now())),
            )
            .finish()
    }
}

/// The future a [`TokenSource`] returns.
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<Token, Error>> + Send + 'a>>;

/// Anything that can produce access tokens: implement it to plug your own credential (a secret
/// manager, workload identity federation you run yourself, ...) into [`Credentials::custom`].
///
/// Each call should return a token fresh enough to use; the crate caches it, fetches one at a
/// time and refreshes ahead of `expires_at`.
///
/// ```
/// use vertex_batch::auth::{Token, TokenFuture, TokenSource};
///
/// struct FromVault;
///
/// impl TokenSource for FromVault {
///     fn token(&self) -> TokenFuture<'_> {
///         Box::pin(async { Ok(Token::new("from-the-vault")) })
///     }
///     fn name(&self) -> String {
///         "the vault".to_owned()
///     }
/// }
/// ```
pub trait TokenSource: Send + Sync + 'static {
    /// Fetches a token. An error should say what failed; the crate reports it as
    /// [`Error::Auth`] naming [`TokenSource::name`].
    fn token(&self) -> TokenFuture<'_>;

    /// What this source is, for error messages (`service account key file /etc/key.json`).
    fn name(&self) -> String {
        "custom token source".to_owned()
    }
}

/// Which credential authenticates the calls.
///
/// `Debug` names the kind of credential and never shows a token or a key.
///
/// ```
/// use vertex_batch::auth::Credentials;
///
/// let adc = Credentials::application_default();
/// let emulator = Credentials::none();
/// assert!(!format!("{:?}", Credentials::static_token("ya29.x")).contains("ya29"));
/// ```
#[derive(Clone)]
pub struct Credentials {
    kind: Kind,
    refresh_ahead: Option<Duration>,
}

#[derive(Clone)]
enum Kind {
    ApplicationDefault,
    ServiceAccountFile(PathBuf),
    ServiceAccountJson(Arc<str>),
    StaticToken(Arc<str>),
    None,
    Custom(Arc<dyn TokenSource>),
}

impl Credentials {
    /// Application Default Credentials, found as gcloud and Google's SDKs find them:
    /// `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's ADC file, the metadata server, the gcloud CLI.
    pub fn application_default() -> Self {
        Self::from_kind(Kind::ApplicationDefault)
    }

    /// A service-account key file (the JSON downloaded from the console).
    ///
    /// ```
    /// use vertex_batch::auth::Credentials;
    ///
    /// let creds = Credentials::service_account_file("/etc/secrets/key.json");
    /// ```
    pub fn service_account_file(path: impl Into<PathBuf>) -> Self {
        Self::from_kind(Kind::ServiceAccountFile(path.into()))
    }

    /// A service-account key given as its JSON text.
    ///
    /// ```
    /// use vertex_batch::auth::Credentials;
    ///
    /// # let json = String::new();
    /// let creds = Credentials::service_account_json(json);
    /// ```
    pub fn service_account_json(json: impl Into<String>) -> Self {
        Self::from_kind(Kind::ServiceAccountJson(Arc::from(json.into())))
    }

    /// A bearer token you obtained yourself (e.g. `gcloud auth print-access-token`); it is
    /// never refreshed.
    pub fn static_token(token: impl Into<String>) -> Self {
        Self::from_kind(Kind::StaticToken(Arc::from(token.into())))
    }

    /// No `authorization` header at all: for the emulator or a proxy that authenticates.
    pub fn none() -> Self {
        Self::from_kind(Kind::None)
    }

    /// Tokens from your own [`TokenSource`].
    ///
    /// ```
    /// use vertex_batch::auth::{Credentials, Token, TokenFuture, TokenSource};
    ///
    /// struct Fixed;
    /// impl TokenSource for Fixed {
    ///     fn token(&self) -> TokenFuture<'_> {
    ///         Box::pin(async { Ok(Token::new("t")) })
    ///     }
    /// }
    /// let creds = Credentials::custom(Fixed);
    /// ```
    pub fn custom(source: impl TokenSource) -> Self {
        Self::from_kind(Kind::Custom(Arc::new(source)))
    }

    /// Start refreshing this long before a token expires. The default is the smaller of 5
    /// minutes and a quarter of the token's lifetime; calls go on using the current token while
    /// the refresh runs.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vertex_batch::auth::Credentials;
    ///
    /// let creds = Credentials::application_default().with_refresh_ahead(Duration::from_secs(600));
    /// ```
    pub fn with_refresh_ahead(mut self, ahead: Duration) -> Self {
        self.refresh_ahead = Some(ahead);
        self
    }

    fn from_kind(kind: Kind) -> Self {
        Self {
            kind,
            refresh_ahead: None,
        }
    }

    /// The token cache for a channel, or `None` when calls carry no token.
    pub(crate) fn into_cache(self) -> Option<TokenCache> {
        let source: Arc<dyn TokenSource> = match self.kind {
            Kind::None => return None,
            Kind::ApplicationDefault => Arc::new(sources::ApplicationDefault::new()),
            Kind::ServiceAccountFile(path) => Arc::new(sources::ServiceAccount::from_file(path)),
            Kind::ServiceAccountJson(json) => Arc::new(sources::ServiceAccount::from_json(json)),
            Kind::StaticToken(token) => Arc::new(sources::Static(Token {
                secret: token,
                expires_at: None,
            })),
            Kind::Custom(source) => source,
        };
        Some(TokenCache::new(source, self.refresh_ahead))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::ApplicationDefault => "ApplicationDefault".to_owned(),
            Kind::ServiceAccountFile(path) => format!("ServiceAccountFile({})", path.display()),
            Kind::ServiceAccountJson(_) => "ServiceAccountJson(<redacted>)".to_owned(),
            Kind::StaticToken(_) => "StaticToken(<redacted>)".to_owned(),
            Kind::None => "None".to_owned(),
            Kind::Custom(source) => format!("Custom({})", source.name()),
        };
        f.debug_struct("Credentials")
            .field("kind", &format_args!("{kind}"))
            .field("refresh_ahead", &self.refresh_ahead)
            .finish()
    }
}

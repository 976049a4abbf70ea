//! The token sources behind [`super::Credentials`]: gcp_auth for Application Default
//! Credentials and service accounts, and a fixed token.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::OnceCell;

use super::{CLOUD_PLATFORM_SCOPE, Token, TokenFuture, TokenSource};
use crate::Error;
use crate::env::CREDENTIALS_VAR;

/// A token that never changes.
pub(super) struct Static(pub(super) Token);

impl TokenSource for Static {
    fn token(&self) -> TokenFuture<'_> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }

    fn name(&self) -> String {
        "static token".to_owned()
    }
}

/// The largest service-account key file read, in bytes (64 KiB; a key is about 2.5 KiB): a
/// path to something else (`/dev/zero`, a disk image) is refused rather than read into memory.
const MAX_KEY_FILE_BYTES: usize = 64 << 10;

/// Where a service-account key comes from.
enum Key {
    File(PathBuf),
    Json(Arc<str>),
}

/// The service-account flow: a JWT signed with the key, exchanged at the key's `token_uri`.
///
/// gcp_auth's `CustomServiceAccount` caches its token until 20 s before expiry, so asking the
/// same instance again during our refresh-ahead window would hand back the old token. Each
/// fetch therefore uses a fresh instance: one key parse and one token request per token
/// lifetime, which is what a refresh costs anyway.
pub(super) struct ServiceAccount {
    key: Key,
    name: String,
}

impl ServiceAccount {
    pub(super) fn from_file(path: PathBuf) -> Self {
        let name = format!("service account key file {}", path.display());
        Self {
            key: Key::File(path),
            name,
        }
    }

    pub(super) fn from_env(path: PathBuf) -> Self {
        let name = format!(
            "Application Default Credentials: service account key file {} (from {CREDENTIALS_VAR})",
            path.display()
        );
        Self {
            key: Key::File(path),
            name,
        }
    }

    pub(super) fn from_json(json: Arc<str>) -> Self {
        // The account's e-mail says which key failed without showing any of the key.
        let email = serde_json::from_str::<serde_json::Value>(&json)
            .ok()
            .and_then(|v| v.get("client_email")?.as_str().map(str::to_owned));
        let name = match email {
            Some(email) => format!("service account key JSON for {email}"),
            None => "service account key JSON".to_owned(),
        };
        Self {
            key: Key::Json(json),
            name,
        }
    }

    async fn fetch(&self) -> Result<Token, Error> {
        let account = match &self.key {
            Key::File(path) => read_key_file(path)
                .and_then(|json| {
                    gcp_auth::CustomServiceAccount::from_json(&json).map_err(|e| flatten(&e))
                })
                .map_err(|reason| {
                    self.failed(format!(
                        "could not read the key ({reason}): the file must be a service account \
                         key JSON (\"type\": \"service_account\") readable by this process"
                    ))
                })?,
            Key::Json(json) => gcp_auth::CustomServiceAccount::from_json(json).map_err(|e| {
                self.failed(format!(
                    "the key is not a service account key JSON ({}): it needs type, \
                     client_email, private_key and token_uri",
                    flatten(&e)
                ))
            })?,
        };
        let token = gcp_auth::TokenProvider::token(&account, &[CLOUD_PLATFORM_SCOPE])
            .await
            .map_err(|e| {
                self.failed(format!(
                    "the token endpoint refused the key or could not be reached ({}): check \
                     that the key is not deleted or disabled and that its token_uri is reachable",
                    flatten(&e)
                ))
            })?;
        Ok(convert(&token))
    }

    fn failed(&self, message: String) -> Error {
        Error::Auth {
            source_name: self.name.clone(),
            message,
        }
    }
}

/// The key file's text, read whole up to [`MAX_KEY_FILE_BYTES`]; or why not.
fn read_key_file(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|file| {
            file.take(MAX_KEY_FILE_BYTES as u64 + 1)
                .read_to_string(&mut text)
        })
        .map_err(|e| e.to_string())?;
    if text.len() > MAX_KEY_FILE_BYTES {
        return Err(format!(
            "it is longer than the limit of {} a key file may have",
            crate::error::size_text(MAX_KEY_FILE_BYTES)
        ));
    }
    Ok(text)
}

impl TokenSource for ServiceAccount {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(self.fetch())
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

/// Application Default Credentials, resolved on the first fetch (probing the metadata server
/// can take a while, so a channel built lazily does not pay for it up front).
pub(super) struct ApplicationDefault {
    resolved: OnceCell<Resolved>,
}

enum Resolved {
    KeyFile(ServiceAccount),
    Provider(Arc<dyn gcp_auth::TokenProvider>),
}

impl ApplicationDefault {
    pub(super) fn new() -> Self {
        Self {
            resolved: OnceCell::new(),
        }
    }

    async fn resolve(&self) -> Result<&Resolved, Error> {
        self.resolved
            .get_or_try_init(|| async {
                // gcp_auth checks this variable first too; taking the key file ourselves gives
                // it the fresh-instance refresh above.
                if let Some(path) = crate::env::credentials_file() {
                    return Ok(Resolved::KeyFile(ServiceAccount::from_env(path)));
                }
                gcp_auth::provider()
                    .await
                    .map(Resolved::Provider)
                    .map_err(|e| Error::Auth {
                        source_name: "Application Default Credentials".to_owned(),
                        message: format!(
                            "no credential found ({}): run `gcloud auth application-default \
                             login`, set {CREDENTIALS_VAR} to a service account key file, or \
                             run on Google Cloud with a service account attached",
                            flatten(&e)
                        ),
                    })
            })
            .await
    }

    async fn fetch(&self) -> Result<Token, Error> {
        match self.resolve().await? {
            Resolved::KeyFile(account) => account.fetch().await,
            Resolved::Provider(provider) => provider
                .token(&[CLOUD_PLATFORM_SCOPE])
                .await
                .map(|t| convert(&t))
                .map_err(|e| Error::Auth {
                    source_name: "Application Default Credentials".to_owned(),
                    message: format!(
                        "could not get a token ({}): check `gcloud auth \
                         application-default print-access-token`",
                        flatten(&e)
                    ),
                }),
        }
    }
}

impl TokenSource for ApplicationDefault {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(self.fetch())
    }

    fn name(&self) -> String {
        match self.resolved.get() {
            Some(Resolved::KeyFile(account)) => account.name.clone(),
            _ => "Application Default Credentials".to_owned(),
        }
    }
}

/// gcp_auth's wall-clock expiry as a monotonic instant.
fn convert(token: &gcp_auth::Token) -> Token {
    let lifetime = SystemTime::from(token.expires_at())
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    Token::new(token.as_str()).with_expires_at(Instant::now() + lifetime)
}

/// An error and its sources in one line.
fn flatten(err: &(dyn std::error::Error + 'static)) -> String {
    crate::error::flatten(err)
}

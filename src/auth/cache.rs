//! The per-channel token cache: one fetch at a time, refresh ahead of expiry in the background.
//!
//! The hot path is a read lock and the clone of a prepared `authorization` header value. A call
//! waits only when there is no usable token at all (the first call, or a refresh that kept
//! failing until the token ran out); all calls waiting then share one fetch, and share its error.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use http::HeaderValue;

use super::{Token, TokenSource};
use crate::Error;

/// Default refresh-ahead: at most this long before expiry ...
const MAX_REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);
/// ... and at most this fraction of the token's lifetime.
const REFRESH_AHEAD_FRACTION: u32 = 4;
/// A token is not sent when it has less than this left (or a tenth of its lifetime, if less):
/// it must still be valid when the request reaches the server.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// A background refresh that failed, or got the same token back, is tried again no sooner
/// than this.
const MIN_RETRY: Duration = Duration::from_millis(500);

/// A token cache shared by every clone of a channel.
#[derive(Clone)]
pub(crate) struct TokenCache {
    inner: Arc<Inner>,
}

struct Inner {
    source: Arc<dyn TokenSource>,
    refresh_ahead: Option<Duration>,
    current: RwLock<Option<Cached>>,
    /// Held by whoever is fetching: one fetch at a time.
    fetch_lock: tokio::sync::Mutex<()>,
    /// Counts finished fetches, so a caller that waited on the lock knows one happened.
    fetches_done: AtomicU64,
    /// The message of the last fetch, when it failed, with its fetch number.
    last_failure: Mutex<Option<(u64, Error)>>,
    refreshing: AtomicBool,
}

#[derive(Clone)]
struct Cached {
    /// `Bearer <token>`, marked sensitive.
    header: HeaderValue,
    token: Token,
    /// Not sent after this instant.
    usable_until: Option<Instant>,
    /// A background refresh starts after this instant.
    refresh_at: Option<Instant>,
}

impl TokenCache {
    pub(crate) fn new(source: Arc<dyn TokenSource>, refresh_ahead: Option<Duration>) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                refresh_ahead,
                current: RwLock::new(None),
                fetch_lock: tokio::sync::Mutex::new(()),
                fetches_done: AtomicU64::new(0),
                last_failure: Mutex::new(None),
                refreshing: AtomicBool::new(false),
            }),
        }
    }

    /// The `authorization` value when a usable token is cached, starting a background refresh
    /// when one is due. `None` means the caller must [`TokenCache::fetch`].
    pub(crate) fn cached_header(&self) -> Option<HeaderValue> {
        let now = Instant::now();
        let (header, refresh_due) = {
            let current = self
                .inner
                .current
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            let cached = current.as_ref()?;
            if cached.usable_until.is_some_and(|until| now >= until) {
                return None;
            }
            (
                cached.header.clone(),
                cached.refresh_at.is_some_and(|at| now >= at),
            )
        };
        if refresh_due {
            self.spawn_refresh();
        }
        Some(header)
    }

    /// Waits for a usable token: the cached one, the one another caller is fetching, or a new
    /// fetch. Callers that waited on a fetch that failed get its error, not a fetch each.
    pub(crate) async fn fetch(&self) -> Result<HeaderValue, Error> {
        let seen = self.inner.fetches_done.load(Ordering::Acquire);
        let _fetching = self.inner.fetch_lock.lock().await;
        if let Some(header) = self.usable_header() {
            return Ok(header);
        }
        let done = self.inner.fetches_done.load(Ordering::Acquire);
        if done != seen
            && let Some(failure) = self.failure_of_fetch(done)
        {
            return Err(failure);
        }
        let result = self.fetch_locked().await;
        let number = self.inner.fetches_done.fetch_add(1, Ordering::AcqRel) + 1;
        match result {
            Ok(cached) => {
                let header = cached.header.clone();
                self.store(cached);
                Ok(header)
            }
            Err(e) => {
                *self
                    .inner
                    .last_failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) =
                    Some((number, self.as_auth_error(&e)));
                Err(self.as_auth_error(&e))
            }
        }
    }

    /// The error of fetch number `number`, if that fetch failed.
    fn failure_of_fetch(&self, number: u64) -> Option<Error> {
        let failure = self
            .inner
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match failure.as_ref() {
            Some((failed, err)) if *failed == number => Some(self.as_auth_error(err)),
            _ => None,
        }
    }

    fn usable_header(&self) -> Option<HeaderValue> {
        let current = self
            .inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let cached = current.as_ref()?;
        match cached.usable_until {
            Some(until) if Instant::now() >= until => None,
            _ => Some(cached.header.clone()),
        }
    }

    /// Asks the source for a token; the caller holds the fetch lock.
    async fn fetch_locked(&self) -> Result<Cached, Error> {
        let token = self.inner.source.token().await?;
        self.prepare(token)
    }

    fn prepare(&self, token: Token) -> Result<Cached, Error> {
        let mut header =
            HeaderValue::try_from(format!("Bearer {}", token.secret())).map_err(|_| {
                Error::Auth {
                    source_name: self.inner.source.name(),
                    message: "the token has characters that cannot go into an HTTP header \
                          (only visible ASCII is allowed)"
                        .to_owned(),
                }
            })?;
        header.set_sensitive(true);
        let now = Instant::now();
        let (usable_until, refresh_at) = match token.expires_at() {
            None => (None, None),
            Some(expires_at) => {
                let lifetime = expires_at.saturating_duration_since(now);
                let margin = EXPIRY_MARGIN.min(lifetime / 10);
                let ahead = self
                    .inner
                    .refresh_ahead
                    .unwrap_or_else(|| MAX_REFRESH_AHEAD.min(lifetime / REFRESH_AHEAD_FRACTION));
                (
                    Some(expires_at.checked_sub(margin).unwrap_or(now)),
                    Some(expires_at.checked_sub(ahead).unwrap_or(now)),
                )
            }
        };
        Ok(Cached {
            header,
            token,
            usable_until,
            refresh_at,
        })
    }

    fn store(&self, cached: Cached) {
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(cached);
    }

    /// Refreshes in a background task, at most one at a time. Calls keep using the current
    /// token meanwhile; if the refresh fails, it is tried again later and the current token
    /// stays in use until it runs out.
    fn spawn_refresh(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Outside a runtime nothing can run in the background; the token is refreshed
            // by the first call after it runs out instead.
            return;
        };
        if self.inner.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let cache = self.clone();
        runtime.spawn(async move {
            cache.refresh().await;
            cache.inner.refreshing.store(false, Ordering::Release);
        });
    }

    async fn refresh(&self) {
        let _fetching = self.inner.fetch_lock.lock().await;
        let Some(old) = self
            .inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        else {
            return;
        };
        if old.refresh_at.is_some_and(|at| Instant::now() < at) {
            // Someone fetched while this task waited for the lock.
            return;
        }
        let result = self.fetch_locked().await;
        self.inner.fetches_done.fetch_add(1, Ordering::AcqRel);
        match result {
            Ok(new) if is_newer(&new.token, &old.token) => self.store(new),
            Ok(_) => {
                // The source handed back the token it had (gcp_auth's own cache keeps a token
                // until 20 s before expiry): try again later, well before this one runs out.
                self.postpone(old);
            }
            Err(e) => {
                tracing::warn!(
                    error = %self.as_auth_error(&e),
                    "background token refresh failed; calls go on with the current token"
                );
                self.postpone(old);
            }
        }
    }

    /// Moves the next refresh attempt a quarter of the remaining usable time ahead.
    fn postpone(&self, mut old: Cached) {
        let now = Instant::now();
        let left = old
            .usable_until
            .map(|until| until.saturating_duration_since(now))
            .unwrap_or_default();
        old.refresh_at = Some(now + (left / 4).max(MIN_RETRY));
        self.store(old);
    }

    /// Any error from the source as an [`Error::Auth`] naming the source.
    fn as_auth_error(&self, err: &Error) -> Error {
        match err {
            Error::Auth {
                source_name,
                message,
            } => Error::Auth {
                source_name: source_name.clone(),
                message: message.clone(),
            },
            other => Error::Auth {
                source_name: self.inner.source.name(),
                message: other.to_string(),
            },
        }
    }
}

/// A refresh got a new token, not the one the source had cached. Expiries are not compared:
/// gcp_auth's are wall-clock times converted anew on every fetch.
fn is_newer(new: &Token, old: &Token) -> bool {
    new.secret() != old.secret()
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self
            .inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("TokenCache")
            .field("source", &self.inner.source.name())
            .field("token", &current.as_ref().map(|c| &c.token))
            .finish()
    }
}

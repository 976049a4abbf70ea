//! The crate's token cache as gcloud-storage's token source: one token for Vertex AI and Cloud
//! Storage when both are built from the same channel, fetched once however many calls start.

use std::sync::Arc;

use token_source::{TokenSource, TokenSourceProvider};

use crate::auth::TokenCache;

/// Hands gcloud-storage the `authorization` value (`Bearer ...`) from a [`TokenCache`].
#[derive(Debug)]
pub(super) struct CachedTokens(pub(super) TokenCache);

#[async_trait::async_trait]
impl TokenSource for CachedTokens {
    async fn token(&self) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        let header = match self.0.cached_header() {
            Some(header) => header,
            None => self.0.fetch().await?,
        };
        // The cache only stores visible ASCII (it checked when it made the header).
        Ok(header.to_str()?.to_owned())
    }
}

/// gcloud-storage asks a provider for its token source once, when the client is made.
#[derive(Debug)]
pub(super) struct Provider(pub(super) Arc<CachedTokens>);

impl TokenSourceProvider for Provider {
    fn token_source(&self) -> Arc<dyn TokenSource> {
        self.0.clone()
    }
}

//! GetBatchPredictionJob through JobClient (gRPC over HTTP/2) and through Google's own crate,
//! google-cloud-aiplatform-v1 (REST, JSON over HTTP/1.1), against one emulator in one run, at 1
//! and 64 calls in flight: the median of three runs.
//!
//! JobClient's half (the emulator, JobClient, the rounds, the figures) is
//! `benches/support/side_by_side.rs`, which the vertex-batch package compiles too, so a change
//! to its API that breaks this program fails the package's CI. This file adds only the
//! official crate's side. Both send a bearer token the emulator checks on every call, both
//! keep their default retry policies.
//!
//! ```text
//! cargo run --release --manifest-path benches/official-crate/Cargo.toml
//! ```

#[path = "../../support/side_by_side.rs"]
mod side_by_side;

use std::sync::Arc;

use google_cloud_aiplatform_v1::client::JobService;
use google_cloud_auth::credentials::{
    CacheableResource, Credentials, CredentialsProvider, EntityTag,
};
use http::{Extensions, HeaderMap, HeaderValue};
use side_by_side::Side;
use vertex_batch::emulator::Emulator;

/// A bearer token the emulator issued, for the official crate (its credentials are a trait).
#[derive(Debug)]
struct StaticToken {
    headers: HeaderMap,
    tag: EntityTag,
}

impl StaticToken {
    fn new(token: &str) -> Self {
        let mut headers = HeaderMap::new();
        let mut value = HeaderValue::from_str(&format!("Bearer {token}")).expect("a header value");
        value.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, value);
        StaticToken {
            headers,
            tag: EntityTag::new(),
        }
    }
}

impl CredentialsProvider for StaticToken {
    async fn headers(
        &self,
        _: Extensions,
    ) -> Result<CacheableResource<HeaderMap>, google_cloud_auth::errors::CredentialsError> {
        Ok(CacheableResource::New {
            entity_tag: self.tag.clone(),
            data: self.headers.clone(),
        })
    }

    async fn universe_domain(&self) -> Option<String> {
        Some("googleapis.com".to_string())
    }
}

/// The official crate's side, on the emulator's REST endpoint (the gRPC port).
async fn official_side(emu: &Emulator) -> Side {
    let client = JobService::builder()
        .with_endpoint(emu.rest_uri())
        .with_credentials(Credentials::from(StaticToken::new(&emu.issue_token())))
        .build()
        .await
        .expect("build the official client");
    Side {
        label: "google-cloud-aiplatform-v1 (REST)",
        get: Arc::new(move |name: String| {
            let client = client.clone();
            Box::pin(async move {
                client
                    .get_batch_prediction_job()
                    .set_name(&name)
                    .send()
                    .await
                    .expect("official get");
            })
        }),
    }
}

fn main() {
    side_by_side::compare(
        || Box::pin(side_by_side::emulator(true, true)),
        |emu| {
            Box::pin(async move {
                let job_client = side_by_side::job_client(emu).await;
                vec![
                    side_by_side::job_client_side(job_client),
                    official_side(emu).await,
                ]
            })
        },
    );
}

//! The OAuth 2.0 token endpoint: the JWT-bearer grant that service-account credentials
//! (gcp_auth's `CustomServiceAccount`) send. The assertion's RS256 signature is checked against
//! the registered public keys; the answer is `access_token`, `expires_in`, `token_type`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use serde_json::{Value, json};

use super::clock::lock;
use super::state::EmulatorState;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// JWT segments are base64url; some signers pad them (gcp_auth does), some do not.
const JWT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What the endpoint needs: the shared state, its own URI (the audience assertions must name)
/// and the lifetime of the tokens it issues.
#[derive(Clone)]
pub(crate) struct TokenEndpoint {
    pub(crate) state: EmulatorState,
    pub(crate) token_uri: String,
    pub(crate) lifetime: Duration,
}

pub(crate) fn router(endpoint: TokenEndpoint) -> Router {
    Router::new()
        .route("/token", post(token))
        .with_state(Arc::new(endpoint))
}

fn oauth_error(status: StatusCode, error: &str, description: impl Into<String>) -> Response {
    let body = json!({"error": error, "error_description": description.into()});
    (status, Json(body)).into_response()
}

async fn token(
    State(endpoint): State<Arc<TokenEndpoint>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if endpoint
        .state
        .inner
        .token_endpoint_failing
        .load(Ordering::Relaxed)
    {
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the emulator's token endpoint was told to fail",
        );
    }
    match form.get("grant_type").map(String::as_str) {
        Some(JWT_BEARER) => {}
        other => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type {other:?}: this endpoint takes `{JWT_BEARER}`"),
            );
        }
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "no assertion");
    };
    if let Err(reason) = verify(&endpoint, assertion) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", reason);
    }
    let access_token = endpoint.state.mint_token(endpoint.lifetime);
    endpoint
        .state
        .inner
        .tokens_issued
        .fetch_add(1, Ordering::Relaxed);
    Json(json!({
        "access_token": access_token,
        "expires_in": endpoint.lifetime.as_secs(),
        "token_type": "Bearer",
    }))
    .into_response()
}

fn decode_json(segment: &str, what: &str) -> Result<Value, String> {
    let bytes = JWT_BASE64
        .decode(segment)
        .map_err(|e| format!("the JWT {what} is not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the JWT {what} is not JSON: {e}"))
}

/// Checks the assertion as Google's endpoint does: RS256, a known issuer whose key signed it,
/// the token endpoint as audience, not expired, and a scope.
fn verify(endpoint: &TokenEndpoint, assertion: &str) -> Result<(), String> {
    let not_jwt = || "the assertion is not a JWT (header.claims.signature)".to_string();
    let (signed, signature) = assertion.rsplit_once('.').ok_or_else(not_jwt)?;
    let (header, claims) = signed.split_once('.').ok_or_else(not_jwt)?;
    if decode_json(header, "header")?["alg"] != "RS256" {
        return Err("the JWT must be signed with RS256".into());
    }
    let claims = decode_json(claims, "claims")?;
    let issuer = claims["iss"].as_str().unwrap_or_default();
    let public_key = lock(&endpoint.state.inner.keys)
        .get(issuer)
        .cloned()
        .ok_or_else(|| format!("unknown service account `{issuer}` (iss)"))?;
    let signature = JWT_BASE64
        .decode(signature)
        .map_err(|e| format!("the JWT signature is not base64url: {e}"))?;
    let signature = Signature::try_from(signature.as_slice())
        .map_err(|e| format!("malformed JWT signature: {e}"))?;
    VerifyingKey::<Sha256>::new(public_key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| "invalid JWT signature".to_string())?;

    if claims["aud"].as_str() != Some(endpoint.token_uri.as_str()) {
        return Err(format!(
            "the JWT audience (aud) must be this token endpoint, {}",
            endpoint.token_uri
        ));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    match claims["exp"].as_i64() {
        Some(exp) if exp > now => {}
        _ => return Err("the JWT has expired (exp)".into()),
    }
    if claims["scope"].as_str().is_none_or(str::is_empty) {
        return Err("the JWT names no scope".into());
    }
    Ok(())
}

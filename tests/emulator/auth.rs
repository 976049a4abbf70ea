//! The token endpoint driven by a real gcp_auth `CustomServiceAccount`, and required bearer
//! tokens on the gRPC side.

use std::time::Duration;

use crate::support::stub::{client, create, job};
use gcp_auth::TokenProvider;
use tonic::Code;
use tonic::metadata::MetadataValue;
use vertex_batch::emulator::Emulator;

const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

async fn emulator() -> Emulator {
    Emulator::builder()
        .with_require_auth(true)
        .with_token_lifetime(Duration::from_secs(1800))
        .start()
        .await
        .expect("start the emulator")
}

fn with_bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = MetadataValue::try_from(format!("Bearer {token}")).unwrap();
    request.metadata_mut().insert("authorization", value);
    request
}

#[tokio::test]
async fn gcp_auth_service_account_gets_a_token_that_the_grpc_side_accepts() {
    let emu = emulator().await;
    let key = emu.service_account_key();
    assert!(key.json.contains(&emu.token_uri()));
    assert!(!format!("{key:?}").contains("PRIVATE KEY"));

    let account = gcp_auth::CustomServiceAccount::from_json(&key.json).unwrap();
    let token = account.token(&[SCOPE]).await.unwrap();
    assert_eq!(emu.tokens_issued(), 1);
    // gcp_auth caches the token until shortly before it expires.
    let again = account.token(&[SCOPE]).await.unwrap();
    assert_eq!(again.as_str(), token.as_str());
    assert_eq!(emu.tokens_issued(), 1);

    let mut client = client(&emu).await;
    let created = client
        .create_batch_prediction_job(with_bearer(create(job("authed")), token.as_str()))
        .await
        .unwrap()
        .into_inner();
    assert!(!created.name.is_empty());
    assert!(emu.calls()[0].authorization_present);
}

#[tokio::test]
async fn missing_unknown_and_malformed_tokens_are_unauthenticated() {
    let emu = emulator().await;
    let mut client = client(&emu).await;

    let missing = client
        .create_batch_prediction_job(create(job("x")))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);
    assert!(
        missing.message().contains("missing"),
        "{}",
        missing.message()
    );

    let unknown = client
        .create_batch_prediction_job(with_bearer(create(job("x")), "ya29.made-up"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::Unauthenticated);
    assert!(
        !unknown.message().contains("made-up"),
        "no token text in errors"
    );

    let mut basic = tonic::Request::new(create(job("x")));
    basic
        .metadata_mut()
        .insert("authorization", MetadataValue::from_static("Basic abc"));
    let malformed = client.create_batch_prediction_job(basic).await.unwrap_err();
    assert_eq!(malformed.code(), Code::Unauthenticated);

    let issued = emu.issue_token();
    client
        .create_batch_prediction_job(with_bearer(create(job("x")), &issued))
        .await
        .unwrap();
    assert_eq!(emu.tokens_issued(), 0, "issue_token bypasses the endpoint");
    assert_eq!(emu.job_count(), 1);
    let calls = emu.calls();
    assert_eq!(calls.len(), 4);
    assert!(!calls[0].authorization_present && calls[1].authorization_present);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let emu = Emulator::builder()
        .with_require_auth(true)
        .with_token_lifetime(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let token = emu.issue_token();
    let mut client = client(&emu).await;
    let status = client
        .create_batch_prediction_job(with_bearer(create(job("x")), &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("expired"), "{}", status.message());
}

#[tokio::test]
async fn a_failing_token_endpoint_answers_503_then_recovers() {
    let emu = emulator().await;
    let key = emu.service_account_key();
    let account = gcp_auth::CustomServiceAccount::from_json(&key.json).unwrap();
    emu.set_token_endpoint_failing(true);
    assert!(account.token(&[SCOPE]).await.is_err());
    assert_eq!(emu.tokens_issued(), 0);
    emu.set_token_endpoint_failing(false);
    assert!(account.token(&[SCOPE]).await.is_ok());
    assert_eq!(emu.tokens_issued(), 1);
}

#[tokio::test]
async fn the_token_endpoint_rejects_bad_assertions() {
    let emu = emulator().await;
    let http = |body: &'static str| {
        let uri = emu.token_uri();
        async move { post_form(&uri, body).await }
    };
    let (status, body) = http("grant_type=password&username=x").await;
    assert_eq!(status, 400);
    assert!(body.contains("unsupported_grant_type"), "{body}");
    let (status, body) =
        http("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c")
            .await;
    assert_eq!(status, 400);
    assert!(body.contains("invalid_grant"), "{body}");

    // A key the endpoint never registered: same format, unknown to this emulator.
    let other = Emulator::builder().start().await.unwrap();
    let foreign = other.service_account_key();
    let json = foreign.json.replace(&other.token_uri(), &emu.token_uri());
    let account = gcp_auth::CustomServiceAccount::from_json(&json).unwrap();
    assert!(account.token(&[SCOPE]).await.is_err());
    assert_eq!(emu.tokens_issued(), 0);
}

/// A bare HTTP/1.1 POST over a TCP stream: the test needs no HTTP client crate.
async fn post_form(uri: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = uri.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    (status, response)
}

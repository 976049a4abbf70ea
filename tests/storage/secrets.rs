//! No token in clear text off this machine, and none to an emulator host unless asked: a
//! client from `STORAGE_EMULATOR_HOST` sends no `authorization` header (as Google's storage
//! clients), one given a token for a loopback `http://` endpoint does, and a token for a plain
//! `http://` endpoint elsewhere is refused before anything is sent.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vertex_batch::auth::Credentials;
use vertex_batch::storage::Storage;

use super::uri;

/// A loopback HTTP listener that keeps each request's head (lower-cased) and answers every
/// request with one object's metadata.
pub struct Listener {
    pub addr: std::net::SocketAddr,
    pub heads: Arc<Mutex<Vec<String>>>,
}

impl Listener {
    pub async fn start() -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let kept = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match socket.read(&mut byte).await {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    kept.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&head).to_ascii_lowercase());
                    let body = concat!(
                        r#"{"kind":"storage#object","id":"bucket/o/7","selfLink":"x","#,
                        r#""mediaLink":"x","name":"o","bucket":"bucket","generation":"7","#,
                        r#""metageneration":"1","contentType":"text/plain","#,
                        r#""storageClass":"STANDARD","size":"0","etag":"e","#,
                        r#""timeCreated":"2026-01-01T00:00:00Z","updated":"2026-01-01T00:00:00Z"}"#
                    );
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        Listener { addr, heads }
    }

    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

/// The client `STORAGE_EMULATOR_HOST` makes sends no token; the same endpoint given a token
/// gets it (loopback). Called by the one test of this binary that sets the environment.
pub async fn an_emulator_host_gets_no_token() {
    let listener = Listener::start().await;
    // SAFETY: no other test of this binary reads or writes the environment (the caller is
    // the one that does, and it runs this before its own use).
    unsafe { std::env::set_var("STORAGE_EMULATOR_HOST", listener.addr.to_string()) };
    let from_env = Storage::from_env().build();
    unsafe { std::env::remove_var("STORAGE_EMULATOR_HOST") };
    let info = from_env
        .unwrap()
        .metadata(&uri("gs://bucket/o"))
        .await
        .unwrap();
    assert_eq!(info.generation, 7);
    let heads = listener.heads();
    assert_eq!(heads.len(), 1);
    assert!(
        heads[0].starts_with("get /storage/v1/b/bucket/o"),
        "{heads:?}"
    );
    assert!(!heads[0].contains("authorization"), "{heads:?}");

    // Asked for: a token goes to a loopback endpoint.
    Storage::builder()
        .with_endpoint(format!("http://{}", listener.addr))
        .with_credentials(Credentials::static_token("loopback-token"))
        .build()
        .unwrap()
        .metadata(&uri("gs://bucket/o"))
        .await
        .unwrap();
    let heads = listener.heads();
    assert!(
        heads[1].contains("authorization: bearer loopback-token"),
        "{heads:?}"
    );
}

#[tokio::test]
async fn a_token_for_plain_http_off_loopback_is_refused_before_any_request() {
    for endpoint in ["http://10.255.255.1:9023", "http://storage.invalid"] {
        let err = Storage::builder()
            .with_endpoint(endpoint)
            .with_credentials(Credentials::static_token("never-sent"))
            .build()
            .unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("plain HTTP") && text.contains("https://"),
            "{text}"
        );
        assert!(!text.contains("never-sent"), "{text}");
        // The same endpoint with no credentials is fine.
        Storage::builder()
            .with_endpoint(endpoint)
            .with_credentials(Credentials::none())
            .build()
            .unwrap();
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_as_on_the_service() {
    let emu = crate::support::client::emulator()
        .with_require_auth(true)
        .start()
        .await
        .unwrap();
    let token = emu.issue_token();
    let path = "/storage/v1/b/bucket/o";
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let answer =
            super::raw::send_as(&emu, &format!("{scheme} {token}"), "GET", path, &[], b"").await;
        // Authorized: the bucket does not exist yet, a 404, not a 401.
        assert_eq!(answer.status, 404, "{scheme}: {answer:?}");
    }
    for refused in [format!("Basic {token}"), token.clone(), "Bearer".to_owned()] {
        let answer = super::raw::send_as(&emu, &refused, "GET", path, &[], b"").await;
        assert_eq!(answer.status, 401, "{refused}: {answer:?}");
    }
    emu.shutdown().await;
}

//! A download whose body stalls (no byte within the retry policy's attempt timeout) is resumed
//! from its last byte, of the same generation; a request with no answer at all is retried. A
//! loopback server of its own stands in for the stalls: the first download sends half its
//! body and then nothing, holding the connection open; the first metadata request is never
//! answered.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vertex_batch::RetryPolicy;
use vertex_batch::auth::Credentials;
use vertex_batch::storage::Storage;

use super::{download, pattern, uri};

/// Serves one object of generation 7 whose bytes are `data`, stalling as the module says; keeps
/// each request's first line and range header.
async fn stalling_server(data: Vec<u8>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let kept = seen.clone();
    let data = Arc::new(data);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (seen, data) = (kept.clone(), data.clone());
            tokio::spawn(async move {
                loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match socket.read(&mut byte).await {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                    let line = head.lines().next().unwrap_or_default().to_owned();
                    let range = head
                        .lines()
                        .find_map(|l| l.strip_prefix("range: bytes="))
                        .map(str::to_owned);
                    let nth = {
                        let mut seen = seen.lock().unwrap();
                        seen.push(format!("{line} {}", range.clone().unwrap_or_default()));
                        seen.iter()
                            .filter(|l| l.split(' ').nth(1) == line.split(' ').nth(1))
                            .count()
                    };
                    let media = line.contains("alt=media");
                    if !media && nth == 1 {
                        // The first metadata request: never answered.
                        std::future::pending::<()>().await;
                    }
                    if !media {
                        let body = format!(
                            r#"{{"kind":"storage#object","id":"b/o/7","selfLink":"x","mediaLink":"x","name":"o","bucket":"bucket","generation":"7","metageneration":"1","contentType":"application/octet-stream","storageClass":"STANDARD","size":"{}","etag":"e","timeCreated":"2026-01-01T00:00:00Z","updated":"2026-01-01T00:00:00Z"}}"#,
                            data.len()
                        );
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    assert!(line.contains("generation=7"), "{line}");
                    let first: usize = range
                        .as_deref()
                        .and_then(|r| r.trim_end_matches('-').parse().ok())
                        .unwrap_or(0);
                    let rest = &data[first..];
                    let status = if first == 0 {
                        "200 OK"
                    } else {
                        "206 Partial Content"
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\ncontent-length: {}\r\ncontent-range: bytes {first}-{}/{}\r\n\r\n",
                        rest.len(),
                        data.len() - 1,
                        data.len()
                    );
                    if socket.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                    if first == 0 {
                        // Half the body, then a stall with the connection open.
                        let _ = socket.write_all(&rest[..rest.len() / 2]).await;
                        std::future::pending::<()>().await;
                    }
                    if socket.write_all(rest).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (endpoint, seen)
}

#[tokio::test]
async fn a_stalled_download_is_resumed_and_an_unanswered_request_retried() {
    let data = pattern(100_000);
    let (endpoint, seen) = stalling_server(data.clone()).await;
    let storage = Storage::builder()
        .with_endpoint(endpoint)
        .with_credentials(Credentials::none())
        .with_retry_policy(
            RetryPolicy::default()
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_attempts(20)
                .with_budget(Duration::from_secs(600))
                .with_attempt_timeout(Some(Duration::from_millis(300))),
        )
        .build()
        .unwrap();
    assert_eq!(download(&storage, &uri("gs://bucket/o"), ..).await, data);
    let seen = seen.lock().unwrap().clone();
    // Metadata twice (the first never answered), the download from 0, then from byte 50,000.
    assert!(
        seen.iter()
            .any(|l| l.contains("alt=media") && l.ends_with(" 50000-")),
        "{seen:?}"
    );
    assert!(
        seen.iter().filter(|l| !l.contains("alt=media")).count() >= 2,
        "{seen:?}"
    );
}

//! Retries: a front on loopback answers the first requests 503 (BigQuery's `backendError`)
//! and then passes connections on to bqemulator; the client's one retry rule gets through,
//! counts and logs each retry, and gives up with the service's error when the policy is spent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vertex_batch::RetryPolicy;
use vertex_batch::auth::Credentials;
use vertex_batch::bigquery::{BigQuery, Row};

use super::{PROJECT, row, shared, turn};

/// Answers the first `failures` connections with one 503 each (and closes them), then
/// forwards every later connection to `upstream`.
async fn failing_front(upstream: SocketAddr, failures: usize) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let failed = Arc::new(AtomicUsize::new(0));
    tokio::spawn({
        let failed = failed.clone();
        async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if failed.load(Ordering::SeqCst) < failures {
                    failed.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        // Read the request's head before answering, as a server does.
                        let mut buf = [0u8; 4096];
                        let _ = client.read(&mut buf).await;
                        let body = r#"{"error":{"code":503,"message":"Error encountered during execution. Retrying may solve the problem.","errors":[{"reason":"backendError","message":"Error encountered during execution."}],"status":"UNAVAILABLE"}}"#;
                        let answer = format!(
                            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                             content-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = client.write_all(answer.as_bytes()).await;
                        let _ = client.shutdown().await;
                    });
                } else {
                    tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            }
        }
    });
    (addr, failed)
}

fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
        .with_max_attempts(attempts)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_service_is_retried_with_the_one_backoff_rule() {
    let _turn = turn().await;
    let emu = shared();
    let upstream: SocketAddr = emu.host().parse().unwrap();
    let (front, failed) = failing_front(upstream, 3).await;
    let bigquery = BigQuery::builder()
        .with_endpoint(format!("http://{front}"))
        .with_credentials(Credentials::none())
        .with_retry_policy(quick(10))
        .build()
        .unwrap();
    let job = bigquery
        .query(PROJECT, "SELECT 'through' AS word")
        .await
        .unwrap();
    let rows: Vec<Row> = bigquery.query_rows(&job).try_collect().await.unwrap();
    assert_eq!(rows, vec![row(serde_json::json!({"word": "through"}))]);
    assert_eq!(failed.load(Ordering::SeqCst), 3);
    assert_eq!(bigquery.retries(), 3, "one retry per 503");

    // A policy of 2 attempts meets 3 failures: the service's error, not a hang.
    let (front, _) = failing_front(upstream, 3).await;
    let bigquery = BigQuery::builder()
        .with_endpoint(format!("http://{front}"))
        .with_credentials(Credentials::none())
        .with_retry_policy(quick(2))
        .build()
        .unwrap();
    let err = bigquery.query(PROJECT, "SELECT 1").await.unwrap_err();
    match &err {
        vertex_batch::Error::BigQuery { code, reason, .. } => {
            assert_eq!((*code, reason.as_str()), (503, "backendError"), "{err}");
        }
        other => panic!("expected the service's 503, got {other:?}"),
    }
    assert_eq!(bigquery.retries(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_listening_is_a_transport_error_naming_the_variable() {
    let _turn = turn().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let bigquery = BigQuery::builder()
        .with_endpoint(format!("http://{addr}"))
        .with_credentials(Credentials::none())
        .with_retry_policy(quick(2))
        .build()
        .unwrap();
    let err = bigquery.query(PROJECT, "SELECT 1").await.unwrap_err();
    assert!(err.is_transport(), "{err}");
    assert!(err.to_string().contains("BIGQUERY_EMULATOR_HOST"), "{err}");
}

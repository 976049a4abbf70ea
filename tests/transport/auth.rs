//! The token layer against the emulator's token endpoint, through gcp_auth's real
//! service-account flow: one fetch for any number of concurrent first calls, refresh ahead of
//! expiry without a failed or blocked call, and a clear error when the token endpoint is down.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::transport::{channel, emulator, endpoint, list};
use tokio::sync::{Semaphore, mpsc};
use vertex_batch::auth::{Credentials, Token, TokenFuture, TokenSource};
use vertex_batch::emulator::Emulator;
use vertex_batch::transport::AuthChannel;

#[tokio::test]
async fn the_service_account_flow_gets_one_token_for_many_calls() {
    let emu = emulator()
        .with_tls(true)
        .with_require_auth(true)
        .start()
        .await
        .unwrap();
    let key = emu.service_account_key();
    let channel = channel(&emu, Credentials::service_account_json(key.json)).await;
    // An eager connect fetched the first token.
    assert_eq!(emu.tokens_issued(), 1);
    for _ in 0..20 {
        list(&channel).await.unwrap();
    }
    assert_eq!(emu.tokens_issued(), 1);
    assert!(emu.calls().iter().all(|call| call.authorization_present));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_first_calls_fetch_exactly_one_token() {
    let emu = emulator().with_require_auth(true).start().await.unwrap();
    let key = emu.service_account_key();
    let channel = AuthChannel::builder()
        .with_endpoint(endpoint(&emu).with_lazy_connect(true))
        .with_credentials(Credentials::service_account_json(key.json))
        .connect()
        .await
        .unwrap();
    assert_eq!(
        emu.tokens_issued(),
        0,
        "a lazy channel fetches on the first call"
    );

    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let channel = channel.clone();
        calls.spawn(async move { list(&channel).await });
    }
    let mut succeeded = 0;
    while let Some(result) = calls.join_next().await {
        result.unwrap().unwrap();
        succeeded += 1;
    }
    assert_eq!(succeeded, 1000);
    assert_eq!(emu.tokens_issued(), 1);
    assert_eq!(emu.calls().len(), 1000);
}

#[tokio::test]
async fn short_lived_tokens_are_refreshed_with_no_failed_call() {
    // The emulator rejects a token once its 2 s are up, on the real clock.
    let emu = emulator()
        .with_require_auth(true)
        .with_token_lifetime(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let key = emu.service_account_key();
    let channel = channel(&emu, Credentials::service_account_json(key.json)).await;
    // Calls go on, one after another, across three token lifetimes; every one must pass.
    let mut calls = 0;
    while emu.tokens_issued() < 3 {
        list(&channel).await.unwrap();
        calls += 1;
    }
    assert!(calls > 0);
    assert_eq!(emu.calls().len(), calls);
}

/// Tokens minted by the emulator; every fetch after the first waits until the test lets it
/// through, and reports when it has returned.
struct GatedSource {
    emu: Arc<Emulator>,
    fetches: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
    returned: mpsc::UnboundedSender<usize>,
}

impl TokenSource for GatedSource {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(async move {
            let number = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
            if number > 1 {
                self.gate.acquire().await.unwrap().forget();
            }
            let token =
                Token::new(self.emu.issue_token()).with_expires_in(Duration::from_secs(3600));
            let _ = self.returned.send(number);
            Ok(token)
        })
    }
}

// One thread: once the source's future returns, the refresh task stores the token before the
// test task runs again, so "returned" means "stored".
#[tokio::test(flavor = "current_thread")]
async fn calls_never_wait_for_a_background_refresh() {
    let emu = Arc::new(emulator().with_require_auth(true).start().await.unwrap());
    let fetches = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let (returned, mut fetched) = mpsc::unbounded_channel();
    let source = GatedSource {
        emu: emu.clone(),
        fetches: fetches.clone(),
        gate: gate.clone(),
        returned,
    };
    // Refresh ahead by more than the lifetime: every token is due for refresh at once.
    let credentials = Credentials::custom(source).with_refresh_ahead(Duration::from_secs(7200));
    let channel = channel(&emu, credentials).await;
    assert_eq!(fetched.recv().await, Some(1));

    // The first call starts a refresh, which cannot finish until the gate opens: had any call
    // waited for it, this loop would never end.
    for _ in 0..50 {
        list(&channel).await.unwrap();
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "one refresh at a time");

    gate.add_permits(1);
    assert_eq!(fetched.recv().await, Some(2));
    // The new token is in place: due at once as well, it starts the next refresh.
    list(&channel).await.unwrap();
    tokio::task::yield_now().await;
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
    assert_eq!(emu.calls().len(), 51);
    assert!(emu.calls().iter().all(|call| call.authorization_present));
}

#[tokio::test]
async fn calls_go_on_with_the_current_token_while_the_token_endpoint_is_down() {
    let emu = emulator().with_require_auth(true).start().await.unwrap();
    let key = emu.service_account_key();
    let credentials =
        Credentials::service_account_json(key.json).with_refresh_ahead(Duration::from_secs(7200));
    let channel = channel(&emu, credentials).await;
    assert_eq!(emu.tokens_issued(), 1);

    emu.set_token_endpoint_failing(true);
    for _ in 0..20 {
        list(&channel).await.unwrap();
    }
    assert_eq!(emu.tokens_issued(), 1);
}

#[tokio::test]
async fn the_token_endpoint_down_is_a_clear_auth_error() {
    let emu = emulator().with_require_auth(true).start().await.unwrap();
    let key = emu.service_account_key();
    emu.set_token_endpoint_failing(true);

    // Eager: the connect fails.
    let err = AuthChannel::builder()
        .with_endpoint(endpoint(&emu))
        .with_credentials(Credentials::service_account_json(key.json.clone()))
        .connect()
        .await
        .unwrap_err();
    assert!(err.is_auth(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "service account key JSON for {}",
            key.client_email
        )),
        "{text}"
    );
    assert!(text.contains("token endpoint"), "{text}");

    // Lazy: the call fails UNAUTHENTICATED, and the channel names the cause.
    let channel = AuthChannel::builder()
        .with_endpoint(endpoint(&emu).with_lazy_connect(true))
        .with_credentials(Credentials::service_account_json(key.json))
        .connect()
        .await
        .unwrap();
    let status = list(&channel).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let err = channel.error_from_status(status);
    assert!(err.is_auth(), "{err:?}");
    assert!(err.to_string().contains(&key.client_email), "{err}");
    assert!(emu.calls().is_empty(), "no call went out without a token");
}

#[tokio::test]
async fn a_key_that_is_not_a_key_says_so() {
    let emu = emulator().start().await.unwrap();
    let err = AuthChannel::builder()
        .with_endpoint(endpoint(&emu))
        .with_credentials(Credentials::service_account_json(
            "{\"type\": \"authorized_user\"}",
        ))
        .connect()
        .await
        .unwrap_err();
    assert!(err.is_auth());
    assert!(
        err.to_string().contains("not a service account key JSON"),
        "{err}"
    );

    let err = AuthChannel::builder()
        .with_endpoint(endpoint(&emu))
        .with_credentials(Credentials::service_account_file("/nonexistent/key.json"))
        .connect()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("service account key file /nonexistent/key.json"),
        "{err}"
    );
}

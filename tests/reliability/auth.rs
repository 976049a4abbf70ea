//! Auth and sharing under stress, through JobClient over TLS with the real service-account
//! flow: a token endpoint that fails for a while and recovers, and 1,000 concurrent waits that
//! share one connection and one token.
#![cfg(feature = "emulator")]

use std::time::{Duration, Instant};

use crate::support::client::*;
use crate::support::proxy::CountingProxy;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use vertex_batch::WaitOptions;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::v1::JobState;

/// Long enough for many calls, short enough for a test; the client stops sending a token a
/// tenth of its lifetime before it expires (src/auth/cache.rs), well before the server would
/// refuse it.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3);

#[tokio::test]
async fn a_failing_token_endpoint_costs_nothing_until_expiry_then_is_a_clear_auth_error() {
    let emu = emulator()
        .with_token_lifetime(TOKEN_LIFETIME)
        .start()
        .await
        .unwrap();
    let key = emu.service_account_key();
    let before_first_token = Instant::now();
    let client = client_builder(&emu).connect().await.unwrap();
    assert_eq!(
        emu.tokens_issued(),
        1,
        "an eager connect fetched the first token"
    );
    let job = client.create(gcs_job("auth")).await.unwrap();

    emu.set_token_endpoint_failing(true);
    // Calls go on, paced, until the first failure. Each is made with the token fetched above;
    // a background refresh starts (and fails) three quarters into its lifetime.
    let mut pace = tokio::time::interval(Duration::from_millis(10));
    let mut succeeded = 0;
    let err = loop {
        pace.tick().await;
        match client.get(&job.name).await {
            Ok(got) => {
                assert_eq!(got.name, job.name);
                succeeded += 1;
            }
            Err(err) => break err,
        }
    };
    // No call failed while the token was still good: the first failure comes only once the
    // token is within its last tenth, where the client no longer sends it.
    assert!(
        before_first_token.elapsed() >= TOKEN_LIFETIME - TOKEN_LIFETIME / 10,
        "a call failed {:?} into a token lifetime of {TOKEN_LIFETIME:?}: {err}",
        before_first_token.elapsed()
    );
    assert!(succeeded > 0);
    // The error is the client's own auth error, naming the credential and the token endpoint;
    // nothing went out without a token.
    assert!(err.is_auth(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&key.client_email), "{text}");
    assert!(text.contains("token endpoint"), "{text}");
    assert!(!text.contains("ya29"), "no token text in errors: {text}");
    let calls_so_far = emu.calls().len();
    assert!(client.get(&job.name).await.unwrap_err().is_auth());
    assert_eq!(
        emu.calls().len(),
        calls_so_far,
        "no call without a usable token"
    );
    assert_eq!(emu.tokens_issued(), 1);

    // The endpoint recovers: the next call fetches a token and succeeds.
    emu.set_token_endpoint_failing(false);
    assert_eq!(client.get(&job.name).await.unwrap().name, job.name);
    assert_eq!(emu.tokens_issued(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_waits_share_one_connection_and_one_token() {
    let emu = emulator().start().await.unwrap();
    // The client dials a counting forwarder in front of the emulator: every connection it
    // opens is counted.
    let proxy = CountingProxy::start(emu.local_addr()).await;
    let endpoint = Endpoint::custom(&proxy.uri(true))
        .unwrap()
        .with_ca_pem(emu.ca_pem().unwrap());
    let client = client_builder(&emu)
        .with_endpoint(endpoint)
        .connect()
        .await
        .unwrap();

    let mut creates = JoinSet::new();
    for i in 0..1000 {
        let client = client.clone();
        creates.spawn(async move { client.create(gcs_job(&format!("wait-{i}"))).await });
    }
    let mut names = Vec::new();
    while let Some(created) = creates.join_next().await {
        names.push(created.unwrap().unwrap().name);
    }

    // Each wait reports its first poll; the clock moves only once all 1,000 are waiting.
    let options = WaitOptions::default()
        .with_initial_interval(Duration::from_millis(20))
        .with_max_interval(Duration::from_millis(200));
    let (first_poll, mut polled) = mpsc::unbounded_channel();
    let mut waits = JoinSet::new();
    for name in names {
        let (client, options, first_poll) = (client.clone(), options.clone(), first_poll.clone());
        waits.spawn(async move {
            let mut first_poll = Some(first_poll);
            client
                .wait_with(&name, &options, |job| {
                    if let Some(tx) = first_poll.take() {
                        let _ = tx.send(job.state());
                    }
                })
                .await
        });
    }
    drop(first_poll);
    for _ in 0..1000 {
        // The manual clock has not moved: every job is still pending.
        assert_eq!(polled.recv().await, Some(JobState::Pending));
    }
    emu.advance(Duration::from_secs(3600));

    let mut succeeded = 0;
    while let Some(done) = waits.join_next().await {
        let job = done.unwrap().unwrap();
        assert_eq!(job.state(), JobState::Succeeded);
        succeeded += 1;
    }
    assert_eq!(succeeded, 1000);
    assert_eq!(proxy.connections(), 1, "one channel, one connection");
    assert_eq!(emu.tokens_issued(), 1, "one token fetch");
    let gets = emu.calls_of("GetBatchPredictionJob").len();
    println!("1,000 waits: {gets} Gets, 1 connection, 1 token");
    assert!(
        gets >= 2000,
        "each wait polled at least before and after the clock moved"
    );
}

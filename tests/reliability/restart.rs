//! The emulator stops and starts again on the same port, keeping its jobs, in the middle of a
//! `wait`: the wait rides out the outage (its polls fail with UNAVAILABLE and go on), the
//! channel reconnects, and the wait completes with the job's end.
//!
//! Plain TCP: a restarted emulator makes a new TLS certificate and CA, which a client that
//! trusted the old CA rightly refuses.
#![cfg(feature = "emulator")]

use std::time::Duration;

use crate::support::client::*;
use crate::support::proxy::CountingProxy;
use tokio::sync::oneshot;
use vertex_batch::emulator::Emulator;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::v1::JobState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_completes_across_an_emulator_restart_on_the_same_port() {
    let plain = || {
        Emulator::builder()
            .with_location(LOCATION)
            .with_require_auth(true)
            .with_manual_clock(true)
    };
    let first = plain().start().await.unwrap();
    let (addr, state) = (first.local_addr(), first.state());
    // A forwarder in front of the emulator counts the client's connections, and those that
    // found the emulator down.
    let proxy = CountingProxy::start(addr).await;
    let client = client_builder(&first)
        .with_endpoint(Endpoint::custom(&proxy.uri(false)).unwrap())
        .connect()
        .await
        .unwrap();
    let job = client.create(gcs_job("restart")).await.unwrap();

    let (first_poll, polled) = oneshot::channel();
    let waiting = tokio::spawn({
        let (client, name) = (client.clone(), job.name.clone());
        async move {
            let mut first_poll = Some(first_poll);
            let mut seen = Vec::new();
            let options = client.wait_options().clone();
            let done = client
                .wait_with(&name, &options, |job| {
                    seen.push(job.state());
                    if let Some(tx) = first_poll.take() {
                        let _ = tx.send(());
                    }
                })
                .await;
            (done, seen)
        }
    });
    polled.await.unwrap();

    first.shutdown().await;
    // The wait keeps polling into the outage: its reconnects find nothing listening.
    proxy.refused_at_least(3).await;
    assert!(!waiting.is_finished());

    let second = plain()
        .with_addr(addr)
        .with_state(state)
        .start()
        .await
        .unwrap();
    assert_eq!(second.job_count(), 1, "the jobs survived the restart");
    second.advance(Duration::from_secs(3600));
    let (done, seen) = waiting.await.unwrap();
    let done = done.unwrap();
    assert_eq!(done.name, job.name);
    assert_eq!(done.state(), JobState::Succeeded);
    assert!(done.has_ended());
    assert_eq!(seen.first(), Some(&JobState::Pending));
    assert_eq!(seen.last(), Some(&JobState::Succeeded));
    assert!(proxy.connections() >= 2, "the channel reconnected");
    assert!(!second.calls_of("GetBatchPredictionJob").is_empty());
    // The token fetched before the outage is still the one in use.
    assert!(second.calls().iter().all(|call| call.authorization_present));
}

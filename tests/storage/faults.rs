//! Every storage call of the library survives the emulator's storage faults: a share of
//! requests answered 429 or 503, downloads whose connection drops part way. The faults are
//! seeded and counted; the same calls without retries fail, so these tests show the retries
//! at work. A retry is an `info` event under `vertex_batch::storage` with no secret in it, and
//! is counted by `Storage::retries`, one for each fault the emulator injected.

use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use vertex_batch::RetryPolicy;
use vertex_batch::emulator::Emulator;
use vertex_batch::storage::{Preconditions, Storage};

use super::{download, pattern, storage_for, uri};
use crate::support::client::emulator;

const KIB: usize = 1024;

/// Retries quick enough for a test and many enough that a 50% failure rate never spends them
/// (2^-40), bounded by attempts, not time.
pub(super) fn patient() -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(4))
        .with_max_attempts(40)
        .with_budget(Duration::from_secs(600))
}

async fn faulty(failure: f64, drop: f64, seed: u64) -> Emulator {
    emulator()
        .with_storage_failure_rate(failure)
        .with_storage_drop_rate(drop)
        .with_seed(seed)
        .start()
        .await
        .unwrap()
}

/// Every kind of call, checking what comes back.
async fn every_call(storage: &Storage, dir: &str) {
    let data = pattern(900 * KIB + 77);
    let big = uri(&format!("gs://bucket/{dir}/big.jsonl"));
    // A resumable upload in several chunks (session start, chunks, status queries).
    let pieces: Vec<std::io::Result<Bytes>> = data
        .chunks(64 * KIB + 1)
        .map(|piece| Ok(Bytes::copy_from_slice(piece)))
        .collect();
    let info = storage
        .upload_stream(&big, futures_util::stream::iter(pieces))
        .await
        .unwrap();
    assert_eq!(info.size, data.len() as u64);
    // Single-request uploads, conditional or not.
    for i in 0..12 {
        let small = uri(&format!("gs://bucket/{dir}/small-{i:02}.txt"));
        storage
            .upload_bytes(&small, format!("small {i}"))
            .await
            .unwrap();
    }
    let lease = uri(&format!("gs://bucket/{dir}/lease"));
    let first = storage
        .upload_bytes_if(&lease, "a", Preconditions::if_absent())
        .await
        .unwrap();
    // Metadata and whole reads.
    assert_eq!(
        storage.metadata(&big).await.unwrap().size,
        data.len() as u64
    );
    let (bytes, read) = storage.read_object(&lease, 10).await.unwrap();
    assert_eq!((&bytes[..], read.generation), (&b"a"[..], first.generation));
    // Listing across pages.
    let listed: Vec<_> = storage
        .list(&uri(&format!("gs://bucket/{dir}/")))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 14);
    // Downloads, whole and ranged.
    assert_eq!(download(storage, &big, ..).await, data);
    assert_eq!(
        download(storage, &big, 300_000..700_000).await,
        data[300_000..700_000]
    );
    for i in 0..12 {
        let small = uri(&format!("gs://bucket/{dir}/small-{i:02}.txt"));
        assert_eq!(
            download(storage, &small, ..).await,
            format!("small {i}").as_bytes()
        );
    }
    // Deletes, conditional or not.
    storage
        .delete_if(&lease, Preconditions::if_generation(first.generation))
        .await
        .unwrap();
    storage.delete(&big).await.unwrap();
    assert!(storage.metadata(&big).await.unwrap_err().is_not_found());
}

/// A retried write or delete whose first attempt landed answers as if it had not: a create
/// finds its own object (412), a delete finds nothing (404). Neither happens with faults that
/// come before the request is served, as the emulator's do, so every call above succeeds.
async fn survives(failure: f64, drop: f64, seed: u64) {
    let emu = faulty(failure, drop, seed).await;
    let storage = storage_for(&emu)
        .with_upload_chunk_size(256 * KIB)
        .with_list_page_size(3)
        .with_retry_policy(patient())
        .build()
        .unwrap();
    // A clone counts into the same count.
    let clone = storage.clone();
    every_call(&clone, "run").await;
    let faults = emu.storage_faults();
    // Each fault made the client send one request again (a failed request, a dropped
    // download resumed, a chunk whose status query and rest went again), and nothing else
    // did: the emulator answers every request in time.
    assert_eq!(storage.retries(), faults.total(), "{faults:?}");
    assert_eq!(clone.retries(), storage.retries());
    assert!(faults.failed() > 0, "{faults:?}");
    assert!(faults.throttled > 0 && faults.unavailable > 0, "{faults:?}");
    if drop > 0.0 {
        assert!(faults.dropped > 0, "{faults:?}");
    }
    assert!(faults.requests > faults.total(), "{faults:?}");
    emu.shutdown().await;
}

#[tokio::test]
async fn without_faults_no_request_is_sent_again() {
    let emu = faulty(0.0, 0.0, 10).await;
    let storage = storage_for(&emu)
        .with_upload_chunk_size(256 * KIB)
        .with_list_page_size(3)
        .with_retry_policy(patient())
        .build()
        .unwrap();
    every_call(&storage, "calm").await;
    assert_eq!(emu.storage_faults().total(), 0);
    assert!(emu.storage_faults().requests > 30);
    assert_eq!(storage.retries(), 0);
    // A refusal that is not retried is not counted either.
    let err = storage
        .metadata(&uri("gs://bucket/calm/absent"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(storage.retries(), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn every_call_succeeds_through_a_ten_percent_failure_rate() {
    survives(0.1, 0.0, 11).await;
}

#[tokio::test]
async fn every_call_succeeds_through_a_fifty_percent_failure_rate() {
    survives(0.5, 0.0, 12).await;
}

#[tokio::test]
async fn downloads_dropped_part_way_resume_with_the_right_bytes() {
    survives(0.1, 0.5, 13).await;
    // Every download dropped at least once before its end (the retries resume each).
    let emu = faulty(0.0, 1.0, 14).await;
    let storage = storage_for(&emu)
        .with_retry_policy(patient())
        .build()
        .unwrap();
    let data = pattern(300 * KIB + 5);
    let object = uri("gs://bucket/dropped.bin");
    storage.upload_bytes(&object, data.clone()).await.unwrap();
    emu.set_storage_fault_rates(0.0, 0.5).unwrap();
    for _ in 0..5 {
        assert_eq!(download(&storage, &object, ..).await, data);
        assert_eq!(
            download(&storage, &object, 1000..=200_000).await,
            data[1000..=200_000]
        );
    }
    let (bytes, _) = storage
        .read_object(&object, data.len() as u64)
        .await
        .unwrap();
    assert_eq!(bytes, data);
    assert!(emu.storage_faults().dropped > 0);
    // The resumed requests ask for the rest, of the generation they started with.
    let resumed: Vec<_> = emu
        .storage_requests()
        .into_iter()
        .filter(|r| {
            r.contains("alt=media") && r.contains("range: bytes=") && !r.contains("bytes=1000-")
        })
        .collect();
    assert!(!resumed.is_empty(), "{:?}", emu.storage_requests());
    emu.shutdown().await;
}

#[tokio::test]
async fn without_retries_the_same_calls_fail() {
    let emu = faulty(0.5, 0.0, 12).await;
    let storage = storage_for(&emu)
        .with_retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let object = uri("gs://bucket/x");
    let mut failures = Vec::new();
    for _ in 0..20 {
        if let Err(err) = storage.upload_bytes(&object, "x").await {
            failures.push(err);
        }
    }
    assert!(!failures.is_empty());
    for err in &failures {
        let text = err.to_string();
        assert!(
            text.contains("HTTP 429") || text.contains("HTTP 503"),
            "{text}"
        );
        assert!(text.contains("gs://bucket/x"), "{text}");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn an_object_replaced_mid_download_ends_the_download_with_an_error_saying_so() {
    let emu = faulty(0.0, 0.0, 15).await;
    let storage = storage_for(&emu)
        .with_retry_policy(patient())
        .build()
        .unwrap();
    let object = uri("gs://bucket/changing.bin");
    let data = pattern(200 * KIB);
    storage.upload_bytes(&object, data.clone()).await.unwrap();
    emu.set_storage_fault_rates(0.0, 1.0).unwrap();
    let mut stream = storage.download(&object, ..).await.unwrap();
    // The first bytes (a dropped download yields what came before the drop) ...
    let mut received = stream.try_next().await.unwrap().unwrap().to_vec();
    assert!(received.len() < data.len());
    // ... then the object is replaced: the rest of the generation read is gone.
    emu.set_storage_fault_rates(0.0, 0.0).unwrap();
    storage.upload_bytes(&object, "new").await.unwrap();
    let err = loop {
        match stream.try_next().await {
            Ok(Some(bytes)) => received.extend_from_slice(&bytes),
            Ok(None) => panic!("the download ended as if whole after the object changed"),
            Err(err) => break err,
        }
    };
    assert_eq!(received[..], data[..received.len()]);
    assert!(err.is_not_found(), "{err}");
    assert!(
        err.to_string().contains("changed while it was downloaded"),
        "{err}"
    );
    assert!(stream.try_next().await.unwrap().is_none());
    emu.shutdown().await;
}

/// What a retry logs, from a layer that keeps the storage events.
mod logged {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing_subscriber::layer::{Context, Layer};

    /// One event: its target, level and fields as text.
    pub type Event = (String, tracing::Level, BTreeMap<String, String>);

    #[derive(Clone, Default)]
    pub struct Events(pub Arc<Mutex<Vec<Event>>>);

    struct Fields<'a>(&'a mut BTreeMap<String, String>);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }
    }

    impl<S: tracing::Subscriber> Layer<S> for Events {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            let meta = event.metadata();
            self.0
                .lock()
                .unwrap()
                .push((meta.target().to_owned(), *meta.level(), fields));
        }
    }
}

#[tokio::test]
async fn each_retry_is_an_info_event_naming_the_call_with_no_secret() {
    if crate::support::isolation::rerun_alone(
        module_path!(),
        "each_retry_is_an_info_event_naming_the_call_with_no_secret",
    ) {
        return;
    }
    use tracing_subscriber::layer::SubscriberExt;
    let events = logged::Events::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(events.clone()));
    let emu = faulty(0.5, 0.5, 16).await;
    let token = emu.issue_token();
    let storage = Storage::builder()
        .with_endpoint(emu.storage_uri())
        .with_credentials(vertex_batch::auth::Credentials::static_token(token.clone()))
        .with_upload_chunk_size(256 * KIB)
        .with_retry_policy(patient())
        .build()
        .unwrap();
    every_call(&storage, "logged").await;
    let faults = emu.storage_faults();
    let events = events.0.lock().unwrap().clone();
    let retries: Vec<_> = events
        .iter()
        .filter(|(target, _, _)| target == "vertex_batch::storage")
        .collect();
    // One event a fault (a dropped download or a failed request is one retry; a failure of a
    // chunk's status query is another), each counted.
    assert_eq!(retries.len() as u64, faults.total(), "{faults:?}");
    assert_eq!(storage.retries(), faults.total());
    for (_, level, fields) in &retries {
        assert_eq!(*level, tracing::Level::INFO);
        for field in ["op", "object", "attempt", "error", "delay_ms"] {
            assert!(fields.contains_key(field), "{field} missing: {fields:?}");
        }
        assert!(
            fields["object"].starts_with("gs://bucket/logged/"),
            "{fields:?}"
        );
    }
    let ops: std::collections::BTreeSet<_> =
        retries.iter().map(|(_, _, f)| f["op"].clone()).collect();
    assert!(
        ops.contains("upload") && ops.contains("download"),
        "{ops:?}"
    );
    assert!(
        retries
            .iter()
            .any(|(_, _, f)| f["error"].starts_with("HTTP 503"))
    );
    // No token, no session URI, in any event.
    for (_, _, fields) in &events {
        for value in fields.values() {
            assert!(!value.contains(&token), "a token in the log: {value}");
            assert!(
                !value.contains("upload_id"),
                "a session URI in the log: {value}"
            );
        }
    }
    emu.shutdown().await;
}

//! Memory, counted by a global allocator: the heap a connected JobClient holds, and what
//! streaming 10,000 listed jobs costs next to collecting them. The emulator runs as its own
//! process (the `vertex-batch-emulator` binary) so only the client's heap is counted, and the
//! test runs alone in a process of its own (`support::isolation`), so no other test's heap is.
//! The allocator is the whole test binary's.
//!
//! ```text
//! cargo test --test reliability memory -- --nocapture
//! ```
#![cfg(feature = "emulator")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use futures_util::{StreamExt, TryStreamExt};
use tokio::task::JoinSet;
use vertex_batch::auth::Credentials;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::{JobClient, JobFilter};

/// Live heap bytes, and the highest value since the last [`reset_peak`].
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

struct Counting;

fn grew(by: usize) {
    let now = LIVE.fetch_add(by as isize, Ordering::Relaxed) + by as isize;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(by: usize) {
    LIVE.fetch_sub(by as isize, Ordering::Relaxed);
}

// SAFETY: every call goes straight to the system allocator with the caller's arguments; the
// counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Starts a new peak from the current live size; returns it.
fn reset_peak() -> isize {
    let now = live();
    PEAK.store(now, Ordering::Relaxed);
    now
}

fn peak() -> isize {
    PEAK.load(Ordering::Relaxed)
}

fn kib(bytes: isize) -> f64 {
    bytes as f64 / 1024.0
}

const JOBS: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holds_little_and_streaming_ten_thousand_jobs_holds_one_page() {
    if crate::support::isolation::rerun_alone(
        module_path!(),
        "a_client_holds_little_and_streaming_ten_thousand_jobs_holds_one_page",
    ) {
        return;
    }
    let child =
        crate::support::process::Launched::binary(&["--port", "0", "--location", "us-central1"]);
    let uri = child.uri();
    let endpoint = Endpoint::custom(&uri).unwrap();

    // The heap a connected client holds: channel, connection, token cache, headers, options.
    let before = live();
    let client = JobClient::builder()
        .with_project("my-project")
        .with_location("us-central1")
        .with_endpoint(endpoint)
        .with_credentials(Credentials::static_token("ya29.memory-test"))
        .with_quota_project("billing-project")
        .connect()
        .await
        .unwrap();
    let connected = live() - before;
    let _ = client.get("1").await; // NOT_FOUND: the first call sets up the HTTP/2 stream state
    let after_a_call = live() - before;
    let clone = client.clone();
    let per_clone = live() - before - after_a_call;
    drop(clone);

    let mut creates = JoinSet::new();
    for worker in 0..16 {
        let client = client.clone();
        creates.spawn(async move {
            for i in (worker..JOBS).step_by(16) {
                client
                    .create(
                        BatchPredictionJob::builder("gemini-2.0-flash-001")
                            .with_display_name(format!("listed-{i}"))
                            .with_input("gs://bucket/prompts.jsonl")
                            .with_output("gs://bucket/out"),
                    )
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = creates.join_next().await {
        done.unwrap();
    }

    // Streaming: each job is looked at and dropped; at most a page is held.
    let base = reset_peak();
    let mut jobs = std::pin::pin!(client.list(JobFilter::new()));
    let mut streamed = 0;
    while let Some(job) = jobs.next().await {
        assert!(job.unwrap().display_name.starts_with("listed-"));
        streamed += 1;
    }
    let streaming_peak = peak() - base;
    assert_eq!(streamed, JOBS);

    // Collecting the same jobs into a Vec, for comparison.
    let base = reset_peak();
    let collected: Vec<_> = client.list(JobFilter::new()).try_collect().await.unwrap();
    let collecting_peak = peak() - base;
    let held = live() - base;
    assert_eq!(collected.len(), JOBS);
    drop(collected);

    let lines = [
        format!(
            "FIGURE memory: a connected JobClient holds {:.1} KiB ({:.1} KiB after its first call; a clone {} bytes)",
            kib(connected),
            kib(after_a_call),
            per_clone
        ),
        format!(
            "FIGURE memory: streaming {JOBS} listed jobs peaks at {:.1} KiB above the baseline; \
             collecting them peaks at {:.1} KiB and holds {:.1} KiB ({:.0} bytes a job)",
            kib(streaming_peak),
            kib(collecting_peak),
            kib(held),
            held as f64 / JOBS as f64
        ),
    ];
    for line in &lines {
        println!("{line}");
    }
    // Streaming holds about one page (100 jobs) at a time, not all 10,000.
    assert!(
        streaming_peak * 10 < collecting_peak,
        "streaming peaked at {streaming_peak} bytes, collecting at {collecting_peak}"
    );
    assert!(
        per_clone < 1024,
        "a clone shares, it does not copy: {per_clone} bytes"
    );
}

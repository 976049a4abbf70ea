//! Polling economy: how many Gets `wait` makes to follow a job that runs 2 hours, and how late
//! it notices the end, with the default schedule and with a fixed 5-second poll (what Python's
//! SDK does). Measured on a real wait against the emulator, in virtual time: the client runs on
//! a paused tokio clock (each sleep between polls ends at once), and a forwarder in front of the
//! emulator moves the emulator's manual clock to the client's virtual time before each request
//! reaches it. The counts must be what `WaitOptions::intervals()` says.
//!
//! ```text
//! cargo test --test reliability polling -- --nocapture
//! ```
#![cfg(feature = "emulator")]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vertex_batch::auth::Credentials;
use vertex_batch::emulator::Emulator;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::v1::JobState;
use vertex_batch::{JobClient, RetryPolicy, WaitOptions};

const TWO_HOURS: Duration = Duration::from_secs(2 * 3600);
const PENDING: Duration = Duration::from_secs(60);

/// Where virtual time started, and how far the emulator's clock has been moved since.
type Sync = Arc<Mutex<Option<(tokio::time::Instant, Duration)>>>;

/// Moves the emulator's clock to the client's virtual time.
fn sync_clock(emu: &Emulator, sync: &Sync) {
    let mut sync = sync.lock().unwrap();
    if let Some((start, advanced)) = sync.as_mut() {
        let now = start.elapsed();
        if now > *advanced {
            emu.advance(now - *advanced);
            *advanced = now;
        }
    }
}

/// Forwards connections to the emulator, syncing its clock before passing on client bytes.
async fn clock_syncing_forwarder(emu: Arc<Emulator>, sync: Sync) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let upstream = emu.local_addr();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(upstream).await.unwrap();
            // Each request and answer passes on at once, not held back by Nagle's algorithm
            // waiting for a delayed ACK (tens of milliseconds per call, over thousands of calls).
            client.set_nodelay(true).unwrap();
            server.set_nodelay(true).unwrap();
            let (mut from_client, mut to_client) = client.into_split();
            let (mut from_server, mut to_server) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
            });
            let (emu, sync) = (emu.clone(), sync.clone());
            tokio::spawn(async move {
                let mut buf = vec![0; 16 * 1024];
                while let Ok(n) = from_client.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    sync_clock(&emu, &sync);
                    if to_server.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Follows one 2-hour job with `options`: (Gets, how late the end was noticed).
fn follow_a_two_hour_job(options: &WaitOptions) -> (usize, Duration) {
    // The emulator serves on its own runtime, in real time.
    let server = tokio::runtime::Runtime::new().unwrap();
    let emu = Arc::new(
        server
            .block_on(
                Emulator::builder()
                    .with_manual_clock(true)
                    .with_durations(PENDING, TWO_HOURS - PENDING)
                    .start(),
            )
            .unwrap(),
    );
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sync: Sync = Arc::default();
    let (gets, late) = client_runtime.block_on(async {
        let addr = clock_syncing_forwarder(emu.clone(), sync.clone()).await;
        let client = JobClient::builder()
            .with_project("my-project")
            .with_location(emu.location())
            .with_endpoint(Endpoint::custom(&format!("http://{addr}")).unwrap())
            .with_credentials(Credentials::none())
            // No per-attempt deadline: on a paused clock it would expire while the real
            // server answers.
            .with_retry_policy(RetryPolicy::default().with_attempt_timeout(None))
            .connect()
            .await
            .unwrap();
        let job = client
            .create(
                BatchPredictionJob::builder("gemini-2.0-flash-001")
                    .with_input("gs://bucket/prompts.jsonl")
                    .with_output("gs://bucket/out"),
            )
            .await
            .unwrap();
        tokio::time::pause();
        let start = tokio::time::Instant::now();
        *sync.lock().unwrap() = Some((start, Duration::ZERO));
        let done = client.wait_with(&job.name, options, |_| {}).await.unwrap();
        assert_eq!(done.state(), JobState::Succeeded);
        let gets = emu.calls_of("GetBatchPredictionJob").len();
        (gets, start.elapsed().saturating_sub(TWO_HOURS))
    });
    drop(client_runtime);
    (gets, late)
}

/// What the schedule says: polls at 0, then after each interval, until one is at or past the
/// end; (polls, how late the last one is).
fn scheduled(options: &WaitOptions, length: Duration) -> (usize, Duration) {
    let mut at = Duration::ZERO;
    let mut polls = 1;
    let mut intervals = options.intervals();
    while at < length {
        at += intervals.next().unwrap();
        polls += 1;
    }
    (polls, at - length)
}

#[test]
fn a_two_hour_job_costs_the_gets_the_schedule_says() {
    let default = WaitOptions::default();
    let fixed = WaitOptions::default()
        .with_initial_interval(Duration::from_secs(5))
        .with_multiplier(1.0);
    let mut lines = Vec::new();
    for (label, options) in [
        ("default (2 s x1.5, cap 30 s)", &default),
        ("fixed 5 s", &fixed),
    ] {
        let (gets, late) = follow_a_two_hour_job(options);
        let (scheduled_gets, scheduled_late) = scheduled(options, TWO_HOURS);
        assert_eq!(gets, scheduled_gets, "{label}");
        // tokio's timers tick in whole milliseconds: each sleep may end up to 1 ms late, and
        // the start may fall inside a tick.
        let tick_slack = Duration::from_millis(gets as u64 + 1);
        assert!(
            late >= scheduled_late && late <= scheduled_late + tick_slack,
            "{label}: noticed {late:?} late, the schedule says {scheduled_late:?}"
        );
        lines.push(format!(
            "FIGURE polling a 2-hour job, {label}: {gets} Gets, end noticed {scheduled_late:?} \
             late by the schedule ({late:?} measured on tokio's millisecond timer)"
        ));
    }
    for line in lines {
        println!("{line}");
    }
}

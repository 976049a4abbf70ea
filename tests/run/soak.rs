//! The soak: three virtual days of a run through every fault at once, on the emulator's manual
//! clock (virtual time), over loopback with TLS, the real token flow, and real uploads and
//! downloads to a `--gcs-root` folder.
//!
//! 10,000 rows in 5 shards, at most 2 jobs at a time; jobs queue 1 hour and run 14. Cloud
//! Storage fails 10% of requests (429/503) and cuts 5% of downloads part way; Vertex AI is out
//! for 10 minutes at hour 20; the first job stays stuck in the queue until the run cancels it at
//! its 48-hour queue deadline; tokens live 4 wall seconds (each wall second is many virtual
//! minutes); three starts of the same run race from the beginning; the emulator restarts at
//! hour 40 with its state, folder and ports. The test moves the clock 5 virtual minutes each
//! time the runs have called the service since the last move (it waits for that outcome,
//! never for wall time). The run must end by itself with the results of a fault-free run, one
//! job per shard and round plus the stuck job's replacement, and every fault counted.
//!
//! ```text
//! cargo test --test run soak -- --nocapture    # prints virtual days per wall second
//! ```

use std::time::{Duration, Instant};

use vertex_batch::emulator::{Emulator, EmulatorBuilder};
use vertex_batch::run::{BatchRun, RowResult, RunSummary};
use vertex_batch::storage::{ObjectUri, Storage};
use vertex_batch::{JobClient, REQUEST_ID_LABEL, Result};

use super::support::client::{LOCATION, client_builder, fast_retries};
use super::{outcome, prompts, run_all};

/// One start of the run, racing the others.
type Start = tokio::task::JoinHandle<Result<(RunSummary, Vec<RowResult>)>>;

const HOUR: Duration = Duration::from_secs(3600);
const STEP: Duration = Duration::from_secs(5 * 60);
const MODEL: &str = "gemini-2.0-flash-001";
const OUTAGE_AT: Duration = Duration::from_secs(20 * 3600);
const OUTAGE: Duration = Duration::from_secs(600);

fn faulty(builder: EmulatorBuilder, root: &std::path::Path) -> EmulatorBuilder {
    builder
        .with_location(LOCATION)
        .with_tls(true)
        .with_require_auth(true)
        .with_record_calls(true)
        .with_token_lifetime(Duration::from_secs(4))
        .with_gcs_root(root)
        .with_durations(HOUR, 14 * HOUR)
        .with_storage_failure_rate(0.10)
        .with_storage_drop_rate(0.05)
        .with_seed(7)
}

fn storage_of(emu: &Emulator, client: &JobClient) -> Storage {
    Storage::builder()
        .with_endpoint(emu.storage_uri())
        .with_tokens_of(client.channel())
        .with_retry_policy(fast_retries())
        .build()
        .unwrap()
}

fn the_run(client: &JobClient, storage: Storage, emu: &Emulator) -> BatchRun {
    let state = emu.state();
    BatchRun::new(
        client.clone(),
        storage,
        MODEL,
        "gs://soak/run".parse::<ObjectUri>().unwrap(),
    )
    .with_max_requests_per_job(2_000)
    .with_max_running_jobs(2)
    .with_queue_deadline(48 * HOUR)
    .with_lease_ttl(Duration::from_secs(10))
    .with_lease_wait(true)
    .with_clock(move || state.now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_virtual_days_of_faults_end_by_themselves_as_a_fault_free_run() {
    // The fault-free run to compare with: jobs that end at once, no fault.
    let reference = Emulator::builder()
        .with_location(LOCATION)
        .with_durations(Duration::ZERO, Duration::ZERO)
        .start()
        .await
        .unwrap();
    let client = client_builder(&reference).connect().await.unwrap();
    let storage = storage_of(&reference, &client);
    let run = BatchRun::new(client, storage, MODEL, "gs://soak/run".parse().unwrap())
        .with_max_requests_per_job(2_000);
    let (_, expected) = run_all(run, prompts(10_000)).await.unwrap();
    let expected: Vec<String> = expected.iter().map(outcome).collect();
    reference.shutdown().await;

    let root = tempfile::tempdir().unwrap();
    let mut emu = faulty(Emulator::builder(), root.path())
        .with_manual_clock(true)
        .with_stuck_jobs(1)
        .with_outage(OUTAGE_AT, OUTAGE)
        .start()
        .await
        .unwrap();
    let client = client_builder(&emu).connect().await.unwrap();
    let started = Instant::now();
    eprintln!("soak: reference run done");
    let starts: Vec<Start> = (0..3)
        .map(|_| {
            // Each start has a Storage of its own, so each counts its own resent requests.
            let run = the_run(&client, storage_of(&emu, &client), &emu);
            tokio::spawn(run_all(run, prompts(10_000)))
        })
        .collect();

    let mut virtual_time = Duration::ZERO;
    let mut restarted = false;
    while !starts.iter().all(|start| start.is_finished()) {
        // Wait for the outcome: the runs called the service since the clock last moved.
        // A guard, not a synchronisation: a run that stops calling fails the test rather than
        // hanging it.
        let calls = emu.calls().len();
        let waiting = Instant::now();
        while emu.calls().len() == calls && !starts.iter().all(|start| start.is_finished()) {
            assert!(
                waiting.elapsed() < Duration::from_secs(300),
                "the runs stopped calling the service at virtual hour {}",
                virtual_time.as_secs() / 3600
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Through the outage the clock moves 30 s a step: more refused calls than the client's
        // own retries absorb, so the run itself must wait the outage out.
        let step = if (OUTAGE_AT..OUTAGE_AT + 2 * OUTAGE).contains(&virtual_time) {
            Duration::from_secs(30)
        } else {
            STEP
        };
        emu.advance(step);
        virtual_time += step;
        if virtual_time.as_secs().is_multiple_of(24 * 3600) {
            eprintln!(
                "soak: hour {} after {:.1} s: {} jobs, {} calls",
                virtual_time.as_secs() / 3600,
                started.elapsed().as_secs_f64(),
                emu.job_count(),
                emu.calls().len()
            );
        }
        assert!(virtual_time < 5 * 24 * HOUR, "the run ends by itself");
        if virtual_time >= 40 * HOUR && !restarted {
            restarted = true;
            let (state, addr) = (emu.state(), emu.local_addr());
            let (storage_addr, token_addr) = (emu.storage_addr(), emu.token_addr());
            eprintln!("soak: restarting at hour {}", virtual_time.as_secs() / 3600);
            emu.shutdown().await;
            eprintln!("soak: stopped");
            emu = faulty(Emulator::builder(), root.path())
                .with_state(state)
                .with_addr(addr)
                .with_storage_addr(storage_addr)
                .with_token_addr(token_addr)
                .start()
                .await
                .unwrap();
            eprintln!("soak: restarted");
        }
    }
    let wall = started.elapsed();

    let mut summaries = Vec::new();
    for start in starts {
        let (summary, rows) = start.await.unwrap().unwrap();
        assert_eq!(
            rows.iter().map(outcome).collect::<Vec<_>>(),
            expected,
            "the results of a fault-free run"
        );
        summaries.push(summary);
    }

    // One job per shard and round, plus the stuck job's replacement.
    let jobs: Vec<_> = futures_util::TryStreamExt::try_collect::<Vec<_>>(
        client_builder(&emu)
            .connect()
            .await
            .unwrap()
            .list(Default::default()),
    )
    .await
    .unwrap();
    let mut ids: Vec<&String> = jobs
        .iter()
        .map(|job| &job.labels[REQUEST_ID_LABEL])
        .collect();
    ids.sort();
    let all = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), all, "no job made twice: {ids:?}");
    assert_eq!(all, 6, "5 shards and the stuck one's replacement");

    // Every fault counted: the worker's summary, all three starts' resent requests.
    let worker = summaries
        .iter()
        .find(|s| s.jobs_past_queue_deadline > 0)
        .expect("one start ran the jobs");
    assert_eq!(worker.jobs_past_queue_deadline, 1);
    assert_eq!(worker.rounds, 2);
    assert_eq!(worker.answered, 10_000);
    let faults = emu.storage_faults();
    let resent: u64 = summaries.iter().map(|s| s.storage_retries).sum();
    assert!(faults.failed() > 0 && faults.dropped > 0, "{faults:?}");
    // Each injected fault is met by a resend, counted in the summary of the start that met it,
    // but for a request whose task ended with it (a lease renewal stopped by the run's end, a
    // waiter's look at the lease as it was released): a handful at most. The restart adds
    // resends of its own (connections refused while the emulator is down), a few more.
    let injected = faults.failed() + faults.dropped;
    assert!(
        resent + 5 >= injected && resent <= injected + 50,
        "every storage fault was met by a resend: {resent} resent, {faults:?}"
    );
    let unreachable: u64 = summaries.iter().map(|s| s.service_unreachable).sum();
    assert!(emu.outage_refusals() > 0, "the outage was met");
    assert!(
        emu.tokens_issued() >= 2,
        "tokens expired and were fetched again: {}",
        emu.tokens_issued()
    );
    assert!(
        unreachable > 0,
        "the outage and the restart were waited out"
    );
    eprintln!(
        "soak: {:.2} virtual days in {:.1} wall seconds ({:.0} virtual hours a wall second); \
         {resent} storage requests resent for {} injected faults; {unreachable} Vertex AI calls \
         repeated while unreachable ({} refused by the outage); {} storage requests in all; {} \
         tokens issued",
        virtual_time.as_secs_f64() / 86_400.0,
        wall.as_secs_f64(),
        virtual_time.as_secs_f64() / 3600.0 / wall.as_secs_f64(),
        faults.failed() + faults.dropped,
        emu.outage_refusals(),
        faults.requests,
        emu.tokens_issued(),
    );
    emu.shutdown().await;
}

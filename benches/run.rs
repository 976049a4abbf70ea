//! A batch run of many short prompts against the emulator binary on loopback (jobs end at
//! once), measured against the raw work on the same bytes through the same storage client:
//! staging vs a plain upload of the input file, collecting + joining vs a plain download and
//! JSON parse of the output files. Also the peak memory the run adds, per row.
//!
//! ```text
//! cargo bench --bench run --features storage,emulator
//! VB_BENCH_ROWS=100000 VB_BENCH_PROMPT_BYTES=2000 VB_BENCH_MEMORY=0 cargo bench --bench run --features storage,emulator
//! ```
//!
//! After the main run, the same input runs again with the join's check of each echoed request
//! against the hash of the request staged for its row turned off (each line joined by its key
//! alone, its request not scanned): the two collecting times are what the check costs
//! (`VB_BENCH_CHECK=0` skips it).
//!
//! After the main run (1,000,000 rows of 20-byte prompts unless told), three more measure
//! memory (`VB_BENCH_MEMORY=0` skips them): half the rows, then a tenth of the rows with
//! prompts 20 and 200 times longer. The growth from the first to the main run, per row, is
//! what the run keeps per row; the last two show what prompt and answer sizes add.
//!
//! ```text
//! ```
//!
//! A benchmark, not a test: it prints figures and asserts nothing about time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
// The tests' launcher: the emulator process, killed when dropped, and its banner.
#[path = "../tests/support/process.rs"]
mod process;
use process::Launched;
use vertex_batch::auth::Credentials;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::run::{BatchRun, InputFormat, InputLines};
use vertex_batch::storage::{ObjectUri, Storage};
use vertex_batch::{JobClient, WaitOptions};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A field of /proc/self/status in bytes (Linux; 0 elsewhere): `VmHWM` the peak resident
/// memory since the last reset, `VmRSS` the resident memory now.
fn status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Resets the peak to the memory resident now (Linux: writing 5 to clear_refs resets VmHWM)
/// and returns that memory, the baseline the run's peak is measured from.
fn reset_peak_rss() -> u64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_bytes("VmRSS:")
}

fn mb_per_s(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / 1e6 / time.as_secs_f64()
}

/// The emulator binary serving `gcs_root`, jobs ending at once.
fn start_emulator(gcs_root: &Path) -> Launched {
    Launched::binary(&[
        "--port",
        "0",
        "--queued-secs",
        "0",
        "--running-secs",
        "0",
        "--gcs-root",
        gcs_root.to_str().expect("utf-8"),
    ])
}

fn write_input(path: &Path, rows: usize, prompt_bytes: usize) -> u64 {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let filler = "x".repeat(prompt_bytes.saturating_sub(12));
    for i in 0..rows {
        writeln!(
            out,
            r#"{{"request":{{"contents":[{{"role":"user","parts":[{{"text":"{i:>10} {filler}"}}]}}]}},"key":"k{i}"}}"#
        )
        .unwrap();
    }
    out.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

fn main() {
    let rows = env_or("VB_BENCH_ROWS", 1_000_000);
    let prompt_bytes = env_or("VB_BENCH_PROMPT_BYTES", 20);
    let peak = bench(rows, prompt_bytes);
    if env_or("VB_BENCH_MEMORY", 1) == 0 || rows < 10 {
        return;
    }
    // Memory against the number of rows, and against the size of prompts (and so of answers,
    // which echo them), each run in a process of its own (a process keeps the memory it
    // freed, so a second run in it would add little to its peak):
    // - half the rows: the growth from it to the main run, per row, is what the run keeps per
    //   row (both inputs are many upload chunks, so the upload's buffers, a constant, are
    //   full in both);
    // - a tenth of the rows with prompts 20 and 200 times longer: inputs of several upload
    //   chunks both, so that the difference is what prompt and answer sizes add.
    let half = rows / 2;
    let small = bench_in_child(half, prompt_bytes);
    let fewer = rows / 10;
    let long = bench_in_child(fewer, prompt_bytes * 20);
    let longer = bench_in_child(fewer, prompt_bytes * 200);
    println!();
    println!(
        "memory per row: ({:.1} MB - {:.1} MB) / {} rows = {:.1} bytes per row",
        peak as f64 / 1e6,
        small as f64 / 1e6,
        rows - half,
        peak.saturating_sub(small) as f64 / (rows - half) as f64
    );
    println!(
        "memory against prompt size: {fewer} rows of {}-byte prompts {:.1} MB, of {}-byte \
         prompts {:.1} MB: {:.2}x for prompts 10 times longer",
        prompt_bytes * 20,
        long as f64 / 1e6,
        prompt_bytes * 200,
        longer as f64 / 1e6,
        longer as f64 / long as f64
    );
}

/// [`bench`] in a new process of this program; its figures are printed, its peak returned.
fn bench_in_child(rows: usize, prompt_bytes: usize) -> u64 {
    let output = Command::new(std::env::current_exe().unwrap())
        .env("VB_BENCH_ROWS", rows.to_string())
        .env("VB_BENCH_PROMPT_BYTES", prompt_bytes.to_string())
        .env("VB_BENCH_MEMORY", "0")
        .env("VB_BENCH_CHECK", "0")
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    println!();
    print!("{text}");
    text.lines()
        .find_map(|line| line.strip_prefix("peak bytes: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the run printed its peak")
}

/// One run of `rows` prompts of `prompt_bytes` against an emulator of its own, with the raw
/// work beside it; prints the figures and gives the peak memory the run added.
fn bench(rows: usize, prompt_bytes: usize) -> u64 {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("bench-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("gcs/bench")).unwrap();
    let input = dir.join("prompts.jsonl");
    let input_bytes = write_input(&input, rows, prompt_bytes);
    let emu = start_emulator(&dir.join("gcs"));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let peak = runtime.block_on(async {
        let client = JobClient::builder()
            .with_project("bench-project")
            .with_location("us-central1")
            .with_endpoint(Endpoint::custom(&emu.uri()).unwrap())
            .with_credentials(Credentials::none())
            .with_wait_options(
                WaitOptions::default()
                    .with_initial_interval(Duration::from_millis(20))
                    .with_max_interval(Duration::from_millis(100)),
            )
            .connect()
            .await
            .unwrap();
        let storage = Storage::builder()
            .with_endpoint(emu.line("STORAGE_EMULATOR_HOST="))
            .with_credentials(Credentials::none())
            .build()
            .unwrap();

        // Raw: the input file through the same client.
        let started = Instant::now();
        storage
            .upload_file(&input, &"gs://bench/raw/prompts.jsonl".parse().unwrap())
            .await
            .unwrap();
        let raw_upload = started.elapsed();

        // The input read and checked alone (no upload): the part of staging's work that the
        // raw upload does not do.
        let started = Instant::now();
        let checked = InputLines::open(&input, InputFormat::Jsonl)
            .unwrap()
            .map(Result::unwrap)
            .count();
        let read_alone = started.elapsed();
        assert_eq!(checked, rows);

        let staging: ObjectUri = "gs://bench/run".parse().unwrap();
        let baseline = reset_peak_rss();
        let requests = InputLines::open(&input, InputFormat::Jsonl).unwrap();
        let started = Instant::now();
        // The peak of each phase: read and reset as the phase changes.
        let peaks = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, u64)>::new()));
        let seen = peaks.clone();
        let mut results = BatchRun::new(client.clone(), storage.clone(), "gemini-2.0-flash-001", staging)
            .with_work_dir(&dir)
            .with_progress(move |p| {
                let name = format!("{:?} round {}", p.phase, p.round);
                let mut peaks = seen.lock().unwrap();
                if peaks.last().is_none_or(|(last, _)| *last != name) {
                    if let Some(last) = peaks.last_mut() {
                        last.1 = status_bytes("VmHWM:").saturating_sub(baseline);
                    }
                    peaks.push((name, 0));
                }
            })
            .run(requests.into_stream())
            .await
            .unwrap();
        let run_time = started.elapsed();
        let summary = results.summary().clone();
        // The join's second half: every result in input order, written as `run --out` writes it.
        let started = Instant::now();
        let mut sink = std::io::BufWriter::new(std::io::sink());
        let mut answered = 0u64;
        while let Some(row) = results.next().await {
            let row = row.unwrap();
            if let Ok(answer) = &row.outcome {
                answered += 1;
                writeln!(
                    sink,
                    r#"{{"key":{},"text":{},"response":{}}}"#,
                    serde_json::to_string(&row.key).unwrap(),
                    serde_json::to_string(&answer.text).unwrap(),
                    answer.response.get()
                )
                .unwrap();
            }
        }
        let emit_time = started.elapsed();
        let run_peak = status_bytes("VmHWM:").saturating_sub(baseline);
        let by_phase: Vec<String> = peaks
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, peak)| *peak > 0)
            .map(|(phase, peak)| format!("{phase} {:.1} MB", *peak as f64 / 1e6))
            .collect();
        drop(results);

        // Raw: every output file downloaded and parsed as JSON, line by line.
        let outputs: Vec<ObjectUri> = storage
            .list(&"gs://bench/run/".parse().unwrap())
            .try_filter_map(|o| async move {
                Ok((o.uri.name().contains("/output/") && o.uri.name().ends_with(".jsonl")).then_some(o.uri))
            })
            .try_collect()
            .await
            .unwrap();
        let started = Instant::now();
        let (mut raw_bytes, mut lines) = (0u64, 0u64);
        for uri in &outputs {
            let mut stream = storage.download(uri, ..).await.unwrap();
            let mut partial: Vec<u8> = Vec::new();
            while let Some(chunk) = stream.try_next().await.unwrap() {
                raw_bytes += chunk.len() as u64;
                partial.extend_from_slice(&chunk);
                let mut start = 0;
                while let Some(end) = partial[start..].iter().position(|b| *b == b'\n') {
                    let value: serde_json::Value =
                        serde_json::from_slice(&partial[start..start + end]).unwrap();
                    std::hint::black_box(value);
                    lines += 1;
                    start += end + 1;
                }
                partial.drain(..start);
            }
        }
        let raw_download = started.elapsed();

        let collect_join = summary.collecting_time + emit_time;
        println!("rows: {rows} ({prompt_bytes}-byte prompts), answered {answered}, jobs {}, rounds {}", summary.jobs, summary.rounds);
        println!("whole run (stage, jobs, collect): {:.1} s", run_time.as_secs_f64());
        println!(
            "staging:   {:>7.1} MB/s ({} MB in {:.2} s); raw upload {:>7.1} MB/s ({} MB in {:.2} s); ratio {:.2}",
            mb_per_s(summary.staged_bytes, summary.staging_time),
            summary.staged_bytes / 1_000_000,
            summary.staging_time.as_secs_f64(),
            mb_per_s(input_bytes, raw_upload),
            input_bytes / 1_000_000,
            raw_upload.as_secs_f64(),
            mb_per_s(input_bytes, raw_upload) / mb_per_s(summary.staged_bytes, summary.staging_time),
        );
        println!(
            "input read and checked alone: {:.2} s ({:.0} ns a row)",
            read_alone.as_secs_f64(),
            read_alone.as_nanos() as f64 / rows as f64
        );
        println!(
            "collect+join: {:>7.1} MB/s ({} MB in {:.2} s + {:.2} s); raw download+parse {:>7.1} MB/s ({} MB, {lines} lines, in {:.2} s); ratio {:.2}",
            mb_per_s(summary.output_bytes, collect_join),
            summary.output_bytes / 1_000_000,
            summary.collecting_time.as_secs_f64(),
            emit_time.as_secs_f64(),
            mb_per_s(raw_bytes, raw_download),
            raw_bytes / 1_000_000,
            raw_download.as_secs_f64(),
            mb_per_s(raw_bytes, raw_download) / mb_per_s(summary.output_bytes, collect_join),
        );
        println!(
            "peak memory added by the run: {:.1} MB, {:.1} bytes per row (the join's slot: 16 bytes per row)",
            run_peak as f64 / 1e6,
            run_peak as f64 / rows as f64
        );
        println!("peak memory so far at the end of each phase: {}", by_phase.join("; "));
        if env_or("VB_BENCH_CHECK", 1) == 1 {
            // The same input again, joined without checking the echoed requests.
            let requests = InputLines::open(&input, InputFormat::Jsonl).unwrap();
            let unchecked = BatchRun::new(
                client,
                storage.clone(),
                "gemini-2.0-flash-001",
                "gs://bench/unchecked".parse().unwrap(),
            )
            .with_work_dir(&dir)
            .with_unchecked_join_to_measure_it()
            .run(requests.into_stream())
            .await
            .unwrap();
            let without = unchecked.summary().collecting_time;
            drop(unchecked);
            let with = summary.collecting_time;
            println!(
                "the join's check (each echoed request hashed and compared): collect+join {:.2} s \
                 with it, {:.2} s without it: {:.2}x",
                with.as_secs_f64(),
                without.as_secs_f64(),
                with.as_secs_f64() / without.as_secs_f64()
            );
        }
        println!("peak bytes: {run_peak}");
        run_peak
    });
    drop(emu);
    let _ = std::fs::remove_dir_all(&dir);
    peak
}

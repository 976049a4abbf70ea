//! A batch run of many short prompts against the emulator binary on loopback (jobs end at
//! once), measured against the raw work on the same bytes through the same storage client:
//! staging vs a plain upload of the input file, collecting + joining vs a plain download and
//! JSON parse of the output files. Also the peak memory the run adds, per row.
//!
//! ```text
//! cargo bench --bench run --features storage,emulator
//! VB_BENCH_ROWS=100000 VB_BENCH_PROMPT_BYTES=2000 cargo bench --bench run --features storage,emulator
//! ```
//!
//! A benchmark, not a test: it prints figures and asserts nothing about time.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
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

/// Peak resident memory of this process so far, in bytes (Linux).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Resets the peak (Linux: writing 5 to clear_refs resets VmHWM).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn mb_per_s(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / 1e6 / time.as_secs_f64()
}

struct Emulator {
    child: std::process::Child,
    uri: String,
    storage: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_emulator(gcs_root: &Path) -> Emulator {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vertex-batch-emulator"))
        .args(["--port", "0", "--queued-secs", "0", "--running-secs", "0"])
        .arg("--gcs-root")
        .arg(gcs_root)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the emulator binary starts");
    let (mut uri, mut storage) = (None, None);
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("vertex-batch emulator listening on ") {
            uri = Some(rest.trim().to_owned());
        }
        if let Some(rest) = line.strip_prefix("STORAGE_EMULATOR_HOST=") {
            storage = Some(rest.trim().to_owned());
        }
        if line.contains("gs:// folder") {
            break;
        }
    }
    Emulator {
        child,
        uri: uri.unwrap(),
        storage: storage.unwrap(),
    }
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
    runtime.block_on(async {
        let client = JobClient::builder()
            .with_project("bench")
            .with_location("us-central1")
            .with_endpoint(Endpoint::custom(&emu.uri).unwrap())
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
            .with_endpoint(&emu.storage)
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

        let staging: ObjectUri = "gs://bench/run".parse().unwrap();
        let baseline = peak_rss();
        reset_peak_rss();
        let requests = InputLines::open(&input, InputFormat::Jsonl).unwrap();
        let started = Instant::now();
        let mut results = BatchRun::new(client, storage.clone(), "gemini-2.0-flash-001", staging)
            .with_work_dir(&dir)
            .run(futures_util::stream::iter(requests))
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
        let run_peak = peak_rss().saturating_sub(baseline.min(peak_rss()));
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
    });
    drop(emu);
    let _ = std::fs::remove_dir_all(&dir);
}

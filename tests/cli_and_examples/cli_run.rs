//! `vertex-batch run` and `results` against the `vertex-batch-emulator` binary, reached the way
//! a user reaches Vertex AI and Cloud Storage: `--endpoint`, `--ca-cert`, `--credentials` and
//! `STORAGE_EMULATOR_HOST`. A run killed with SIGKILL at ten points and started again each time
//! ends with one job per shard and round and the results of an uninterrupted run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use futures_util::TryStreamExt;
use vertex_batch::auth::Credentials;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::{JobClient, JobFilter, REQUEST_ID_LABEL};

use crate::support::process::Launched;

const PROJECT: &str = "cli-run-project";

/// A `vertex-batch-emulator` process, killed when dropped, and what a client needs of it.
pub(crate) struct EmulatorProcess {
    _process: Launched,
    pub(crate) uri: String,
    pub(crate) storage_host: String,
    pub(crate) ca: PathBuf,
    pub(crate) key: PathBuf,
}

/// A folder of its own for a test's files.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts the emulator binary with TLS, required tokens, jobs that end at once, and `faults`.
pub(crate) fn start_emulator(dir: &Path, faults: &[&str]) -> EmulatorProcess {
    let (ca, key) = (dir.join("ca.pem"), dir.join("key.json"));
    let mut args = vec![
        "--port",
        "0",
        "--tls",
        "--require-auth",
        "--dir",
        dir.to_str().expect("utf-8"),
    ];
    // Jobs end at once unless `faults` says how long they last.
    for flag in ["--queued-secs", "--running-secs"] {
        if !faults.contains(&flag) {
            args.extend_from_slice(&[flag, "0"]);
        }
    }
    args.extend_from_slice(faults);
    let process = Launched::binary(&args);
    EmulatorProcess {
        uri: process.uri(),
        storage_host: process.line("STORAGE_EMULATOR_HOST="),
        _process: process,
        ca,
        key,
    }
}

/// `vertex-batch` pointed at `emu` as at Vertex AI. Its storage requires tokens
/// (`--require-auth`): the Vertex AI token goes there too (`VERTEX_BATCH_STORAGE_TOKEN`, as
/// `--storage-token`), which the CLI sends to no `STORAGE_EMULATOR_HOST` unless asked.
pub(crate) fn vb(emu: &EmulatorProcess) -> Command {
    let mut command = crate::cli::bare();
    command
        .env("STORAGE_EMULATOR_HOST", &emu.storage_host)
        .env("VERTEX_BATCH_STORAGE_TOKEN", "1")
        .arg("--endpoint")
        .arg(&emu.uri)
        .arg("--ca-cert")
        .arg(&emu.ca)
        .arg("--credentials")
        .arg(&emu.key)
        .args(["--project", PROJECT]);
    command
}

pub(crate) fn run_args(input: &Path, staging: &str, out: &Path) -> Vec<String> {
    [
        "run",
        input.to_str().unwrap(),
        "--model",
        "gemini-2.0-flash-001",
        "--staging",
        staging,
        "--out",
        out.to_str().unwrap(),
        "--max-requests-per-job",
        "250",
        "--max-running-jobs",
        "2",
        "--temperature",
        "0.2",
    ]
    .map(str::to_owned)
    .to_vec()
}

pub(crate) fn output(mut command: Command) -> Output {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("the binary runs")
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An input of `n` keyed prompts, JSONL.
pub(crate) fn write_input(path: &Path, n: usize) {
    let mut file = std::fs::File::create(path).unwrap();
    for i in 0..n {
        writeln!(
            file,
            r#"{{"request": {{"contents": [{{"role": "user", "parts": [{{"text": "question {i}"}}]}}]}}, "key": "q{i}"}}"#
        )
        .unwrap();
    }
}

/// Each result line as key and answer text or error, the parts that do not depend on when the
/// jobs ran.
pub(crate) fn results_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            match row.get("error") {
                Some(error) => format!(
                    "{} error {} {}",
                    row["key"], error["code"], error["message"]
                ),
                None => {
                    assert!(row["response"]["candidates"].is_array(), "{line}");
                    format!("{} text {}", row["key"], row["text"])
                }
            }
        })
        .collect()
}

pub(crate) async fn jobs_of(emu: &EmulatorProcess) -> Vec<vertex_batch::v1::BatchPredictionJob> {
    let pem = std::fs::read_to_string(&emu.ca).unwrap();
    let client = JobClient::builder()
        .with_project(PROJECT)
        .with_location("us-central1")
        .with_endpoint(Endpoint::custom(&emu.uri).unwrap().with_ca_pem(pem))
        .with_credentials(Credentials::service_account_file(&emu.key))
        .connect()
        .await
        .unwrap();
    client.list(JobFilter::new()).try_collect().await.unwrap()
}

const FAULTS: [&str; 8] = [
    "--row-failure-rate",
    "0.05",
    "--row-permanent-failure-rate",
    "0.01",
    "--expire-after-rows",
    "120",
    "--seed",
    "17",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_at_ten_points_and_started_again_ends_as_an_uninterrupted_run() {
    let dir = scratch("kill");
    let input = dir.join("prompts.jsonl");
    write_input(&input, 1_200);

    // The uninterrupted run, on an emulator of its own with the same faults and seed.
    let reference_dir = dir.join("reference");
    std::fs::create_dir_all(&reference_dir).unwrap();
    let reference = start_emulator(&reference_dir, &FAULTS);
    let expected_out = dir.join("expected.jsonl");
    let mut command = vb(&reference);
    command.args(run_args(&input, "gs://runs/kill", &expected_out));
    let done = output(command);
    assert_eq!(
        done.status.code(),
        Some(8),
        "some rows fail for good: {}",
        text(&done.stderr)
    );
    let expected = results_of(&expected_out);
    assert_eq!(expected.len(), 1_200);
    let reference_jobs = jobs_of(&reference).await.len();

    let emu = start_emulator(&dir, &FAULTS);
    let out = dir.join("results.jsonl");
    // Where each attempt is killed: the n-th step of that kind it logs (a resumed process logs
    // again the outputs it reads again). Each kill lands just after the step, before or while
    // the next one happens: mid-staging, between a Create and the manifest write that records
    // it (the next attempt then finds the job by its request id), while outputs are read,
    // while a follow-up round is staged.
    let kill_points = [
        ("input file staged", 2),
        ("manifest written", 1),
        ("job created", 1),
        ("job output read", 1),
        ("job created", 2),
        ("manifest written", 3),
        ("input file staged", 1),
        ("job created", 1),
        ("output file read", 2),
        ("job created", 1),
    ];
    let mut killed = 0;
    for (step, nth) in kill_points {
        let mut command = vb(&emu);
        command
            .args(run_args(&input, "gs://runs/kill", &out))
            .env("RUST_LOG", "vertex_batch::run::step=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = 0;
        for line in stderr.lines() {
            if line.unwrap().contains(step) {
                seen += 1;
                if seen == nth {
                    child.kill().unwrap(); // SIGKILL
                    killed += 1;
                    break;
                }
            }
        }
        child.wait().unwrap();
    }
    assert!(killed >= 5, "most attempts were killed part way: {killed}");

    let mut command = vb(&emu);
    command.args(run_args(&input, "gs://runs/kill", &out));
    let done = output(command);
    assert_eq!(done.status.code(), Some(8), "{}", text(&done.stderr));
    assert_eq!(
        results_of(&out),
        expected,
        "the same results as the uninterrupted run"
    );
    // The results' temporary is made only once they are ready: no kill left one behind.
    let partials: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            name.ends_with(".partial").then_some(name)
        })
        .collect();
    assert!(partials.is_empty(), "{partials:?}");

    let jobs = jobs_of(&emu).await;
    let mut by_request: BTreeMap<String, usize> = BTreeMap::new();
    for job in &jobs {
        *by_request
            .entry(job.labels[REQUEST_ID_LABEL].clone())
            .or_default() += 1;
    }
    assert!(
        by_request.values().all(|n| *n == 1),
        "one job per shard and round: {by_request:?}"
    );
    assert_eq!(
        jobs.len(),
        reference_jobs,
        "as many jobs as the uninterrupted run"
    );
    let summary = text(&done.stdout);
    assert!(
        summary.contains(&format!("jobs: {}", jobs.len())),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_then_results_reads_a_job_and_a_gs_directory_with_failures_grouped() {
    let dir = scratch("results");
    let emu = start_emulator(&dir, &FAULTS);
    let input = dir.join("prompts.jsonl");
    write_input(&input, 600);
    let out = dir.join("results.jsonl");
    let mut command = vb(&emu);
    command.args(run_args(&input, "gs://runs/results", &out));
    let done = output(command);
    let summary = text(&done.stdout);
    assert!(
        summary.starts_with("600 rows: "),
        "{summary}{}",
        text(&done.stderr)
    );
    assert!(summary.contains("rounds: "), "{summary}");
    assert!(summary.contains("tokens: "), "{summary}");
    let rows = results_of(&out);
    assert_eq!(rows.len(), 600);
    for (i, row) in rows.iter().enumerate() {
        assert!(row.starts_with(&format!("\"q{i}\" ")), "{row}");
        if row.contains(" text ") {
            assert!(row.ends_with(&format!("\"echo: question {i}\"")), "{row}");
        }
    }

    // The first job of round 0 had failed rows of both kinds and expired part way.
    let jobs = jobs_of(&emu).await;
    let first = jobs
        .iter()
        .find(|job| job.display_name.ends_with("-r0-s0"))
        .expect("the first job");
    let mut command = vb(&emu);
    command.args(["results", &first.name]);
    let by_job = output(command);
    let report = text(&by_job.stdout);
    assert!(by_job.status.success(), "{}", text(&by_job.stderr));
    assert!(report.starts_with("120 rows: "), "{report}");
    let groups: Vec<&str> = report
        .lines()
        .filter(|l| l.contains(" failed, first "))
        .collect();
    assert_eq!(
        groups.len(),
        2,
        "one line per status, not one per row: {report}"
    );
    assert!(
        groups.iter().any(|l| l.contains("Too Many Requests")),
        "{report}"
    );
    assert!(groups.iter().any(|l| l.contains("Bad Request")), "{report}");
    assert!(
        report.contains("gs://runs/results/r0/output/s00000/"),
        "rows named by their gs:// file: {report}"
    );

    let dir_uri = match first
        .output_info
        .as_ref()
        .and_then(|o| o.output_location.as_ref())
    {
        Some(
            vertex_batch::v1::batch_prediction_job::output_info::OutputLocation::GcsOutputDirectory(
                dir,
            ),
        ) => dir.clone(),
        other => panic!("a gs:// output: {other:?}"),
    };
    let mut command = vb(&emu);
    command.args(["results", &dir_uri]);
    let by_dir = output(command);
    assert_eq!(text(&by_dir.stdout), report, "{}", text(&by_dir.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_error_before_any_job() {
    let dir = scratch("bad");
    let emu = start_emulator(&dir, &[]);
    let good =
        r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, "key": "a"}"#;
    let not_json = dir.join("not-json.jsonl");
    std::fs::write(&not_json, format!("{good}\n{{\"request\": \n")).unwrap();
    let duplicate = dir.join("duplicate.jsonl");
    std::fs::write(&duplicate, format!("{good}\n{good}\n")).unwrap();
    let out = dir.join("out.jsonl");
    let unwritable = dir.join("no-such-dir").join("out.jsonl");

    for (input, staging, out, code, expected) in [
        (
            &not_json,
            "gs://runs/bad",
            &out,
            1,
            "error: invalid INPUT line 2: not JSON",
        ),
        (
            &duplicate,
            "gs://runs/bad",
            &out,
            1,
            "error: invalid INPUT line 2: the key \"a\" is also the key of the request at position 1",
        ),
        (
            &duplicate,
            "s3://runs/bad",
            &out,
            2,
            "invalid value 's3://runs/bad' for '--staging",
        ),
        (&duplicate, "gs://runs", &out, 2, "names a bucket only"),
        (&not_json, "gs://runs/bad", &unwritable, 1, "error: --out "),
    ] {
        let mut command = vb(&emu);
        command.args(run_args(input, staging, out));
        let failed = output(command);
        let err = text(&failed.stderr);
        assert_eq!(failed.status.code(), Some(code), "{err}");
        assert!(err.contains(expected), "expected {expected:?} in {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert!(!out.exists(), "no results file for a run that did not run");
    assert!(jobs_of(&emu).await.is_empty(), "no job for bad input");
}

#[test]
fn the_embedded_emulator_runs_a_text_file_end_to_end() {
    let dir = scratch("embedded");
    let input = dir.join("prompts.txt");
    std::fs::write(&input, "first prompt\n\nsecond prompt\n").unwrap();
    let out = dir.join("results.jsonl");
    let mut command = crate::cli::bare();
    command.env_remove("STORAGE_EMULATOR_HOST").args([
        "--emulator",
        "run",
        input.to_str().unwrap(),
        "--text",
        "--model",
        "gemini-2.0-flash-001",
        "--staging",
        "gs://bucket/text-run",
        "--out",
        out.to_str().unwrap(),
    ]);
    let done = output(command);
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(text(&done.stdout).starts_with("2 rows: 2 answered, 0 failed"));
    assert_eq!(
        results_of(&out),
        [
            "\"1\" text \"echo: first prompt\"",
            "\"3\" text \"echo: second prompt\""
        ]
    );
}

//! `vertex-batch run` as a run that lasts, against the emulator binary: a second process on the
//! same staging prefix exits with code 9 naming the first; `status` shows the run from another
//! terminal; Ctrl-C stops the run cleanly (exit 130, no results file left, the lease released);
//! `--end` cancels its jobs and writes what was gathered.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::cli_run::{output, run_args, scratch, start_emulator, text, vb, write_input};

const STAGING: &str = "gs://runs/lasting";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_exits_9_status_shows_the_run_ctrl_c_stops_it_and_end_writes_results() {
    let dir = scratch("lasting");
    // The first job created stays queued until cancelled.
    let emu = start_emulator(&dir, &["--stuck-jobs", "1"]);
    let input = dir.join("prompts.jsonl");
    write_input(&input, 20);
    let out = dir.join("results.jsonl");

    let mut first = vb(&emu);
    first
        .args(run_args(&input, STAGING, &out))
        .env("RUST_LOG", "vertex_batch::run::step=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut first = first.spawn().unwrap();
    let mut stderr = BufReader::new(first.stderr.take().unwrap()).lines();
    // Wait for the outcome: its job exists (and is stuck in the queue).
    for line in stderr.by_ref() {
        if line.unwrap().contains("job created") {
            break;
        }
    }
    let rest = std::thread::spawn(move || stderr.map_while(Result::ok).collect::<Vec<_>>());

    let mut second = vb(&emu);
    second.args(run_args(&input, STAGING, &dir.join("second.jsonl")));
    let second = output(second);
    let said = text(&second.stderr);
    assert_eq!(second.status.code(), Some(9), "{said}");
    assert!(said.contains(&format!("process {}", first.id())), "{said}");
    assert!(said.contains("host ") && said.contains("since "), "{said}");

    let mut status = vb(&emu);
    status.args(["status", STAGING]);
    let seen = output(status);
    let report = text(&seen.stdout);
    assert!(seen.status.success(), "{}", text(&seen.stderr));
    assert!(
        report.starts_with(&format!("run {STAGING}: 20 requests")),
        "{report}"
    );
    assert!(
        report.contains(&format!("process {}", first.id())),
        "{report}"
    );
    assert!(report.contains("round 0: 20 requests, 1 jobs"), "{report}");
    assert!(report.contains("PENDING"), "{report}");

    // Ctrl-C: a clean stop.
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let code = first.wait().unwrap().code();
    let said = rest.join().unwrap().join("\n");
    assert_eq!(code, Some(130), "{said}");
    assert!(said.contains("start it again"), "{said}");
    assert!(!out.exists(), "no results file from a stopped run");
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("results"))
        .collect();
    left.sort();
    assert!(left.is_empty(), "no temporary left beside --out: {left:?}");

    let mut status = vb(&emu);
    status.args(["status", STAGING]);
    let report = text(&output(status).stdout);
    assert!(report.contains("not running now"), "{report}");

    // Ended for good: the stuck job is cancelled and the results written.
    let mut end = vb(&emu);
    end.args(run_args(&input, STAGING, &out)).arg("--end");
    let ended = output(end);
    assert_eq!(ended.status.code(), Some(8), "{}", text(&ended.stderr));
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(lines.lines().count(), 20);
    assert!(
        lines.lines().all(|line| line.contains(r#""code":499"#)),
        "{lines}"
    );
    let mut status = vb(&emu);
    status.args(["status", STAGING]);
    let report = text(&output(status).stdout);
    assert!(report.contains("ended for good"), "{report}");
    assert!(report.contains("CANCELLED"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_started_at_once_with_wait_for_lease_make_one_job_per_shard() {
    let dir = scratch("three");
    let emu = start_emulator(&dir, &["--row-failure-rate", "0.05", "--seed", "3"]);
    let input = dir.join("prompts.jsonl");
    write_input(&input, 1_000);
    let children: Vec<_> = (0..3)
        .map(|i| {
            let mut command = vb(&emu);
            command
                .args(run_args(
                    &input,
                    STAGING,
                    &dir.join(format!("out-{i}.jsonl")),
                ))
                .arg("--wait-for-lease")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            command.spawn().unwrap()
        })
        .collect();
    let mut outs = Vec::new();
    for (i, child) in children.into_iter().enumerate() {
        let done = child.wait_with_output().unwrap();
        assert!(
            matches!(done.status.code(), Some(0 | 8)),
            "{}",
            text(&done.stderr)
        );
        outs.push(std::fs::read_to_string(dir.join(format!("out-{i}.jsonl"))).unwrap());
    }
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[0], outs[2]);
    let jobs = crate::cli_run::jobs_of(&emu).await;
    let mut ids: Vec<&String> = jobs
        .iter()
        .map(|job| &job.labels[vertex_batch::REQUEST_ID_LABEL])
        .collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all, "one job per shard and round");
    assert!(all >= 4, "four shards of 250 at least: {all}");
}

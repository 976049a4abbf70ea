//! The join against output lines whose row ids the service echoed only in part, or wrong:
//! an answer is never joined to another prompt, and every row it touches is accounted for.

use super::*;

/// Runs `n` prompts against an emulator set up by `faults`, with `retry_rounds` follow-ups.
async fn run_against(
    faults: impl FnOnce(
        vertex_batch::emulator::EmulatorBuilder,
    ) -> vertex_batch::emulator::EmulatorBuilder,
    n: usize,
    retry_rounds: u8,
) -> (RunSummary, Vec<RowResult>) {
    let (emu, client, storage) = start_with_storage(faults).await;
    let run = BatchRun::new(
        client,
        storage,
        "gemini-2.0-flash-001",
        "gs://runs/join".parse().unwrap(),
    )
    .with_max_requests_per_job(500)
    .with_retry_rounds(retry_rounds);
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let most = seen.clone();
    let run = run.with_progress(move |p| {
        most.fetch_max(p.mismatched, std::sync::atomic::Ordering::Relaxed);
    });
    let result = run_all(run, prompts(n)).await.unwrap();
    // The progress counts the mismatched lines as the summary does.
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::Relaxed),
        result.0.mismatched_lines
    );
    emu.shutdown().await;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_join_works_when_only_the_key_comes_back() {
    // Labels not echoed: only the line's key names the row (the labels alone: the golden
    // lines in `src/run/collect.rs`, which carry no key of the run's).
    let (summary, rows) = Box::pin(run_against(|b| b.with_echoed_labels(false), 300, 0)).await;
    assert_eq!(summary.answered, 300, "{summary:?}");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(outcome(row), format!("key-{i} ok echo: prompt number {i}"));
    }
    assert_eq!((summary.unexpected_lines, summary.mismatched_lines), (0, 0));
}

/// Row ids swapped between lines, only the keys swapped (key and label disagree), or both
/// dropped, on a tenth of the lines of every job, with labels echoed or not: no answer joins
/// another prompt, and every row is answered in a later round or failed with a status that
/// says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_or_dropped_row_ids_never_join_an_answer_to_another_prompt() {
    for echoed_labels in [true, false] {
        let (summary, rows) = Box::pin(run_against(
            |b| {
                b.with_row_id_fault_rate(0.1)
                    .with_echoed_labels(echoed_labels)
                    .with_seed(23)
            },
            2_000,
            2,
        ))
        .await;
        assert_eq!(rows.len(), 2_000);
        let mut failed = 0;
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.key, format!("key-{i}"));
            match &row.outcome {
                Ok(answer) => assert_eq!(
                    answer.text.as_deref(),
                    Some(format!("echo: prompt number {i}").as_str()),
                    "row {i} joined to another prompt's answer"
                ),
                Err(error) => {
                    failed += 1;
                    // Left after the last round: said so, and worth another run.
                    assert!(error.transient, "{error:?}");
                    assert!(
                        error.code == 502 && error.message.contains("echoing another request")
                            || error.message.contains("no output line for this request"),
                        "{error:?}"
                    );
                }
            }
        }
        assert!(
            summary.mismatched_lines > 0 && summary.rounds == 3,
            "labels echoed {echoed_labels}: {summary:?}"
        );
        assert_eq!(summary.failed, failed);
        assert_eq!(summary.answered + summary.failed, 2_000);
        assert!(summary.answered > 1_950, "{summary:?}");
        if echoed_labels {
            // The key-only swaps make key and label disagree; drops leave lines with no id.
            assert!(summary.unexpected_lines > 0, "{summary:?}");
        }
    }
}

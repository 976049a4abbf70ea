//! Lines the service's import would refuse: staged in jobs of their own (only those fail, each
//! row's result carries the import's error), or refused before any job on request.

use super::*;

fn prompt(i: usize) -> String {
    format!(
        r#"{{"request": {{"contents": [{{"role": "user", "parts": [{{"text": "prompt number {i}"}}]}}], "generationConfig": {{"temperature": 0.5}}}}, "key": "key-{i}"}}"#
    )
}

/// 200 good lines, and among them: an empty object, a name BigQuery refuses, nesting of 16
/// levels, and two lines whose `temperature` is text where the others have a number.
fn input() -> (String, Vec<(usize, &'static str)>) {
    let mut lines: Vec<String> = (0..200).map(prompt).collect();
    let bad = vec![
        (
            20,
            r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "search"}]}], "tools": [{"googleSearch": {}}]}, "key": "empty"}"#,
        ),
        (
            50,
            r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "schema"}]}], "generationConfig": {"responseSchema": {"$defs": {"a": {"type": "STRING"}}}}}, "key": "defs"}"#,
        ),
        (
            80,
            r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "deep"}]}], "x": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": "deep"}}}}}}}}}}}}}}}}, "key": "deep"}"#,
        ),
        (
            120,
            r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "text temperature"}]}], "generationConfig": {"temperature": "0.5"}}, "key": "text-1"}"#,
        ),
        (
            160,
            r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "text temperature"}]}], "generationConfig": {"temperature": "0.7"}}, "key": "text-2"}"#,
        ),
    ];
    for (at, line) in &bad {
        lines[*at] = (*line).to_owned();
    }
    (lines.join("\n") + "\n", bad)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_the_import_refuses_go_to_jobs_of_their_own_and_sink_no_other_row() {
    let (emu, client, storage) = start_with_storage(|b| b).await;
    let (text, _) = input();
    let requests: Vec<_> = InputLines::new(text.as_bytes(), InputFormat::Jsonl).collect();
    let run = BatchRun::new(
        client,
        storage,
        "gemini-2.0-flash-001",
        "gs://runs/apart".parse().unwrap(),
    )
    .with_retry_rounds(0);
    let (summary, rows) = Box::pin(run_all(run, requests)).await.unwrap();
    assert_eq!(rows.len(), 200);
    let by_key: std::collections::HashMap<&str, &RowResult> =
        rows.iter().map(|row| (row.key.as_str(), row)).collect();
    // Every good line answered: one job of importable rows, untouched by the bad ones.
    for i in (0..200).filter(|i| ![20, 50, 80, 120, 160].contains(i)) {
        assert_eq!(
            outcome(by_key[format!("key-{i}").as_str()]),
            format!("key-{i} ok echo: prompt number {i}")
        );
    }
    // The lines whose temperature is text import among themselves: answered in their job.
    for key in ["text-1", "text-2"] {
        assert!(by_key[key].outcome.is_ok(), "{}", outcome(by_key[key]));
    }
    // The others' job fails its import: each result carries the import's error and why the
    // run staged it apart.
    for (key, reason) in [
        (
            "empty",
            "Cannot store struct 'request.tools.googleSearch' with no fields",
        ),
        ("defs", "at request.generationConfig.responseSchema.$defs"),
        (
            "deep",
            "nesting deeper than 15 at request.x.a.a.a.a.a.a.a.a.a.a.a.a.a.a",
        ),
    ] {
        let error = by_key[key].outcome.as_ref().unwrap_err();
        assert_eq!(error.code, 400, "{error:?}");
        assert!(error.message.contains("Failed to import data"), "{error:?}");
        assert!(error.message.contains(reason), "{key}: {error:?}");
        assert!(!error.transient);
    }
    assert_eq!(summary.staged_apart, 5, "{summary:?}");
    assert_eq!(
        summary.staged_apart_by_reason,
        [
            ("a field name BigQuery refuses".to_owned(), 1),
            ("a field whose type differs from earlier rows".to_owned(), 2),
            ("an empty object".to_owned(), 1),
            ("nesting deeper than 15".to_owned(), 1),
        ]
        .into_iter()
        .collect()
    );
    assert_eq!((summary.answered, summary.failed), (197, 3));
    assert_eq!(summary.jobs, 3, "importable, conflicting, refused");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_unimportable_refused_a_bad_line_is_refused_before_any_job_naming_line_and_path() {
    let (emu, client, storage) = start_with_storage(|b| b).await;
    let (text, _) = input();
    let requests: Vec<_> = InputLines::new(text.as_bytes(), InputFormat::Jsonl).collect();
    let run = BatchRun::new(
        client.clone(),
        storage.clone(),
        "gemini-2.0-flash-001",
        "gs://runs/refuse".parse().unwrap(),
    )
    .with_unimportable_refused(true);
    let err = Box::pin(run_all(run, requests)).await.unwrap_err();
    assert!(err.is_invalid_input());
    assert_eq!(
        err.to_string(),
        "invalid input line 21: the service's import would refuse it, and with it its whole \
         job: an empty object at request.tools[0].googleSearch (Cannot store struct \
         'request.tools.googleSearch' with no fields); a run that does not refuse unimportable \
         requests stages it in a job of its own"
    );
    assert_eq!(emu.job_count(), 0);
    // A type that differs from earlier lines' is named too.
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| ![20, 50, 80].contains(i))
        .map(|(_, line)| line.to_owned())
        .collect();
    let requests: Vec<_> =
        InputLines::new(lines.join("\n").as_bytes(), InputFormat::Jsonl).collect();
    let run = BatchRun::new(
        client,
        storage,
        "gemini-2.0-flash-001",
        "gs://runs/refuse-types".parse().unwrap(),
    )
    .with_unimportable_refused(true);
    let err = Box::pin(run_all(run, requests))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "invalid input line 118: the service's import would refuse it, and with it its \
             whole job: a field whose type differs from earlier rows at \
             request.generationConfig.temperature (Field request.generationConfig.temperature \
             has changed type from FLOAT to STRING)"
        ),
        "{err}"
    );
    assert_eq!(emu.job_count(), 0);
    emu.shutdown().await;
}

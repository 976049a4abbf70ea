//! `vertex-batch run` with a line the service's import would refuse: staged in a job of its
//! own by default (the summary says so, the line's result carries the import's error), or
//! refused before any job with `--refuse-unimportable`.

use crate::cli_run::{jobs_of, output, results_of, run_args, scratch, start_emulator, text, vb};

/// Ten prompts, the fourth with an empty tool object.
fn write_input(path: &std::path::Path) {
    let mut lines: Vec<String> = (0..10)
        .map(|i| {
            format!(
                r#"{{"request": {{"contents": [{{"role": "user", "parts": [{{"text": "question {i}"}}]}}]}}, "key": "q{i}"}}"#
            )
        })
        .collect();
    lines[3] = r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "search"}]}], "tools": [{"googleSearch": {}}]}, "key": "bad"}"#.to_owned();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_the_import_refuses_fails_alone_or_is_refused_with_its_line_and_path() {
    let dir = scratch("apart");
    let emu = start_emulator(&dir, &[]);
    let input = dir.join("prompts.jsonl");
    write_input(&input);
    let out = dir.join("out.jsonl");

    let mut command = vb(&emu);
    command
        .args(run_args(&input, "gs://runs/refused", &out))
        .arg("--refuse-unimportable");
    let refused = output(command);
    let err = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(
            "error: invalid INPUT line 4: the service's import would refuse it, and with it its \
             whole job: an empty object at request.tools[0].googleSearch"
        ),
        "{err}"
    );
    assert!(jobs_of(&emu).await.is_empty(), "no job for refused input");

    let mut command = vb(&emu);
    command.args(run_args(&input, "gs://runs/apart", &out));
    let ran = output(command);
    let stdout = text(&ran.stdout);
    // 8: a prompt without an answer.
    assert_eq!(ran.status.code(), Some(8), "{}", text(&ran.stderr));
    assert!(
        stdout.contains(
            "note: 1 requests the service's import would refuse were staged in jobs of their \
             own (1 × an empty object)"
        ),
        "{stdout}"
    );
    let results = results_of(&out);
    assert_eq!(results.len(), 10);
    assert!(
        results[3].starts_with("\"bad\" error 400 "),
        "{}",
        results[3]
    );
    assert!(
        results[3].contains("Failed to import data"),
        "{}",
        results[3]
    );
    assert!(
        results[3].contains("staged in a job of its own"),
        "{}",
        results[3]
    );
    for (i, line) in results.iter().enumerate().filter(|(i, _)| *i != 3) {
        assert_eq!(line, &format!("\"q{i}\" text \"echo: question {i}\""));
    }
    assert_eq!(
        jobs_of(&emu).await.len(),
        2,
        "the importable rows' job and the bad line's"
    );
}

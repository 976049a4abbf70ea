//! `run` over tables: arguments that cannot make a run over tables are one-line usage errors
//! (exit 2) before any call. The runs themselves are tested against bqemulator in
//! `tests/bigquery/runs.rs`, and through this binary in `tests/bigquery/cli_run.rs` (the test
//! binary that owns bqemulator).

use crate::cli::*;

#[test]
fn table_arguments_that_cannot_work_are_usage_errors_before_any_call() {
    let common = [
        "--model",
        "gemini-2.0-flash-001",
        "--staging",
        "gs://my-bucket/runs/t",
    ];
    for (args, says) in [
        (
            &[
                "bq://my-project.d.input",
                "--out",
                "results.jsonl",
                "--key-column",
                "id",
            ][..],
            "--out results.jsonl: a run over a table writes a table",
        ),
        (
            &[
                "bq://my-project.d.input",
                "--out",
                "bq://my-project.d.results",
            ],
            "--key-column: a run over a table needs",
        ),
        (
            &[
                "bq://my-project.d",
                "--out",
                "bq://my-project.d.results",
                "--key-column",
                "id",
            ],
            "INPUT bq://my-project.d: ",
        ),
        (
            &[
                "bq://my-project.d.input",
                "--out",
                "bq://my-project.d.input",
                "--key-column",
                "id",
            ],
            "the results table is INPUT",
        ),
        (
            &["prompts.jsonl", "--out", "bq://my-project.d.results"],
            "a results table comes from a table INPUT",
        ),
        (
            &[
                "prompts.jsonl",
                "--out",
                "results.jsonl",
                "--key-column",
                "id",
            ],
            "--key-column id: for a table INPUT",
        ),
        (
            &[
                "bq://my-project.d.input",
                "--out",
                "bq://my-project.d.results",
                "--key-column",
                "id",
                "--text",
            ],
            "--text: INPUT is a table",
        ),
    ] {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        all.extend_from_slice(&common);
        let line = one_line_error(vb(&all), 2);
        assert!(line.contains(says), "{args:?}: {line}");
    }
}

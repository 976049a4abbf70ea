//! `vertex-batch results` over a BigQuery output table, as a user runs it: the emulator as a
//! process with `--bigquery-endpoint` (bqemulator), a job submitted with `vertex-batch submit
//! --wait` over a table with row faults, then `results JOB` (the job's output table found from
//! it) and `results bq://...` give the files' summary, and `--answers jsonl|csv` every row.

use serde_json::Value;
use vertex_batch::bigquery::Column;

use super::binaries::{emulator_binary, text, vertex_batch};
use super::{LOCATION, PROJECT, client, dataset_in, row, shared, turn};

#[tokio::test(flavor = "multi_thread")]
async fn results_reads_an_output_table_as_it_reads_files() {
    let _turn = turn().await;
    let bq = shared();
    let bigquery = client(bq);
    let dataset = dataset_in(&bigquery, "results", LOCATION).await;
    let input = vertex_batch::bigquery::TableUri::new(PROJECT, &dataset, "prompts").unwrap();
    bigquery
        .create_table(
            &input,
            &[Column::new("key", "STRING"), Column::new("request", "JSON")],
        )
        .await
        .unwrap();
    let rows: Vec<_> = (0..40)
        .map(|i| {
            row(serde_json::json!({
                "key": format!("k{i}"),
                "request": {"contents": [{"role": "user", "parts": [{"text": format!("=cell {i}")}]}]},
            }))
        })
        .collect();
    bigquery.insert_rows(&input, &rows).await.unwrap();

    let emulator = emulator_binary(&["--row-permanent-failure-rate", "0.25", "--seed", "3"]);
    assert!(
        emulator.line("  BigQuery:").starts_with(&bq.endpoint()),
        "the banner says where jobs over tables go"
    );
    let output = format!("bq://{PROJECT}.{dataset}.predictions");
    let submitted = text(&vertex_batch(
        &emulator,
        None,
        &[
            "submit",
            "gemini-2.0-flash-001",
            "--input",
            &input.to_string(),
            "--output",
            &output,
            "--wait",
            "--json",
        ],
    ));
    // The job as it ended: the last JSON value printed.
    let start = submitted.rfind("\n{\n").map_or(0, |at| at + 1);
    let job: Value =
        serde_json::from_str(&submitted[start..]).unwrap_or_else(|e| panic!("{e}: {submitted}"));
    let name = job["name"].as_str().unwrap().to_owned();
    let stats = &job["completionStats"];
    let failed: u64 = stats["failedCount"]
        .as_str()
        .unwrap_or("0")
        .parse()
        .unwrap();
    assert!(failed > 0, "{job:#}");

    // From the job: its output table is found and read.
    let summary = text(&vertex_batch(
        &emulator,
        Some(&bq.host()),
        &["results", &name],
    ));
    assert!(
        summary.starts_with(&format!(
            "40 rows: {} succeeded, {failed} failed",
            40 - failed
        )),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("{failed} failed, first {output}:row ")),
        "failures grouped by status, with the first row: {summary}"
    );
    assert!(summary.contains("Bad Request"), "{summary}");
    // Straight from the table: the same summary.
    let direct = text(&vertex_batch(
        &emulator,
        Some(&bq.host()),
        &["results", &output],
    ));
    assert_eq!(direct, summary);

    let jsonl = text(&vertex_batch(
        &emulator,
        Some(&bq.host()),
        &["results", &output, "--answers", "jsonl"],
    ));
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 40);
    for line in &lines {
        let prompt = line["prompt"].as_str().unwrap();
        match line["error"].as_str().unwrap() {
            "" => assert_eq!(line["answer"], format!("echo: {prompt}"), "{line}"),
            error => assert!(error.starts_with("Bad Request"), "{line}"),
        }
    }
    let csv = text(&vertex_batch(
        &emulator,
        Some(&bq.host()),
        &["results", &output, "--answers", "csv"],
    ));
    let mut csv_lines = csv.lines();
    assert_eq!(csv_lines.next(), Some("line,prompt,answer,error"));
    assert!(
        csv_lines.all(|line| line.contains(",'=cell ")),
        "a prompt starting with = is kept as text: {csv}"
    );

    // Not an output table: said before any row is read.
    let refused = vertex_batch(
        &emulator,
        Some(&bq.host()),
        &["results", &input.to_string()],
    );
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("has no `status` column"), "{err}");
}

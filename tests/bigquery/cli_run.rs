//! `vertex-batch run bq://...` as a user runs it, through the binary: the emulator as a process
//! with `--bigquery-endpoint` (the shared bqemulator), reached by `--endpoint`, `--ca-cert`,
//! `--credentials`, `STORAGE_EMULATOR_HOST` for the staging prefix and
//! `BIGQUERY_EMULATOR_HOST` for the tables. The results table holds one row per input row,
//! the summary printed says what the table holds, and bad input is refused with its exit code.
//!
//! It lives here rather than in `tests/cli_and_examples/`: this binary owns bqemulator (its
//! install, its process and the `turn()` its tests take), which the CLI tests do not need.

use super::binaries::{emulator_binary, vertex_batch};
use super::{LOCATION, PROJECT, client, count, dataset_in, shared, turn};
use vertex_batch::bigquery::{Column, TableUri};

#[tokio::test(flavor = "multi_thread")]
async fn run_over_tables_through_the_binary_writes_the_results_table_and_prints_its_summary() {
    let _turn = turn().await;
    let bq = shared();
    let bigquery = client(bq);
    let dataset = dataset_in(&bigquery, "cli_run", LOCATION).await;
    let input = TableUri::new(PROJECT, &dataset, "input").unwrap();
    bigquery
        .create_table(
            &input,
            &[Column::new("id", "STRING"), Column::new("request", "JSON")],
        )
        .await
        .unwrap();
    bigquery
        .query(
            PROJECT,
            &format!(
                "INSERT INTO {} (id, request) SELECT CONCAT('k', CAST(x AS STRING)), \
                 JSON_OBJECT('contents', [JSON_OBJECT('role', 'user', 'parts', \
                 [JSON_OBJECT('text', CONCAT('prompt ', CAST(x AS STRING)))])]) \
                 FROM UNNEST(GENERATE_ARRAY(0, 59)) AS x",
                input.sql()
            ),
        )
        .await
        .unwrap();
    let results = input.sibling("results").unwrap();

    let emulator = emulator_binary(&["--row-permanent-failure-rate", "0.2", "--seed", "5"]);
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--model",
            "gemini-2.0-flash-001",
            "--staging",
            "gs://runs/cli-tables",
            "--max-requests-per-job",
            "25",
        ];
        args.extend_from_slice(extra);
        vertex_batch(&emulator, Some(&shared().host()), &args)
    };
    let (input_arg, results_arg) = (input.to_string(), results.to_string());

    // A missing --key-column: a usage error, before any call.
    let refused = run(&[&input_arg, "--out", &results_arg]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: --key-column: a run over a table needs"),
        "{stderr}"
    );
    // A key column the input lacks: refused by the run's checks, exit 1, before any job.
    let refused = run(&[&input_arg, "--key-column", "nope", "--out", &results_arg]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("has no column `nope`"), "{stderr}");
    assert!(
        bigquery.table(&results).await.unwrap_err().is_not_found(),
        "nothing written on a refusal"
    );
    let jobs = || {
        let listed = vertex_batch(&emulator, Some(&shared().host()), &["list", "--json"]);
        let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
        listed["batchPredictionJobs"].as_array().unwrap().len()
    };
    assert_eq!(jobs(), 0, "no job on a refusal");

    // The run: some rows fail for good (400), so it exits 8 with every row in the table.
    let done = run(&[&input_arg, "--key-column", "id", "--out", &results_arg]);
    let stdout = String::from_utf8_lossy(&done.stdout).into_owned();
    assert_eq!(
        done.status.code(),
        Some(8),
        "{stdout}\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let r = results.sql();
    let answered = count(
        &bigquery,
        &format!(
            "SELECT COUNT(*) FROM {r} WHERE error IS NULL \
             AND text = CONCAT('echo: prompt ', SUBSTR(id, 2))"
        ),
    )
    .await;
    let failed = count(
        &bigquery,
        &format!(
            "SELECT COUNT(*) FROM {r} WHERE error.code = 400 AND NOT error.transient \
             AND text IS NULL"
        ),
    )
    .await;
    assert_eq!(
        count(&bigquery, &format!("SELECT COUNT(DISTINCT id) FROM {r}")).await,
        60
    );
    assert_eq!(
        answered + failed,
        60,
        "answered, or failed for good: {stdout}"
    );
    assert!(failed > 0 && answered > 0, "{stdout}");
    assert!(
        stdout.starts_with(&format!(
            "60 rows: {answered} answered, {failed} failed ({failed} × 400)\nrounds: "
        )),
        "{stdout}"
    );
    assert!(
        stdout.trim_end().ends_with(&format!("results: {results}")),
        "{stdout}"
    );
    let jobs_made = jobs();
    assert!(
        stdout.contains(&format!(", jobs: {jobs_made}\n")),
        "{jobs_made} jobs: {stdout}"
    );
    let mut tables: Vec<String> = bigquery
        .list_tables(PROJECT, &dataset)
        .await
        .unwrap()
        .iter()
        .map(|table| table.table().to_owned())
        .collect();
    tables.sort();
    assert_eq!(tables, ["input", "results"], "scratch tables dropped");

    // The same command again: the run's end was reached, the same summary.
    let again = run(&[&input_arg, "--key-column", "id", "--out", &results_arg]);
    assert_eq!(again.status.code(), Some(8));
    assert_eq!(String::from_utf8_lossy(&again.stdout), stdout);
    assert_eq!(jobs(), jobs_made, "no second job");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_over_tables_through_the_binary_honours_the_queue_deadline() {
    let _turn = turn().await;
    let bq = shared();
    let bigquery = client(bq);
    let dataset = dataset_in(&bigquery, "cli_queued", LOCATION).await;
    let input = TableUri::new(PROJECT, &dataset, "input").unwrap();
    bigquery
        .query(
            PROJECT,
            &format!(
                "CREATE TABLE {} AS SELECT x AS id, JSON_OBJECT('contents', \
                 [JSON_OBJECT('role', 'user', 'parts', [JSON_OBJECT('text', 'hi')])]) AS request \
                 FROM UNNEST(GENERATE_ARRAY(1, 20)) AS x",
                input.sql()
            ),
        )
        .await
        .unwrap();
    let results = input.sibling("results").unwrap();
    // The first job stays queued: past a queue deadline of 0s it is cancelled, and with no
    // round left its rows get 408.
    let emulator = emulator_binary(&["--stuck-jobs", "1"]);
    let done = vertex_batch(
        &emulator,
        Some(&shared().host()),
        &[
            "run",
            &input.to_string(),
            "--key-column",
            "id",
            "--out",
            &results.to_string(),
            "--model",
            "gemini-2.0-flash-001",
            "--staging",
            "gs://runs/cli-queued",
            "--max-requests-per-job",
            "10",
            "--retry-rounds",
            "0",
            "--queue-deadline",
            "0s",
        ],
    );
    let stdout = String::from_utf8_lossy(&done.stdout).into_owned();
    assert_eq!(
        done.status.code(),
        Some(8),
        "{stdout}\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let stuck = count(
        &bigquery,
        &format!(
            "SELECT COUNT(*) FROM {} WHERE error.code = 408 AND error.transient",
            results.sql()
        ),
    )
    .await;
    assert!(stuck > 0, "{stdout}");
    assert!(
        stdout.starts_with(&format!(
            "20 rows: {} answered, {stuck} failed ({stuck} × 408)\n",
            20 - stuck
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "note: 1 jobs were cancelled, still queued at the queue deadline (their rows sent again)"
        ),
        "{stdout}"
    );
}

//! The BigQuery client against bqemulator (PyPI) on loopback, installed and started by the
//! test support (`tests/support/bigquery.rs`): tables made, read and deleted, rows inserted and
//! read back page by page with their types, query jobs waited for (exactly once with a job id,
//! their errors as `Error::BigQuery`), `BIGQUERY_EMULATOR_HOST`, and retries through a front
//! that answers 503 before passing requests on.
//!
//! By topic: `cli_run` (`vertex-batch run bq://...` through the binary), `faults` (the retry rule over a failing front), `jobs` (the emulator's BigQuery
//! jobs over bqemulator's tables), `results` (`vertex-batch results` over an output table), `runs` (runs over tables,
//! `BatchRun::run_tables`).

#[path = "../support/mod.rs"]
mod support;

mod binaries;
mod cli_run;
mod faults;
mod jobs;
mod results;
mod runs;

use futures_util::TryStreamExt;
use serde_json::{Value, json};
use support::bigquery::{BigQueryEmulator, shared, turn};
use vertex_batch::auth::Credentials;
use vertex_batch::bigquery::{BigQuery, Column, Query, Row, TableUri};

const PROJECT: &str = "test-project";
const LOCATION: &str = "us-central1";

/// A client for the shared bqemulator, sending no token (it needs none).
fn client(emu: &BigQueryEmulator) -> BigQuery {
    BigQuery::builder()
        .with_endpoint(emu.endpoint())
        .with_credentials(Credentials::none())
        .build()
        .unwrap()
}

/// A dataset of the test's own (its name starts with `prefix`) in `location`, on the shared
/// bqemulator.
async fn dataset_in(bigquery: &BigQuery, prefix: &str, location: &str) -> String {
    let dataset = shared().dataset_name(prefix);
    bigquery
        .create_dataset(PROJECT, &dataset, location)
        .await
        .unwrap();
    dataset
}

/// The number a query that counts gives (its first row's first value).
async fn count(bigquery: &BigQuery, sql: &str) -> u64 {
    let job = bigquery.query(PROJECT, sql).await.unwrap();
    let rows: Vec<_> = bigquery.query_rows(&job).try_collect().await.unwrap();
    rows.first()
        .and_then(|row| row.values().next())
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("not a count: {rows:?} from {sql}"))
}

fn row(value: Value) -> Row {
    match value {
        Value::Object(row) => row,
        other => panic!("not an object: {other}"),
    }
}

fn prompt_columns() -> Vec<Column> {
    vec![
        Column::new("id", "INT64"),
        Column::new("request", "JSON"),
        Column::new("note", "STRING"),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn tables_are_made_filled_read_and_deleted() {
    let _turn = turn().await;
    let emu = shared();
    let bigquery = client(emu);
    let dataset = dataset_in(&bigquery, "tables", LOCATION).await;
    let table = TableUri::new(PROJECT, &dataset, "prompts").unwrap();

    let made = bigquery
        .create_table(&table, &prompt_columns())
        .await
        .unwrap();
    assert_eq!(made.columns, prompt_columns());
    let again = bigquery
        .create_table(&table, &prompt_columns())
        .await
        .unwrap_err();
    assert!(
        matches!(again, vertex_batch::Error::BigQuery { code: 409, .. }),
        "{again}"
    );

    let request = json!({"contents": [{"role": "user", "parts": [{"text": "Say hi"}]}]});
    bigquery
        .insert_rows(
            &table,
            &[
                row(json!({"id": 1, "request": request, "note": "first"})),
                row(json!({"id": 2, "request": "{\"contents\":[]}", "note": null})),
            ],
        )
        .await
        .unwrap();

    let info = bigquery.table(&table).await.unwrap();
    assert_eq!(info.uri, table);
    assert_eq!(info.column("request").unwrap().canonical_type(), "JSON");
    assert_eq!(
        bigquery.dataset_location(PROJECT, &dataset).await.unwrap(),
        LOCATION
    );

    let rows: Vec<Row> = bigquery.rows(&table).try_collect().await.unwrap();
    assert_eq!(rows.len(), 2);
    let first = rows.iter().find(|r| r["id"] == json!(1)).unwrap();
    assert_eq!(
        first["request"], request,
        "a JSON column reads back as its value"
    );
    assert_eq!(first["note"], json!("first"));
    let second = rows.iter().find(|r| r["id"] == json!(2)).unwrap();
    assert_eq!(second["request"], json!({"contents": []}));
    assert_eq!(second["note"], Value::Null);

    // Listed: every table of the dataset.
    let other = table.sibling("answers").unwrap();
    bigquery
        .create_table(&other, &prompt_columns())
        .await
        .unwrap();
    let mut listed = bigquery.list_tables(PROJECT, &dataset).await.unwrap();
    listed.sort_by(|a, b| a.table().cmp(b.table()));
    assert_eq!(listed, [other.clone(), table.clone()]);
    // A listing cut short of the tables it counts is an error, never a shorter list
    // (bqemulator gives no page token: one table a page, it ends after the first).
    let paged = BigQuery::builder()
        .with_endpoint(emu.endpoint())
        .with_credentials(Credentials::none())
        .with_page_size(1)
        .build()
        .unwrap();
    let short = paged.list_tables(PROJECT, &dataset).await.unwrap_err();
    assert!(
        short.to_string().contains("ended after 1 of its 2 tables"),
        "{short}"
    );
    bigquery.delete_table(&other).await.unwrap();

    bigquery.delete_table(&table).await.unwrap();
    assert!(
        bigquery
            .list_tables(PROJECT, &dataset)
            .await
            .unwrap()
            .is_empty()
    );
    let gone = bigquery.table(&table).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    assert!(gone.to_string().contains(&table.to_string()), "{gone}");
    let gone = bigquery.delete_table(&table).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_are_read_page_by_page_to_the_last() {
    let _turn = turn().await;
    let emu = shared();
    let bigquery = BigQuery::builder()
        .with_endpoint(emu.endpoint())
        .with_credentials(Credentials::none())
        .with_page_size(7)
        .build()
        .unwrap();
    let dataset = dataset_in(&bigquery, "pages", LOCATION).await;
    let table = TableUri::new(PROJECT, &dataset, "numbers").unwrap();
    bigquery
        .create_table(&table, &[Column::new("n", "INT64")])
        .await
        .unwrap();
    let rows: Vec<Row> = (0..25).map(|n| row(json!({"n": n}))).collect();
    bigquery.insert_rows(&table, &rows).await.unwrap();

    let mut read: Vec<i64> = bigquery
        .rows(&table)
        .map_ok(|row| row["n"].as_i64().unwrap())
        .try_collect()
        .await
        .unwrap();
    read.sort_unstable();
    assert_eq!(
        read,
        (0..25).collect::<Vec<_>>(),
        "4 pages of 7, every row once"
    );

    // A query's results, the same way.
    let job = bigquery
        .query(
            PROJECT,
            &format!(
                "SELECT n, n * 2 AS twice FROM {} WHERE n >= 5 ORDER BY n",
                table.sql()
            ),
        )
        .await
        .unwrap();
    let results: Vec<Row> = bigquery.query_rows(&job).try_collect().await.unwrap();
    assert_eq!(results.len(), 20);
    assert_eq!(results[0], row(json!({"n": 5, "twice": 10})));
    assert_eq!(results[19], row(json!({"n": 24, "twice": 48})));
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_run_as_jobs_once_per_job_id() {
    let _turn = turn().await;
    let emu = shared();
    let bigquery = client(emu);
    let dataset = dataset_in(&bigquery, "queries", LOCATION).await;
    let table = TableUri::new(PROJECT, &dataset, "prompts").unwrap();
    bigquery
        .create_table(&table, &prompt_columns())
        .await
        .unwrap();

    let insert = format!(
        "INSERT INTO {} (id, request, note) VALUES (1, JSON '{{\"contents\": []}}', 'sql')",
        table.sql()
    );
    let job_id = format!("insert_once_{dataset}");
    let first = bigquery
        .query_with(PROJECT, Query::new(&insert).with_job_id(&job_id))
        .await
        .unwrap();
    assert_eq!(first.job_id, job_id);
    assert_eq!(first.statement_type.as_deref(), Some("INSERT"));
    // The same id again (a process started again): the job is found, not run twice.
    let second = bigquery
        .query_with(PROJECT, Query::new(&insert).with_job_id(&job_id))
        .await
        .unwrap();
    assert_eq!(second.job_id, job_id);
    let count = bigquery
        .query(
            PROJECT,
            &format!("SELECT COUNT(*) AS n FROM {}", table.sql()),
        )
        .await
        .unwrap();
    let counted: Vec<Row> = bigquery.query_rows(&count).try_collect().await.unwrap();
    assert_eq!(counted, vec![row(json!({"n": 1}))]);

    // CREATE TABLE AS SELECT, with the JSON functions a run over tables needs.
    let copy = table.sibling("copy").unwrap();
    let ctas = bigquery
        .query(
            PROJECT,
            &format!(
                "CREATE TABLE {} AS SELECT id, FARM_FINGERPRINT(CAST(id AS STRING)) AS h, \
                 JSON_VALUE(request, '$.contents') IS NULL AS empty FROM {}",
                copy.sql(),
                table.sql()
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        ctas.statement_type.as_deref(),
        Some("CREATE_TABLE_AS_SELECT")
    );
    let copied: Vec<Row> = bigquery.rows(&copy).try_collect().await.unwrap();
    assert_eq!(copied.len(), 1);
    assert!(copied[0]["h"].is_i64(), "{:?}", copied[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_queries_and_bad_input_are_errors_that_say_why() {
    let _turn = turn().await;
    let emu = shared();
    let bigquery = client(emu);

    let err = bigquery
        .query(PROJECT, "SELECT * FROM `test-project.no_such_dataset.t`")
        .await
        .unwrap_err();
    match &err {
        vertex_batch::Error::BigQuery { what, target, .. } => {
            assert_eq!(*what, "the query");
            assert!(target.starts_with("test-project:vertex_batch_"), "{target}");
        }
        other => panic!("expected a BigQuery error, got {other:?}"),
    }

    let err = bigquery
        .query(PROJECT, "SELEKT nonsense")
        .await
        .unwrap_err();
    assert!(matches!(err, vertex_batch::Error::BigQuery { .. }), "{err}");

    // Refused before any call.
    for (query, field) in [
        (Query::new("SELECT 1").with_job_id("a b"), "invalid job_id"),
        (Query::new("  "), "invalid sql"),
    ] {
        let err = bigquery.query_with(PROJECT, query).await.unwrap_err();
        assert!(err.to_string().starts_with(field), "{err}");
    }
    let err = bigquery.query("Bad_Project", "SELECT 1").await.unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
}

#[test]
fn bigquery_emulator_host_sets_the_endpoint_and_no_token() {
    let _turn = support::bigquery::turn_blocking();
    if support::isolation::rerun_alone(
        module_path!(),
        "bigquery_emulator_host_sets_the_endpoint_and_no_token",
    ) {
        return;
    }
    let emu = shared();
    // SAFETY: this test runs alone in its process (rerun_alone).
    unsafe { std::env::set_var("BIGQUERY_EMULATOR_HOST", emu.host()) };
    let bigquery = BigQuery::from_env().build().unwrap();
    assert_eq!(bigquery.endpoint(), emu.endpoint());
    assert!(format!("{bigquery:?}").contains("sends_tokens: false"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let job = runtime
        .block_on(bigquery.query(PROJECT, "SELECT 41 + 1 AS answer"))
        .unwrap();
    let rows: Vec<Row> = runtime
        .block_on(bigquery.query_rows(&job).try_collect())
        .unwrap();
    assert_eq!(rows, vec![row(json!({"answer": 42}))]);

    // SAFETY: as above.
    unsafe { std::env::set_var("BIGQUERY_EMULATOR_HOST", "not a host") };
    let err = BigQuery::from_env().build().unwrap_err().to_string();
    assert!(err.starts_with("invalid BIGQUERY_EMULATOR_HOST: "), "{err}");
}

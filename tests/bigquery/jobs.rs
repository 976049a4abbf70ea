//! The emulator's BigQuery jobs given bqemulator as their BigQuery: the input table read, the
//! service's checks (a `request` column, the datasets' region), the output table written with
//! the service's columns in order, row faults and expiry included; the reference page's REST
//! body leaves a table that reads back; a job is RUNNING while it writes its output, written
//! on a thread of its own, and other calls answer meanwhile (a gate in front of bqemulator
//! holds the writer).

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::TryStreamExt;
use serde_json::{Value, json};
use vertex_batch::bigquery::{BigQuery, Column, Row, TableUri};
use vertex_batch::emulator::{Emulator, EmulatorBuilder};
use vertex_batch::v1::{BatchPredictionJob, JobState};
use vertex_batch::{JobClient, OutputLocation};

use super::support::client::{client_builder, gcs_job};
use super::support::reference::BIGQUERY_BODY;
use super::{LOCATION, PROJECT, client, dataset_in, row, shared, turn};

/// Our emulator with bqemulator as its BigQuery, jobs ending at once, and a client.
async fn emulator_over(
    more: impl FnOnce(EmulatorBuilder) -> EmulatorBuilder,
) -> (Emulator, JobClient) {
    let builder = Emulator::builder()
        .with_location(LOCATION)
        .with_tls(true)
        .with_require_auth(true)
        .with_durations(Duration::ZERO, Duration::ZERO)
        .with_bigquery_endpoint(shared().host());
    let emu = more(builder).start().await.unwrap();
    let jobs = client_builder(&emu).connect().await.unwrap();
    (emu, jobs)
}

/// The job once it has ended (a job that did not succeed too).
async fn ended(jobs: &JobClient, job: BatchPredictionJob) -> BatchPredictionJob {
    let _ = jobs.wait(&job.name).await;
    jobs.get(&job.name).await.unwrap()
}

async fn submit(jobs: &JobClient, input: &TableUri, output: &str) -> BatchPredictionJob {
    let job = create(jobs, input, output).await;
    ended(jobs, job).await
}

/// The job as Create answers it.
async fn create(jobs: &JobClient, input: &TableUri, output: &str) -> BatchPredictionJob {
    jobs.create(
        BatchPredictionJob::builder("gemini-2.0-flash-001")
            .with_display_name("over-tables")
            .with_input(input.to_string())
            .with_output(output),
    )
    .await
    .unwrap()
}

/// A front on loopback for bqemulator whose connections wait, unanswered, until it is opened;
/// then each is passed on. Ends with the test's runtime.
struct Gate {
    addr: SocketAddr,
    open: tokio::sync::watch::Sender<bool>,
}

impl Gate {
    async fn closed(upstream: SocketAddr) -> Gate {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (open, opened) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut opened = opened.clone();
                tokio::spawn(async move {
                    if opened.wait_for(|open| *open).await.is_err() {
                        return;
                    }
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Gate { addr, open }
    }

    fn open(&self) {
        self.open.send_replace(true);
    }
}

fn prompt(i: i64) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": format!("prompt {i}")}]}]})
}

/// A dataset in `location` and a table of `rows` prompts (`id`, `note`, `request` JSON),
/// plus `bad` rows whose request has no contents (ids from 1000).
async fn input_table(
    bigquery: &BigQuery,
    prefix: &str,
    location: &str,
    rows: i64,
    bad: i64,
) -> TableUri {
    let dataset = dataset_in(bigquery, prefix, location).await;
    let table = TableUri::new(PROJECT, &dataset, "prompts").unwrap();
    bigquery
        .create_table(
            &table,
            &[
                Column::new("id", "INT64"),
                Column::new("note", "STRING"),
                Column::new("request", "JSON"),
            ],
        )
        .await
        .unwrap();
    let mut all: Vec<Row> = (0..rows)
        .map(|i| row(json!({"id": i, "note": format!("n{i}"), "request": prompt(i)})))
        .collect();
    all.extend(
        (0..bad).map(|i| row(json!({"id": 1000 + i, "note": "bad", "request": {"contents": []}}))),
    );
    bigquery.insert_rows(&table, &all).await.unwrap();
    table
}

/// The first text of a response row's first candidate.
fn answer_text(response: &Value) -> Option<&str> {
    response
        .pointer("/candidates/0/content/parts/0/text")
        .and_then(Value::as_str)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_over_a_table_writes_the_services_columns_with_row_faults() {
    let _turn = turn().await;
    let bigquery = client(shared());
    let input = input_table(&bigquery, "faults", LOCATION, 60, 3).await;
    let (_emu, jobs) = emulator_over(|b| {
        b.with_row_failure_rate(0.1)
            .with_row_permanent_failure_rate(0.1)
            .with_seed(7)
    })
    .await;
    let output = input.sibling("results").unwrap();
    let job = submit(&jobs, &input, &output.to_string()).await;
    assert_eq!(job.state(), JobState::Succeeded, "{:?}", job.error);
    assert_eq!(
        job.output_location(),
        Some(OutputLocation::BigQueryTable(output.to_string()))
    );
    let stats = job.completion_stats.unwrap();
    assert_eq!(stats.successful_count + stats.failed_count, 63);
    assert!(stats.failed_count >= 3, "{stats:?}");

    let info = bigquery.table(&output).await.unwrap();
    let names: Vec<&str> = info.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "note",
            "status",
            "processed_time",
            "request",
            "response"
        ],
        "the input's columns, then the service's"
    );
    assert_eq!(
        info.column("processed_time").unwrap().canonical_type(),
        "TIMESTAMP"
    );
    assert_eq!(info.column("response").unwrap().canonical_type(), "JSON");

    let rows: Vec<Row> = bigquery.rows(&output).try_collect().await.unwrap();
    assert_eq!(rows.len(), 63, "one output row per input row");
    let (mut answered, mut transient, mut permanent, mut refused) = (0, 0, 0, 0);
    for row in &rows {
        let id = row["id"].as_i64().unwrap();
        let status = row["status"].as_str().unwrap();
        assert!(
            row["processed_time"].as_str().unwrap().ends_with('Z'),
            "{row:?}"
        );
        if id >= 1000 {
            assert_eq!(row["note"], "bad");
            assert!(status.starts_with("Bad Request"), "{status}");
            assert_eq!(row["response"], json!({}));
            refused += 1;
            continue;
        }
        assert_eq!(
            row["note"],
            json!(format!("n{id}")),
            "columns travel with their row"
        );
        assert_eq!(
            row["request"]["contents"][0]["parts"][0]["text"],
            json!(format!("prompt {id}"))
        );
        if status.is_empty() {
            assert_eq!(
                answer_text(&row["response"]),
                Some(format!("echo: prompt {id}").as_str()),
                "each answer belongs to its prompt"
            );
            answered += 1;
        } else {
            assert_eq!(row["response"], json!({}), "{row:?}");
            if status.starts_with("Too Many Requests") {
                transient += 1;
            } else {
                assert!(status.starts_with("Bad Request"), "{status}");
                permanent += 1;
            }
        }
    }
    assert_eq!(answered, stats.successful_count);
    assert_eq!(transient + permanent + refused, stats.failed_count);
    assert!(transient > 0 && permanent > 0, "{transient} {permanent}");
    assert_eq!(refused, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expiring_job_writes_the_rows_it_exported() {
    let _turn = turn().await;
    let bigquery = client(shared());
    let input = input_table(&bigquery, "expiry", LOCATION, 12, 0).await;
    let (_emu, jobs) = emulator_over(|b| b.with_expire_after_rows(5)).await;
    // A dataset that does not exist is made, in the job's region.
    let out_dataset = shared().dataset_name("expiry_out");
    let output = format!("bq://{PROJECT}.{out_dataset}.results");
    let job = submit(&jobs, &input, &output).await;
    assert_eq!(job.state(), JobState::Expired);
    let stats = job.completion_stats.unwrap();
    assert_eq!((stats.successful_count, stats.incomplete_count), (5, 7));
    assert_eq!(
        bigquery
            .dataset_location(PROJECT, &out_dataset)
            .await
            .unwrap(),
        LOCATION
    );
    let rows: Vec<Row> = bigquery
        .rows(&output.parse().unwrap())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_checks_fail_the_job_saying_why() {
    let _turn = turn().await;
    let bigquery = client(shared());
    let (_emu, jobs) = emulator_over(|b| b).await;

    // A multi-region input dataset.
    let us = input_table(&bigquery, "multi", "US", 2, 0).await;
    let job = submit(&jobs, &us, &us.sibling("out").unwrap().to_string()).await;
    assert_eq!(job.state(), JobState::Failed);
    let message = job.error.unwrap().message;
    assert!(message.contains("multi-region"), "{message}");

    // An input dataset in another region.
    let europe = input_table(&bigquery, "europe", "europe-west4", 2, 0).await;
    let job = submit(&jobs, &europe, &europe.sibling("out").unwrap().to_string()).await;
    assert_eq!(job.state(), JobState::Failed);
    let message = job.error.unwrap().message;
    assert!(
        message.contains("is in europe-west4, not in the job's region us-central1"),
        "{message}"
    );

    // An output dataset in another region.
    let good = input_table(&bigquery, "good", LOCATION, 2, 0).await;
    let job = submit(&jobs, &good, &europe.sibling("out").unwrap().to_string()).await;
    assert_eq!(job.state(), JobState::Failed);
    let message = job.error.unwrap().message;
    assert!(message.contains("The output dataset"), "{message}");

    // No `request` column; a reserved `status` column.
    for (columns, why) in [
        (
            vec![Column::new("prompt", "STRING")],
            "has no `request` column",
        ),
        (
            vec![
                Column::new("request", "JSON"),
                Column::new("status", "STRING"),
            ],
            "has a `status` column",
        ),
        (vec![Column::new("request", "INT64")], "of type INT64"),
    ] {
        let table = good
            .sibling(&format!("t{}", columns.len() * 10 + why.len()))
            .unwrap();
        bigquery.create_table(&table, &columns).await.unwrap();
        let job = submit(&jobs, &table, &good.sibling("never").unwrap().to_string()).await;
        assert_eq!(job.state(), JobState::Failed);
        let message = job.error.unwrap().message;
        assert!(message.contains(why), "{why}: {message}");
    }
    let never = bigquery
        .table(&good.sibling("never").unwrap())
        .await
        .unwrap_err();
    assert!(
        never.is_not_found(),
        "no output for a job that failed its checks"
    );

    // A table that does not exist.
    let job = submit(
        &jobs,
        &good.sibling("missing").unwrap(),
        "bq://test-project",
    )
    .await;
    assert_eq!(job.state(), JobState::Failed);
    assert_eq!(job.error.unwrap().code, tonic::Code::NotFound as i32);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reference_pages_rest_body_leaves_a_table_to_read_back() {
    let _turn = turn().await;
    // "bq://myproject.mydataset.input_table" → "bq://myproject.mydataset.output_result".
    let bigquery = client(shared());
    bigquery
        .create_dataset("myproject", "mydataset", LOCATION)
        .await
        .unwrap();
    let input: TableUri = "bq://myproject.mydataset.input_table".parse().unwrap();
    bigquery
        .create_table(&input, &[Column::new("request", "JSON")])
        .await
        .unwrap();
    bigquery
        .insert_rows(&input, &[row(json!({"request": prompt(1)}))])
        .await
        .unwrap();
    let (emu, _) = emulator_over(|b| b.with_require_auth(false)).await;
    let jobs = client_builder(&emu)
        .with_project("myproject")
        .connect()
        .await
        .unwrap();
    let rest = super::support::rest::Rest::new(&emu);
    let created = rest
        .post(
            "/v1/projects/myproject/locations/us-central1/batchPredictionJobs",
            BIGQUERY_BODY,
        )
        .await;
    assert_eq!(created.status, 200, "{:#}", created.json);
    let name = created.json["name"].as_str().unwrap().to_owned();
    // RUNNING until the output table is written.
    jobs.wait(&name).await.unwrap();
    let job = rest.get(&format!("/v1/{name}")).await;
    assert_eq!(job.json["state"], "JOB_STATE_SUCCEEDED", "{:#}", job.json);
    let rows: Vec<Row> = bigquery
        .rows(&"bq://myproject.mydataset.output_result".parse().unwrap())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "");
    assert_eq!(answer_text(&rows[0]["response"]), Some("echo: prompt 1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bigquery_that_is_down_fails_the_job_saying_where() {
    let _turn = turn().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = listener.local_addr().unwrap();
    drop(listener);
    let (_emu, jobs) = emulator_over(|b| b.with_bigquery_endpoint(dead.to_string())).await;
    let input: TableUri = format!("bq://{PROJECT}.anywhere.prompts").parse().unwrap();
    let job = submit(&jobs, &input, "bq://test-project.anywhere.out").await;
    assert_eq!(job.state(), JobState::Failed);
    let message = job.error.unwrap().message;
    assert!(message.contains(&dead.to_string()), "{message}");
    assert!(message.contains("BIGQUERY_EMULATOR_HOST"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_over_a_table_is_running_until_its_output_table_is_written() {
    let _turn = turn().await;
    let bigquery = client(shared());
    let input = input_table(&bigquery, "running", LOCATION, 1_200, 0).await;
    // No time to run: the job is past its running time as Create answers it.
    let (_emu, jobs) = emulator_over(|b| b).await;
    let output = input.sibling("results").unwrap();
    let created = create(&jobs, &input, &output.to_string()).await;
    // Create started the writing and answered at once (it used to write the table first,
    // under the lock every call takes, and answer SUCCEEDED).
    assert_eq!(created.state(), JobState::Running);
    assert!(created.end_time.is_none(), "{:?}", created.end_time);

    let job = ended(&jobs, created).await;
    assert_eq!(job.state(), JobState::Succeeded, "{:?}", job.error);
    assert!(job.end_time.is_some());
    let stats = job.completion_stats.unwrap();
    assert_eq!((stats.successful_count, stats.failed_count), (1_200, 0));
    let mut ids: Vec<i64> = bigquery
        .rows(&output)
        .map_ok(|row| row["id"].as_i64().unwrap())
        .try_collect()
        .await
        .unwrap();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (0..1_200).collect::<Vec<_>>(),
        "every row written once before SUCCEEDED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_answer_while_a_job_over_a_table_writes_and_a_cancel_is_taken() {
    let _turn = turn().await;
    let bigquery = client(shared());
    let input = input_table(&bigquery, "gated", LOCATION, 1_200, 0).await;
    // The emulator's BigQuery is a gate that holds every request until the test opens it: the
    // job cannot get past its first call to BigQuery meanwhile.
    let gate = Gate::closed(shared().host().parse().unwrap()).await;
    let (_emu, jobs) = emulator_over(|b| {
        b.with_bigquery_endpoint(gate.addr.to_string())
            .with_cancel_duration(Duration::ZERO)
    })
    .await;
    let output = input.sibling("results").unwrap();
    let writing = create(&jobs, &input, &output.to_string()).await;
    assert_eq!(writing.state(), JobState::Running);

    // Every other call answers while the job writes.
    let other = jobs.create(gcs_job("no-files")).await.unwrap();
    let other = jobs.get(&other.name).await.unwrap();
    assert_eq!(
        other.state(),
        JobState::Succeeded,
        "a job with no files to read"
    );
    let seen = jobs.get(&writing.name).await.unwrap();
    assert_eq!(
        seen.state(),
        JobState::Running,
        "RUNNING while the output is written"
    );
    assert!(seen.end_time.is_none());
    let running: Vec<BatchPredictionJob> = jobs
        .list(vertex_batch::JobFilter::new().with_state(JobState::Running))
        .try_collect()
        .await
        .unwrap();
    let names: Vec<&str> = running.iter().map(|job| job.name.as_str()).collect();
    assert_eq!(names, [writing.name.as_str()], "List's state filter agrees");
    let refused = jobs.delete(&writing.name).await.unwrap_err();
    assert!(
        refused.to_string().contains("JOB_STATE_RUNNING"),
        "a job writing its output has not ended: {refused}"
    );

    // A job cancelled while it writes is taken as a running job's cancel: CANCELLED, and its
    // writer stops before its next batch.
    let cancelled = create(
        &jobs,
        &input,
        &input.sibling("cancelled").unwrap().to_string(),
    )
    .await;
    assert_eq!(cancelled.state(), JobState::Running);
    jobs.cancel(&cancelled.name).await.unwrap();
    let cancelled = jobs.get(&cancelled.name).await.unwrap();
    assert_eq!(cancelled.state(), JobState::Cancelled);

    gate.open();
    let job = ended(&jobs, writing).await;
    assert_eq!(job.state(), JobState::Succeeded, "{:?}", job.error);
    assert_eq!(job.completion_stats.unwrap().successful_count, 1_200);
    let rows: Vec<Row> = bigquery.rows(&output).try_collect().await.unwrap();
    assert_eq!(rows.len(), 1_200);
    let cancelled = jobs.get(&cancelled.name).await.unwrap();
    assert_eq!(
        cancelled.state(),
        JobState::Cancelled,
        "whatever its writer did"
    );
}

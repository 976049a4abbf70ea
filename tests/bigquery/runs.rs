//! Runs over tables (`BatchRun::run_tables`) against our emulator and bqemulator on loopback:
//! the results table holds one row per input row whatever the jobs wrote, and bad input is
//! refused before any job exists.

use std::time::Duration;

use vertex_batch::bigquery::{BigQuery, Column, TableUri};
use vertex_batch::emulator::Emulator;
use vertex_batch::run::{BatchRun, RunSummary, Tables};
use vertex_batch::storage::Storage;
use vertex_batch::{JobClient, Result};

use super::support::bigquery::{shared, turn};
use super::support::client::start_with_storage;
use super::{LOCATION, PROJECT, count, dataset_in};

const MODEL: &str = "gemini-2.0-flash-001";

/// A table `name` of `dataset` with `rows` prompts: `id` (`key-0`, ...), `n`, `request`.
async fn prompts_table(bigquery: &BigQuery, dataset: &str, name: &str, rows: u64) -> TableUri {
    let table = TableUri::new(PROJECT, dataset, name).unwrap();
    bigquery
        .create_table(
            &table,
            &[
                Column::new("id", "STRING"),
                Column::new("n", "INT64"),
                Column::new("request", "JSON"),
            ],
        )
        .await
        .unwrap();
    bigquery
        .query(
            PROJECT,
            &format!(
                "INSERT INTO {} (id, n, request) SELECT CONCAT('key-', CAST(x AS STRING)), x, \
                 JSON_OBJECT('contents', [JSON_OBJECT('role', 'user', 'parts', \
                 [JSON_OBJECT('text', CONCAT('prompt number ', CAST(x AS STRING)))])]) \
                 FROM UNNEST(GENERATE_ARRAY(0, {})) AS x",
                table.sql(),
                rows - 1
            ),
        )
        .await
        .unwrap();
    table
}

/// The tables of `dataset`, by name, sorted.
async fn tables_of(bigquery: &BigQuery, dataset: &str) -> Vec<String> {
    let mut names: Vec<String> = bigquery
        .list_tables(PROJECT, dataset)
        .await
        .unwrap()
        .iter()
        .map(|table| table.table().to_owned())
        .collect();
    names.sort();
    names
}

fn run(client: &JobClient, storage: &Storage, staging: &str) -> BatchRun {
    BatchRun::new(
        client.clone(),
        storage.clone(),
        MODEL,
        staging.parse().unwrap(),
    )
}

async fn run_tables(run: BatchRun, bigquery: &BigQuery, tables: Tables) -> Result<RunSummary> {
    // Boxed: a run's future is large.
    Box::pin(run.run_tables(bigquery.clone(), tables)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_a_job_never_wrote_are_tried_again_then_reported_one_result_row_each() {
    // One test at a time at the shared bqemulator (support::bigquery::turn).
    let _turn = turn().await;
    // Without a BigQuery endpoint the emulator's table jobs succeed and write nothing: every
    // row is missing from every round, and still has exactly one results row saying why.
    let (emu, client, storage) = start_with_storage(|b| b).await;
    let bigquery = client_of_shared();
    let dataset = dataset_in(&bigquery, "run_nothing", LOCATION).await;
    let input = prompts_table(&bigquery, &dataset, "input", 50).await;
    let results = input.sibling("results").unwrap();
    let summary = run_tables(
        run(&client, &storage, "gs://runs/nothing").with_max_requests_per_job(20),
        &bigquery,
        Tables::new(input.clone(), "id", results.clone()),
    )
    .await
    .unwrap();
    assert_eq!(
        (summary.rows, summary.answered, summary.failed),
        (50, 0, 50)
    );
    assert_eq!(summary.rounds, 3, "round 0 and two follow-ups");
    assert_eq!(summary.missing_rows, 150, "each row missing in each round");
    assert_eq!(summary.failed_by_code.get(&500), Some(&50));
    assert_eq!(summary.jobs as usize, emu.job_count());
    assert_eq!(
        count(
            &bigquery,
            &format!("SELECT COUNT(*) FROM {}", results.sql())
        )
        .await,
        50
    );
    assert_eq!(
        count(
            &bigquery,
            &format!(
                "SELECT COUNT(*) FROM {r} r JOIN {i} i ON i.id = r.id AND i.n = r.n \
                 WHERE r.error.code = 500 AND r.error.transient AND r.text IS NULL \
                 AND r.error.message LIKE 'no output line for this request in job %'",
                r = results.sql(),
                i = input.sql()
            )
        )
        .await,
        50,
        "every input row once, with its columns and why it has no answer"
    );

    // `status` reads a run over tables as it reads a file run: its rounds and jobs.
    let view =
        vertex_batch::run::RunView::read(&client, &storage, &"gs://runs/nothing".parse().unwrap())
            .await
            .unwrap();
    assert_eq!(view.rows, 50);
    assert_eq!(view.rounds.len(), 3);
    assert_eq!(
        view.rounds.iter().map(|r| r.jobs.len()).sum::<usize>(),
        emu.job_count()
    );
    assert!(view.lease.is_none(), "released at the end");
    assert_eq!(
        tables_of(&bigquery, &dataset).await,
        ["input", "results"],
        "the run's scratch tables are dropped at its end"
    );

    // Started again after its end (its tables dropped), the same run makes no job, leaves
    // the results table as it was and gives the same summary.
    let jobs = emu.job_count();
    let again = run_tables(
        run(&client, &storage, "gs://runs/nothing").with_max_requests_per_job(20),
        &bigquery,
        Tables::new(input.clone(), "id", results.clone()),
    )
    .await
    .unwrap();
    assert_eq!(emu.job_count(), jobs, "no second job for a shard and round");
    assert_eq!(again, summary);
    assert_eq!(tables_of(&bigquery, &dataset).await, ["input", "results"]);

    // Its results table dropped since, the run says so rather than failing on a missing table.
    bigquery.delete_table(&results).await.unwrap();
    let err = run_tables(
        run(&client, &storage, "gs://runs/nothing").with_max_requests_per_job(20),
        &bigquery,
        Tables::new(input, "id", results.clone()),
    )
    .await
    .unwrap_err();
    assert!(
        err.is_invalid_input() && err.to_string().contains("is gone since"),
        "{err}"
    );
    emu.shutdown().await;
}

/// The error of a run over `input` that must be refused before any job.
async fn refused(input: &TableUri, key: &str, results: &TableUri) -> String {
    let (emu, client, storage) = start_with_storage(|b| b).await;
    let err = run_tables(
        run(&client, &storage, "gs://runs/refused"),
        &client_of_shared(),
        Tables::new(input.clone(), key, results.clone()),
    )
    .await
    .unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    assert_eq!(emu.job_count(), 0, "no job before the refusal: {err}");
    emu.shutdown().await;
    err.to_string()
}

fn client_of_shared() -> BigQuery {
    super::client(shared())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_without_a_request_column_is_refused_before_any_job() {
    // One test at a time at the shared bqemulator (support::bigquery::turn).
    let _turn = turn().await;
    let bigquery = client_of_shared();
    let dataset = dataset_in(&bigquery, "run_no_request", LOCATION).await;
    let input = TableUri::new(PROJECT, &dataset, "input").unwrap();
    bigquery
        .query(
            PROJECT,
            &format!(
                "CREATE TABLE {} AS SELECT 'a' AS id, 'hello' AS prompt",
                input.sql()
            ),
        )
        .await
        .unwrap();
    let err = refused(&input, "id", &input.sibling("results").unwrap()).await;
    assert!(err.contains("has no `request` column"), "{err}");
    assert!(err.contains("`id`, `prompt`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_or_missing_key_is_refused_before_any_job() {
    // One test at a time at the shared bqemulator (support::bigquery::turn).
    let _turn = turn().await;
    let bigquery = client_of_shared();
    let dataset = dataset_in(&bigquery, "run_dup", LOCATION).await;
    let input = prompts_table(&bigquery, &dataset, "input", 10).await;
    bigquery
        .query(
            PROJECT,
            &format!(
                "INSERT INTO {} (id, n, request) SELECT id, 99, request FROM {} WHERE n = 3",
                input.sql(),
                input.sql()
            ),
        )
        .await
        .unwrap();
    let results = input.sibling("results").unwrap();
    let err = refused(&input, "id", &results).await;
    assert!(
        err.contains("`id` is not unique") && err.contains("\"key-3\" is the key of 2 rows"),
        "{err}"
    );
    let err = refused(&input, "nope", &results).await;
    assert!(err.contains("has no column `nope`"), "{err}");
    let err = refused(&input, "request", &results).await;
    assert!(err.contains("`request` is JSON"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_in_another_region_than_the_job_is_refused_before_any_job() {
    // One test at a time at the shared bqemulator (support::bigquery::turn).
    let _turn = turn().await;
    let bigquery = client_of_shared();
    let far = dataset_in(&bigquery, "run_far", "europe-west4").await;
    let input = prompts_table(&bigquery, &far, "input", 5).await;
    let near = dataset_in(&bigquery, "run_near", LOCATION).await;
    let results = TableUri::new(PROJECT, &near, "results").unwrap();
    let err = refused(&input, "id", &results).await;
    assert!(
        err.contains("its dataset is in europe-west4, the job in us-central1"),
        "{err}"
    );
    // The results' dataset too.
    let input = prompts_table(&bigquery, &near, "input", 5).await;
    let err = refused(
        &input,
        "id",
        &TableUri::new(PROJECT, &far, "results").unwrap(),
    )
    .await;
    assert!(err.contains("invalid results:"), "{err}");
    // And a multi-region input, which batch jobs do not read.
    let multi = dataset_in(&bigquery, "run_multi", "US").await;
    let input = prompts_table(&bigquery, &multi, "input", 5).await;
    let err = refused(&input, "id", &results).await;
    assert!(err.contains("multi-region US"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_results_table_holding_other_rows_is_refused_before_any_job() {
    // One test at a time at the shared bqemulator (support::bigquery::turn).
    let _turn = turn().await;
    let bigquery = client_of_shared();
    let dataset = dataset_in(&bigquery, "run_taken", LOCATION).await;
    let input = prompts_table(&bigquery, &dataset, "input", 5).await;
    let results = prompts_table(&bigquery, &dataset, "results", 3).await;
    let err = refused(&input, "id", &results).await;
    assert!(
        err.contains("exists and holds rows no run of this input wrote"),
        "{err}"
    );
    // Nothing was written over.
    assert_eq!(
        count(
            &bigquery,
            &format!("SELECT COUNT(*) FROM {}", results.sql())
        )
        .await,
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_at_every_step_and_started_again_makes_one_job_per_shard_and_round() {
    // One test at a time at the shared bqemulator (support::bigquery::turn).
    let _turn = turn().await;
    let (emu, client, storage) = start_with_storage(|b| b).await;
    let bigquery = client_of_shared();
    let dataset = dataset_in(&bigquery, "run_stops", LOCATION).await;
    let input = prompts_table(&bigquery, &dataset, "input", 30).await;
    let results = input.sibling("results").unwrap();
    let tables = Tables::new(input, "id", results.clone());
    // Start k stops at the run's k-th report (after a statement, a job made or seen, a
    // manifest written); each start resumes where the last one stopped.
    let mut stops = 0;
    let mut kept = false;
    let summary = loop {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let tx = std::sync::Mutex::new(Some(tx));
        let reports = std::sync::atomic::AtomicUsize::new(0);
        let stop_at = stops + 1;
        let started = run(&client, &storage, "gs://runs/stops")
            .with_max_requests_per_job(10)
            .with_progress(move |_| {
                if reports.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == stop_at
                    && let Some(tx) = tx.lock().unwrap().take()
                {
                    let _ = tx.send(());
                }
            })
            .with_stop_signal(async move {
                let _ = rx.await;
            });
        match run_tables(started, &bigquery, tables.clone()).await {
            Ok(summary) => break summary,
            Err(err) => {
                assert!(err.is_run_stopped(), "{err}");
                stops += 1;
                kept |= tables_of(&bigquery, &dataset).await.len() > 2;
            }
        }
    };
    assert!(stops >= 5, "the run was stopped at {stops} steps");
    assert!(kept, "a stopped run keeps its scratch tables, to resume");
    assert_eq!(tables_of(&bigquery, &dataset).await, ["input", "results"]);
    assert_eq!(
        summary.jobs as usize,
        emu.job_count(),
        "one job per shard and round over {stops} stops"
    );
    assert_eq!(summary.rows, 30);
    assert_eq!(
        count(
            &bigquery,
            &format!("SELECT COUNT(*) FROM {}", results.sql())
        )
        .await,
        30
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_rows_three_shards_row_faults_and_an_expired_job_one_result_row_each() {
    // One test at a time at the shared bqemulator (support::bigquery::turn).
    let _turn = turn().await;
    let bq = shared();
    let (emu, client, storage) = start_with_storage(|b| {
        b.with_bigquery_endpoint(bq.host())
            .with_row_failure_rate(0.05)
            .with_row_permanent_failure_rate(0.01)
            .with_expire_after_rows(2_000)
            .with_seed(11)
    })
    .await;
    let bigquery = client_of_shared();
    let dataset = dataset_in(&bigquery, "run_ten_k", LOCATION).await;
    let input = prompts_table(&bigquery, &dataset, "input", 10_000).await;
    let results = input.sibling("results").unwrap();
    let summary = run_tables(
        run(&client, &storage, "gs://runs/ten-k-tables").with_max_requests_per_job(4_000),
        &bigquery,
        Tables::new(input.clone(), "id", results.clone()),
    )
    .await
    .unwrap();

    let jobs: Vec<_> =
        futures_util::TryStreamExt::try_collect(client.list(vertex_batch::JobFilter::new()))
            .await
            .unwrap();
    assert_eq!(
        jobs.len() as u64,
        summary.jobs,
        "one job per shard and round"
    );
    let first_round = jobs
        .iter()
        .filter(|job| job.display_name.contains("-r0-"))
        .count();
    assert_eq!(first_round, 3, "3 shards of at most 4,000 rows");
    assert!(
        jobs.iter()
            .any(|job| job.state() == vertex_batch::v1::JobState::Expired),
        "one job expired half done"
    );

    let (r, i) = (results.sql(), input.sql());
    let n = |sql: String| {
        let bigquery = bigquery.clone();
        async move { count(&bigquery, &sql).await }
    };
    assert_eq!(n(format!("SELECT COUNT(*) FROM {r}")).await, 10_000);
    assert_eq!(
        n(format!("SELECT COUNT(DISTINCT id) FROM {r}")).await,
        10_000
    );
    assert_eq!(
        n(format!("SELECT COUNT(*) FROM {r} r JOIN {i} i ON i.id = r.id AND i.n = r.n AND TO_JSON_STRING(i.request) = TO_JSON_STRING(r.request)")).await,
        10_000,
        "every input row once, with its columns"
    );
    assert_eq!(summary.rows, 10_000);
    assert_eq!(summary.answered + summary.failed, 10_000);
    assert_eq!(
        n(format!("SELECT COUNT(*) FROM {r} WHERE error IS NULL")).await,
        summary.answered
    );
    assert_eq!(
        n(format!(
            "SELECT COUNT(*) FROM {r} WHERE error IS NULL \
             AND text = CONCAT('echo: prompt number ', CAST(n AS STRING)) \
             AND CAST(JSON_VALUE(response, '$.usageMetadata.totalTokenCount') AS INT64) > 0"
        ))
        .await,
        summary.answered,
        "each answer belongs to its prompt"
    );
    let permanent = n(format!(
        "SELECT COUNT(*) FROM {r} WHERE error.code = 400 AND NOT error.transient \
         AND error.status LIKE 'Bad Request: %' AND response IS NULL AND text IS NULL"
    ))
    .await;
    assert!(permanent > 50, "about 1% of 10,000: {permanent}");
    assert_eq!(
        summary.failed_by_code.get(&400).copied().unwrap_or(0),
        permanent
    );
    assert_eq!(
        n(format!(
            "SELECT COUNT(*) FROM {r} WHERE error IS NOT NULL AND NOT \
             (error.code = 400 OR (error.code = 429 AND error.transient))"
        ))
        .await,
        0,
        "a failure is permanent (400) or a 429 in every round"
    );
    assert!(
        summary.missing_rows > 0,
        "the expired job's rows: {summary:?}"
    );
    assert_eq!((summary.repeated_lines, summary.unexpected_lines), (0, 0));
    assert!(summary.usage.total_token_count > 0);
    assert_eq!(
        tables_of(&bigquery, &dataset).await,
        ["input", "results"],
        "every round's rows, shards and job outputs dropped at the end"
    );
    emu.shutdown().await;
}

/// The emulator with a BigQuery endpoint (jobs answer every row) whose first job stays queued.
async fn vertex_with_a_stuck_job() -> (Emulator, JobClient, Storage) {
    let bq = shared();
    start_with_storage(|b| b.with_bigquery_endpoint(bq.host()).with_stuck_jobs(1)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_queued_past_the_queue_deadline_is_cancelled_and_its_rows_go_again_or_get_408() {
    // One test at a time at the shared bqemulator (support::bigquery::turn).
    let _turn = turn().await;
    let bigquery = client_of_shared();
    let dataset = dataset_in(&bigquery, "run_queued", LOCATION).await;
    let input = prompts_table(&bigquery, &dataset, "input", 20).await;

    // A follow-up round left: the stuck job's rows are answered by another job.
    let (emu, client, storage) = vertex_with_a_stuck_job().await;
    let results = input.sibling("results").unwrap();
    let summary = run_tables(
        run(&client, &storage, "gs://runs/queued")
            .with_max_requests_per_job(10)
            .with_queue_deadline(Duration::ZERO),
        &bigquery,
        Tables::new(input.clone(), "id", results.clone()),
    )
    .await
    .unwrap();
    assert_eq!((summary.answered, summary.rounds), (20, 2), "{summary:?}");
    assert_eq!(summary.jobs_past_queue_deadline, 1);
    assert_eq!(
        emu.job_count() as u64,
        summary.jobs,
        "round 0's, and one for the stuck one's rows"
    );
    assert_eq!(
        count(
            &bigquery,
            &format!("SELECT COUNTIF(error IS NULL) FROM {}", results.sql())
        )
        .await,
        20
    );
    emu.shutdown().await;

    // No round left: its rows are reported with 408, transient.
    let (emu, client, storage) = vertex_with_a_stuck_job().await;
    let results = input.sibling("results_408").unwrap();
    let summary = run_tables(
        run(&client, &storage, "gs://runs/queued-408")
            .with_max_requests_per_job(10)
            .with_retry_rounds(0)
            .with_queue_deadline(Duration::ZERO),
        &bigquery,
        Tables::new(input, "id", results.clone()),
    )
    .await
    .unwrap();
    let stuck = summary.failed_by_code.get(&408).copied().unwrap_or(0);
    assert!(stuck > 0, "{summary:?}");
    assert_eq!(summary.answered + stuck, 20, "{summary:?}");
    assert_eq!(
        count(
            &bigquery,
            &format!(
                "SELECT COUNT(*) FROM {} WHERE error.code = 408 AND error.transient \
                 AND error.message LIKE 'job % was still queued after the queue deadline%'",
                results.sql()
            )
        )
        .await,
        stuck
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_run_deadline_live_jobs_are_cancelled_rows_get_504_and_a_start_again_goes_on() {
    // One test at a time at the shared bqemulator (support::bigquery::turn).
    let _turn = turn().await;
    let bigquery = client_of_shared();
    let dataset = dataset_in(&bigquery, "run_deadline", LOCATION).await;
    let input = prompts_table(&bigquery, &dataset, "input", 30).await;
    let results = input.sibling("results").unwrap();
    let tables = Tables::new(input, "id", results.clone());
    let (emu, client, storage) = vertex_with_a_stuck_job().await;
    let make = || {
        run(&client, &storage, "gs://runs/deadline")
            .with_max_requests_per_job(10)
            .with_max_running_jobs(1)
    };
    let summary = run_tables(
        make().with_run_deadline(Duration::ZERO),
        &bigquery,
        tables.clone(),
    )
    .await
    .unwrap();
    assert_eq!(emu.job_count(), 1, "no job created past the deadline");
    assert_eq!(summary.failed_by_code.get(&504), Some(&30), "{summary:?}");
    assert!(
        summary
            .ended
            .as_deref()
            .unwrap()
            .contains("deadline passed")
    );
    assert_eq!(
        count(
            &bigquery,
            &format!(
                "SELECT COUNT(*) FROM {} WHERE error.code = 504 \
                 AND STARTS_WITH(error.message, \"the run's deadline passed\")",
                results.sql()
            )
        )
        .await,
        30
    );
    assert!(
        tables_of(&bigquery, &dataset).await.len() > 2,
        "past its deadline a run is not at its end: its tables stay"
    );

    // Started again with no deadline, it goes on: the cancelled job's rows keep their 504, the
    // shards that had no job get one.
    let again = run_tables(make(), &bigquery, tables).await.unwrap();
    assert_eq!(emu.job_count() as u64, again.jobs);
    let cancelled = again.failed_by_code.get(&504).copied().unwrap_or(0);
    assert!(cancelled > 0 && again.jobs > 1, "{again:?}");
    assert_eq!(again.answered + cancelled, 30, "{again:?}");
    assert_eq!(again.ended, None);
    assert_eq!(tables_of(&bigquery, &dataset).await, ["input", "results"]);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_cancels_the_live_job_makes_none_and_gives_499_and_a_start_again_the_same() {
    // One test at a time at the shared bqemulator (support::bigquery::turn).
    let _turn = turn().await;
    let bigquery = client_of_shared();
    let dataset = dataset_in(&bigquery, "run_end", LOCATION).await;
    let input = prompts_table(&bigquery, &dataset, "input", 30).await;
    let results = input.sibling("results").unwrap();
    let tables = Tables::new(input, "id", results.clone());
    let (emu, client, storage) = vertex_with_a_stuck_job().await;
    let make = || {
        run(&client, &storage, "gs://runs/end")
            .with_max_requests_per_job(10)
            .with_max_running_jobs(1)
    };
    // Nothing started there: nothing to end, refused before anything is made.
    let err = run_tables(make().end(), &bigquery, tables.clone())
        .await
        .unwrap_err();
    assert!(
        err.is_invalid_input() && err.to_string().contains("no run is staged there to end"),
        "{err}"
    );
    assert_eq!(tables_of(&bigquery, &dataset).await, ["input"]);

    // Started, and stopped while its first job is stuck in the queue.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = std::sync::Mutex::new(Some(tx));
    let started = make()
        .with_progress(move |p| {
            if p.phase == vertex_batch::run::RunPhase::Running
                && !p.live_jobs.is_empty()
                && let Some(tx) = tx.lock().unwrap().take()
            {
                let _ = tx.send(());
            }
        })
        .with_stop_signal(async move {
            let _ = rx.await;
        });
    let err = run_tables(started, &bigquery, tables.clone())
        .await
        .unwrap_err();
    assert!(err.is_run_stopped(), "{err}");
    assert_eq!(emu.job_count(), 1);

    // Ended for good: the stuck job is cancelled, no other job is made.
    let ended = run_tables(make().end(), &bigquery, tables.clone())
        .await
        .unwrap();
    assert_eq!(emu.job_count(), 1, "an end creates nothing");
    assert!(ended.ended.is_some());
    assert_eq!(ended.answered, 0);
    assert_eq!(ended.failed_by_code.get(&499), Some(&30), "{ended:?}");
    assert!(
        ended.missing_rows > 0 && ended.missing_rows < 30,
        "the cancelled job's rows are missing from its output, not those of jobs never made: \
         {ended:?}"
    );
    let jobs: Vec<_> =
        futures_util::TryStreamExt::try_collect(client.list(vertex_batch::JobFilter::new()))
            .await
            .unwrap();
    assert_eq!(jobs[0].state(), vertex_batch::v1::JobState::Cancelled);
    assert_eq!(
        count(
            &bigquery,
            &format!(
                "SELECT COUNT(*) FROM {} WHERE error.code = 499 AND NOT error.transient \
                 AND STARTS_WITH(error.message, 'the run was ended')",
                results.sql()
            )
        )
        .await,
        30
    );
    assert_eq!(tables_of(&bigquery, &dataset).await, ["input", "results"]);

    // Started again after the end: nothing made, the same summary.
    let again = run_tables(make(), &bigquery, tables).await.unwrap();
    assert_eq!(emu.job_count(), 1);
    assert_eq!(again, ended);
    emu.shutdown().await;
}

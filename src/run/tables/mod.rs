//! Runs over tables (feature `bigquery`): [`BatchRun::run_tables`] runs a BigQuery table of
//! requests through batch jobs into a results table, where no row passes through the client.
//!
//! For data that already lives in BigQuery, downloading it, staging it as files and joining
//! the answers on one host is the slow way: BigQuery can shard, select and join the rows where
//! they are. Here every step on rows is SQL (`sql.rs`): round 0's rows and their buckets
//! (a hash of the key), shards as ranges of buckets under the per-job limit (`plan.rs`, from
//! the bucket sizes alone), each follow-up round's rows (failed with a transient status, or
//! left undone by a job that expired, was cancelled or partly succeeded), and the results
//! table: one row per input row, its columns then `text`, `response` and `error`, each answer
//! joined on the key the job's output table carries and checked by the row id inside the
//! echoed request. The client reads counts, bucket sizes and sums, never a row.
//!
//! **The manifest and the lease stay in Cloud Storage.** A run over tables takes a `gs://`
//! staging prefix as a file run does, and keeps its `manifest.json` and `lease.json` there:
//! Cloud Storage's generation preconditions are what make one writer of each certain, and
//! BigQuery has no conditional write of a small object to put in their place. The run's tables
//! live beside the results table (`layout.rs`), in its dataset, which as the jobs' output is in
//! their region. A run killed at any step and started again finds its jobs by request id and
//! remakes no table (`CREATE TABLE IF NOT EXISTS` over tables that no longer change). Those
//! tables are scratch: once the results table is written, the manifest records the run's end
//! (with the counts the summary read from them) and every one is dropped, so the dataset keeps
//! the input and the results; a run that fails or is stopped keeps them to resume, and one
//! started again after its end drops any left and gives the same summary.
//!
//! Deadlines and an end are a file run's (`run/rounds.rs`): a job still queued past the queue
//! deadline is cancelled and its rows go to the next round (408 with none left); past the run's
//! deadline live jobs are cancelled, none is created and the rows left get 504 in the results
//! table, the tables kept so that a start again goes on; [`BatchRun::end`] ends a started run
//! for good (499), and drops its tables as any end does.
//!
//! ```no_run
//! # async fn run(client: vertex_batch::JobClient, storage: vertex_batch::storage::Storage) -> vertex_batch::Result<()> {
//! use vertex_batch::bigquery::BigQuery;
//! use vertex_batch::run::{BatchRun, Tables};
//!
//! let bigquery = BigQuery::builder().with_tokens_of(client.channel()).build()?;
//! let tables = Tables::new(
//!     "bq://my-project.prompts.input".parse()?,
//!     "id",
//!     "bq://my-project.prompts.results".parse()?,
//! );
//! let summary = BatchRun::new(client, storage, "gemini-2.0-flash-001", "gs://my-bucket/runs/1".parse()?)
//!     .run_tables(bigquery, tables)
//!     .await?;
//! println!("{} answered, {} failed", summary.answered, summary.failed);
//! # Ok(()) }
//! ```

mod bq;
mod check;
mod driver;
mod layout;
mod plan;
mod rounds;
mod sql;

use crate::bigquery::{BigQuery, TableUri};
use crate::error::Result;
use crate::run::{BatchRun, RunSummary};

/// The tables of a run: the input (a `request` column and a key column), and the results
/// table to write (in the same region; made by the run, never written over if another run or
/// anyone else made it).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tables {
    /// The requests: `bq://project.dataset.table`.
    pub input: TableUri,
    /// The input's column whose values name its rows: unique, never NULL (STRING, INT64,
    /// NUMERIC, BIGNUMERIC or DATE).
    pub key_column: String,
    /// The results table: one row per input row.
    pub results: TableUri,
}

impl Tables {
    /// The run of `input`'s rows, keyed by `key_column`, into `results`.
    ///
    /// ```
    /// use vertex_batch::run::Tables;
    ///
    /// let tables = Tables::new("bq://my-project.d.input".parse()?, "id", "bq://my-project.d.results".parse()?);
    /// assert_eq!(tables.key_column, "id");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn new(input: TableUri, key_column: impl Into<String>, results: TableUri) -> Self {
        Tables {
            input,
            key_column: key_column.into(),
            results,
        }
    }
}

impl BatchRun {
    /// Runs the rows of `tables.input` into `tables.results`, every step on rows in BigQuery
    /// (shards, follow-up rounds and the results are SQL; no row passes through the client);
    /// gives the run's summary once the results table is written and the run's scratch tables
    /// beside it are dropped. The run's limits, deadlines, end, lease, progress and stop signal
    /// are this `BatchRun`'s; its manifest and lease live in its `gs://` staging prefix.
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) before any job for bad input: no
    /// `request` column, a key column that is missing, NULL or not unique, a dataset in another
    /// region than the job (or a multi-region input), a results table that exists and was not
    /// written by this run, an [end](BatchRun::end) where no run was started, a run that
    /// reached its end whose results table is gone since;
    /// [`Error::RunStopped`](crate::Error::RunStopped) when the stop signal fires (the scratch
    /// tables stay); the errors of the Vertex AI, Cloud Storage and BigQuery calls after their
    /// retries (the run can be started again and resumes).
    pub async fn run_tables(self, bigquery: BigQuery, tables: Tables) -> Result<RunSummary> {
        self.check()?;
        Box::pin(driver::run(self, bigquery, tables)).await
    }
}

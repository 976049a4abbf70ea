//! What a run over tables asks of BigQuery: statements run where the run's tables are, and the
//! few numbers it reads back (counts, bucket sizes, sums), tables dropped. Nothing here reads a
//! table's rows.

use futures_util::TryStreamExt;
use serde_json::Value;

use crate::bigquery::{BigQuery, Query, Row, TableInfo, TableUri};
use crate::error::{Error, Result};

/// The BigQuery client of a run, and where its statements run.
#[derive(Clone, Debug)]
pub(crate) struct Bq {
    pub(crate) client: BigQuery,
    /// The project whose jobs run the statements: the results table's.
    pub(crate) project: String,
    /// The datasets' location (the job's region).
    pub(crate) location: String,
}

impl Bq {
    /// Runs a statement that makes a table (or reads nothing back).
    pub(crate) async fn run(&self, sql: String) -> Result<()> {
        tracing::debug!(target: "vertex_batch::run::step", %sql, "BigQuery statement");
        self.client
            .query_with(&self.project, Query::new(sql).with_location(&self.location))
            .await
            .map(drop)
    }

    /// Runs a query whose answer is a few rows of numbers.
    pub(crate) async fn rows(&self, sql: String) -> Result<Vec<Row>> {
        tracing::debug!(target: "vertex_batch::run::step", %sql, "BigQuery query");
        let job = self
            .client
            .query_with(&self.project, Query::new(sql).with_location(&self.location))
            .await?;
        self.client.query_rows(&job).try_collect().await
    }

    /// The one row of a query.
    pub(crate) async fn row(&self, sql: String) -> Result<Row> {
        self.rows(sql)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("a BigQuery aggregate query gave no row"))
    }

    /// Drops `table` if it exists.
    pub(crate) async fn drop_table(&self, table: &TableUri) -> Result<()> {
        match self.client.delete_table(table).await {
            Err(err) if err.is_not_found() => Ok(()),
            other => other,
        }
    }

    /// A table's metadata, `None` when it does not exist.
    pub(crate) async fn table(&self, table: &TableUri) -> Result<Option<TableInfo>> {
        match self.client.table(table).await {
            Ok(info) => Ok(Some(info)),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// A count or sum of a row, 0 when NULL.
pub(crate) fn number(row: &Row, column: &str) -> u64 {
    match row.get(column) {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// A signed number of a row (a fingerprint), 0 when NULL.
pub(crate) fn signed(row: &Row, column: &str) -> i64 {
    match row.get(column) {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

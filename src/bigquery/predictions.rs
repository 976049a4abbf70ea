//! A batch job's output table read as predictions: each row's `status`, `processed_time`,
//! `request` and `response` (the service's columns, after the input's own) as a
//! [`Prediction`], and the same [`Summary`] a predictions file gives.

use std::path::Path;
use std::pin::Pin;

use futures_util::{Stream, StreamExt, TryStreamExt};
use serde_json::Value;

use super::{BigQuery, TableUri};
use crate::batch_file::{Prediction, Summary};
use crate::error::{Error, Result};

/// Predictions read from a table, in the order its rows are read. From
/// [`BigQuery::predictions`].
pub type PredictionStream = Pin<Box<dyn Stream<Item = Result<Prediction>> + Send>>;

impl BigQuery {
    /// The rows of a batch job's output table as predictions, page by page: the table is
    /// checked to have the service's `status` and `response` columns first.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] (field `table`) for a table without those columns, or a row
    /// whose `response` is not a `GenerateContentResponse` (naming the row); the service's
    /// errors as [`Error::BigQuery`].
    ///
    /// ```no_run
    /// # async fn run(bigquery: vertex_batch::bigquery::BigQuery) -> vertex_batch::Result<()> {
    /// use futures_util::TryStreamExt;
    ///
    /// let mut rows = bigquery.predictions(&"bq://my-project.d.results".parse()?);
    /// while let Some(row) = rows.try_next().await? {
    ///     println!("{:?} {:?}", row.text(), row.error());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn predictions(&self, table: &TableUri) -> PredictionStream {
        let client = self.clone();
        let table = table.clone();
        let checked = futures_util::stream::once(async move {
            let info = client.table(&table).await?;
            if let Some(missing) = ["status", "response"]
                .into_iter()
                .find(|name| info.column(name).is_none())
            {
                return Err(Error::invalid(
                    "table",
                    format!(
                        "{table} has no `{missing}` column: it is not a batch job's output \
                         table (those have the input's columns, then status, processed_time, \
                         request, response)"
                    ),
                ));
            }
            let rows = client.rows(&table).enumerate().map(move |(i, row)| {
                let row = row?;
                prediction(row, &table, i as u64 + 1)
            });
            Ok(rows)
        });
        Box::pin(checked.try_flatten())
    }

    /// Counts a batch job's output table as [`Summary::from_reader`] counts a predictions
    /// file: rows, successes, failures with their row number and status, tokens by kind. The
    /// rows are read as a stream: memory holds one page, however large the table.
    pub async fn summary(&self, table: &TableUri) -> Result<Summary> {
        let name = table.to_string();
        let path = Path::new(&name);
        let mut summary = Summary::default();
        let mut rows = self.predictions(table);
        let mut line = 0;
        while let Some(row) = rows.try_next().await? {
            line += 1;
            summary.add(row, Some(path), line);
        }
        Ok(summary)
    }
}

/// One output row as a prediction: `response` `{}` or null on a failed row, `status` empty or
/// null on a good one.
fn prediction(mut row: super::Row, table: &TableUri, number: u64) -> Result<Prediction> {
    if row
        .get("response")
        .is_some_and(|r| r.as_object().is_some_and(|o| o.is_empty()))
    {
        row.insert("response".to_owned(), Value::Null);
    }
    serde_json::from_value(Value::Object(row)).map_err(|err| {
        Error::invalid(
            "table",
            format!("row {number} of {table} is not a prediction: {err}"),
        )
    })
}

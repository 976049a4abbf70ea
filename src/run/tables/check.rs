//! Bad input refused before any job, each refusal in SQL or table metadata (no row read): the
//! datasets' region, the `request` column, the key column (present, of a type a key can be,
//! never NULL, unique), requests that are JSON and free of the run's row label, input columns
//! that would clash with the results' own, and a results table another run (or anyone else)
//! wrote.
//!
//! The service reads a BigQuery input's `request` column (JSON or STRING) and copies the other
//! columns to its output, where `response` and `status` are its own; input and output datasets
//! must be in the job's region, and a multi-region dataset (`US`, `EU`) is not supported for
//! input ("Batch inference from BigQuery",
//! cloud.google.com/vertex-ai/generative-ai/docs/multimodal/batch-prediction-from-bigquery;
//! the Italian version of the page states the multi-region limit).

use super::Tables;
use super::bq::{Bq, number, signed};
use super::sql::{Source, description};
use crate::bigquery::{Column, TableUri};
use crate::error::{Error, Result};

/// What the checks found: how to read the input, its rows, and its fingerprint.
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    pub(crate) source: Source,
    pub(crate) rows: u64,
    /// Changes when the input's keys or requests do.
    pub(crate) fingerprint: String,
}

/// Columns of the results table besides the input's.
const RESULT_COLUMNS: [&str; 3] = ["text", "response", "error"];

/// Column names the service's output table uses itself (a key column of that name would be
/// lost in it), and the run's own bucket column.
const OUTPUT_COLUMNS: [&str; 5] = [
    "request",
    "status",
    "processed_time",
    "response",
    "vertex_batch_bucket",
];

/// Key column types whose values compare and hash as text (`CAST(key AS STRING)`; BYTES would
/// fail on bytes that are not UTF-8).
const KEY_TYPES: [&str; 5] = ["STRING", "INT64", "NUMERIC", "BIGNUMERIC", "DATE"];

fn refuse(field: &'static str, reason: String) -> Error {
    Error::invalid(field, reason)
}

/// Checks the input and the datasets, before the lease and before any job.
pub(crate) async fn inputs(bq: &Bq, tables: &Tables) -> Result<Checked> {
    let input = &tables.input;
    let region = &bq.location;
    if tables.results == *input {
        return Err(refuse(
            "results",
            format!("{input} is the input: the results go to a table of their own"),
        ));
    }
    dataset_in_region(bq, input, "input", region, true).await?;
    dataset_in_region(bq, &tables.results, "results", region, false).await?;
    let Some(info) = bq.table(input).await? else {
        return Err(refuse(
            "input",
            format!("{input}: no such table (its dataset exists)"),
        ));
    };
    let request = find(&info.columns, "request").ok_or_else(|| {
        refuse(
            "input",
            format!(
                "{input} has no `request` column: a batch job reads each row's \
                 GenerateContentRequest from a column named `request` (JSON or STRING); it has {}",
                names(&info.columns)
            ),
        )
    })?;
    let request_type = request.canonical_type();
    if !matches!(request_type.as_str(), "JSON" | "STRING") || request.is_repeated() {
        return Err(refuse(
            "input",
            format!(
                "{input}: its `request` column is {request_type}; the service reads JSON or \
                 STRING"
            ),
        ));
    }
    let key = find(&info.columns, &tables.key_column).ok_or_else(|| {
        refuse(
            "key_column",
            format!(
                "{input} has no column `{}`; it has {}",
                tables.key_column,
                names(&info.columns)
            ),
        )
    })?;
    let key_type = key.canonical_type();
    if !KEY_TYPES.contains(&key_type.as_str()) || key.is_repeated() {
        return Err(refuse(
            "key_column",
            format!(
                "`{}` is {key_type}{}; a key column is one of {}",
                key.name,
                if key.is_repeated() { " (repeated)" } else { "" },
                KEY_TYPES.join(", ")
            ),
        ));
    }
    if let Some(reserved) = OUTPUT_COLUMNS
        .iter()
        .find(|name| key.name.eq_ignore_ascii_case(name))
    {
        return Err(refuse(
            "key_column",
            format!(
                "`{}`: the job's output table has a `{reserved}` column of its own; key the \
                 rows by another column",
                key.name
            ),
        ));
    }
    if key.name.contains(['`', '\\']) {
        return Err(refuse(
            "key_column",
            format!("`{}`: a key column's name without ` or \\", key.name),
        ));
    }
    if let Some(clash) = info.columns.iter().find(|column| {
        RESULT_COLUMNS
            .iter()
            .any(|name| column.name.eq_ignore_ascii_case(name))
    }) {
        return Err(refuse(
            "input",
            format!(
                "{input} has a column `{}`, a name the results table gives its own column \
                 (`text`, `response`, `error`); rename it in a view of the input",
                clash.name
            ),
        ));
    }
    let source = Source {
        input: input.clone(),
        key: key.name.clone(),
        request_is_json: request_type == "JSON",
    };
    let facts = bq.row(source.facts()).await?;
    let rows = number(&facts, "rows_total");
    if rows == 0 {
        return Err(refuse(
            "input",
            format!("{input} holds no rows: give at least one request"),
        ));
    }
    for (column, what) in [
        ("null_keys", format!("have no key (`{}` is NULL)", key.name)),
        (
            "bad_requests",
            "have a `request` that is NULL or not JSON".to_owned(),
        ),
        (
            "labelled",
            format!(
                "have a request whose `labels` has the key `{}`, which the run keeps for its \
                 row ids",
                crate::run::ROW_LABEL
            ),
        ),
    ] {
        let n = number(&facts, column);
        if n > 0 {
            return Err(refuse("input", format!("{input}: {n} rows {what}")));
        }
    }
    let duplicates = bq.rows(source.duplicate_keys()).await?;
    if let Some(first) = duplicates.first() {
        let key_text = first
            .get("duplicate")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        return Err(refuse(
            "key_column",
            format!(
                "`{}` is not unique in {input}: the key {key_text:?} is the key of {} rows \
                 ({} keys repeat at least); keys must be unique",
                key.name,
                number(first, "n"),
                duplicates.len()
            ),
        ));
    }
    let fingerprint = format!(
        "tables:{input}:{}:{}:{rows}:{:016x}",
        key.name,
        tables.results,
        signed(&facts, "content")
    );
    Ok(Checked {
        source,
        rows,
        fingerprint,
    })
}

/// Refuses a results table that exists and was not written by the run `run_id`.
pub(crate) async fn results_table(bq: &Bq, results: &TableUri, run_id: &str) -> Result<()> {
    if bq.table(results).await?.is_none() {
        return Ok(());
    }
    let rows = bq.rows(Source::description_of(results)).await?;
    let found = rows
        .first()
        .and_then(|row| row.get("option_value"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let ours = description(run_id);
    if found.contains(&ours) {
        return Ok(());
    }
    Err(refuse(
        "results",
        format!(
            "{results} exists and holds {}; a run writes a table of its own: name a table that \
             does not exist (or drop this one)",
            if found.contains("vertex-batch run ") {
                "another run's results"
            } else {
                "rows no run of this input wrote"
            }
        ),
    ))
}

async fn dataset_in_region(
    bq: &Bq,
    table: &TableUri,
    what: &'static str,
    region: &str,
    input: bool,
) -> Result<()> {
    let location = match bq
        .client
        .dataset_location(table.project(), table.dataset())
        .await
    {
        Ok(location) => location,
        Err(err) if err.is_not_found() => {
            return Err(refuse(
                what,
                format!(
                    "{table}: the dataset {}.{} does not exist; make it in {region}, the job's \
                     region",
                    table.project(),
                    table.dataset()
                ),
            ));
        }
        Err(err) => return Err(err),
    };
    if input && !location.contains('-') {
        return Err(refuse(
            what,
            format!(
                "{table}: its dataset is in the multi-region {location}; batch jobs read no \
                 multi-region dataset: copy the table to a dataset in {region}"
            ),
        ));
    }
    if !location.eq_ignore_ascii_case(region) {
        return Err(refuse(
            what,
            format!(
                "{table}: its dataset is in {location}, the job in {region}; a batch job's \
                 input and output datasets must be in its region"
            ),
        ));
    }
    Ok(())
}

fn find<'a>(columns: &'a [Column], name: &str) -> Option<&'a Column> {
    columns
        .iter()
        .find(|column| column.name.eq_ignore_ascii_case(name))
}

fn names(columns: &[Column]) -> String {
    let names: Vec<String> = columns.iter().map(|c| format!("`{}`", c.name)).collect();
    if names.is_empty() {
        "no columns".to_owned()
    } else {
        names.join(", ")
    }
}

//! Rows as JSON objects, read page by page: the REST API's `{"f": [{"v": ...}]}` cells turned
//! into `{"column": value}` by the table's columns, and the other way for inserts.
//!
//! Cells arrive as text whatever their type; each becomes the JSON a reader expects:
//! `INT64` a number (text past 2^53 stays exact: a number if it fits an `i64`), `FLOAT64` a
//! number (`NaN` and infinities stay text), `BOOL` a boolean, `JSON` the value it holds,
//! `TIMESTAMP` RFC 3339 text in UTC with microseconds, `STRUCT` an object, `REPEATED` an array,
//! the rest (`STRING`, `DATE`, `NUMERIC`, `BYTES` as base64, ...) text.

use std::collections::VecDeque;
use std::pin::Pin;

use futures_util::Stream;
use serde_json::{Map, Number, Value};

use super::schema::Column;
use crate::error::Result;

/// One row: column name → value.
pub type Row = Map<String, Value>;

/// Rows read page by page, in the table's (or the query's) order. From
/// [`BigQuery::rows`](super::BigQuery::rows) or
/// [`BigQuery::query_rows`](super::BigQuery::query_rows).
pub type RowStream = Pin<Box<dyn Stream<Item = Result<Row>> + Send>>;

/// The rows of one page's `rows` array.
pub(super) fn rows_of(page: &Value, columns: &[Column]) -> VecDeque<Row> {
    page.get("rows")
        .and_then(Value::as_array)
        .map(|rows| rows.iter().map(|row| record(row, columns)).collect())
        .unwrap_or_default()
}

/// `{"f": [cells]}` as an object by `columns`.
fn record(row: &Value, columns: &[Column]) -> Row {
    let cells = row.get("f").and_then(Value::as_array);
    columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let cell = cells
                .and_then(|cells| cells.get(i))
                .and_then(|cell| cell.get("v"))
                .unwrap_or(&Value::Null);
            (column.name.clone(), value(cell, column))
        })
        .collect()
}

/// One cell's `v` by its column.
fn value(cell: &Value, column: &Column) -> Value {
    if column.is_repeated() {
        let single = Column {
            mode: None,
            ..column.clone()
        };
        return match cell {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| value(item.get("v").unwrap_or(&Value::Null), &single))
                    .collect(),
            ),
            _ => Value::Array(Vec::new()),
        };
    }
    match cell {
        Value::Null => Value::Null,
        Value::Object(_) if !column.fields.is_empty() => {
            Value::Object(record(cell, &column.fields))
        }
        Value::String(text) => scalar(text, &column.canonical_type()),
        other => other.clone(),
    }
}

fn scalar(text: &str, kind: &str) -> Value {
    match kind {
        "INT64" => match text.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::String(text.to_owned()),
        },
        "FLOAT64" => text
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or_else(|| Value::String(text.to_owned()), Value::Number),
        "BOOL" => match text {
            "true" | "TRUE" => Value::Bool(true),
            "false" | "FALSE" => Value::Bool(false),
            _ => Value::String(text.to_owned()),
        },
        "JSON" => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())),
        "TIMESTAMP" => {
            timestamp(text).map_or_else(|| Value::String(text.to_owned()), Value::String)
        }
        _ => Value::String(text.to_owned()),
    }
}

/// A TIMESTAMP cell as RFC 3339: BigQuery sends microseconds since the epoch as an integer
/// (`formatOptions.useInt64Timestamp`) or seconds as a float (`1.7E9`).
fn timestamp(text: &str) -> Option<String> {
    let micros: i64 = match text.parse::<i64>() {
        Ok(micros) => micros,
        Err(_) => (text.parse::<f64>().ok()? * 1e6).round() as i64,
    };
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    ))
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A row to insert, shaped for `tabledata.insertAll`: a `JSON` column's value goes as its
/// JSON text, as the API takes it (a string stays the string it is).
pub(super) fn for_insert(row: &Row, columns: &[Column]) -> Row {
    row.iter()
        .map(|(name, value)| {
            let is_json = columns
                .iter()
                .any(|column| &column.name == name && column.canonical_type() == "JSON");
            let value = match value {
                Value::Null | Value::String(_) => value.clone(),
                other if is_json => Value::String(other.to_string()),
                other => other.clone(),
            };
            (name.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_become_typed_json_by_their_columns() {
        let columns = vec![
            Column::new("id", "INTEGER"),
            Column::new("request", "JSON"),
            Column::new("ok", "BOOLEAN"),
            Column::new("score", "FLOAT"),
            Column::new("at", "TIMESTAMP"),
            Column::new("tags", "STRING").repeated(),
            Column::record("meta", vec![Column::new("n", "INT64")]),
            Column::new("big", "INT64"),
        ];
        let page = json!({"rows": [{"f": [
            {"v": "7"},
            {"v": "{\"contents\":[]}"},
            {"v": "true"},
            {"v": "NaN"},
            {"v": "1796421359935134"},
            {"v": [{"v": "a"}, {"v": "b"}]},
            {"v": {"f": [{"v": "3"}]}},
            {"v": "99999999999999999999"},
        ]}, {"f": [{"v": null}]}]});
        let rows = rows_of(&page, &columns);
        assert_eq!(
            Value::Object(rows[0].clone()),
            json!({
                "id": 7,
                "request": {"contents": []},
                "ok": true,
                "score": "NaN",
                "at": "2026-12-04T21:55:59.935134Z",
                "tags": ["a", "b"],
                "meta": {"n": 3},
                "big": "99999999999999999999",
            })
        );
        assert_eq!(rows[1]["id"], Value::Null);
        assert_eq!(rows[1]["tags"], json!([]));
    }

    #[test]
    fn timestamps_in_either_form_and_before_1970() {
        assert_eq!(timestamp("0").unwrap(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(timestamp("1.5E9").unwrap(), "2017-07-14T02:40:00.000000Z");
        assert_eq!(timestamp("-1").unwrap(), "1969-12-31T23:59:59.999999Z");
        assert_eq!(timestamp("2000-01-01"), None);
    }

    #[test]
    fn json_columns_are_inserted_as_their_text() {
        let columns = vec![Column::new("request", "JSON"), Column::new("n", "INT64")];
        let row = json!({"request": {"a": [1]}, "n": 2});
        let Value::Object(row) = row else {
            unreachable!()
        };
        assert_eq!(
            Value::Object(for_insert(&row, &columns)),
            json!({"request": "{\"a\":[1]}", "n": 2})
        );
    }
}

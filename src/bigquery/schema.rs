//! A table's columns ([`Column`]), in the REST API's `TableFieldSchema` shape, and a table's
//! metadata ([`TableInfo`]).

use serde::{Deserialize, Serialize};

use super::TableUri;

/// One column of a table: its name, its type (`STRING`, `INT64`, `JSON`, `TIMESTAMP`,
/// `RECORD`, ...), its mode (`NULLABLE`, `REQUIRED`, `REPEATED`) and, for a `RECORD`, its
/// fields. Serialises as the REST API's `TableFieldSchema`.
///
/// ```
/// use vertex_batch::bigquery::Column;
///
/// let columns = [
///     Column::new("id", "INT64").required(),
///     Column::new("request", "JSON"),
///     Column::new("tags", "STRING").repeated(),
/// ];
/// assert_eq!(
///     serde_json::to_value(&columns[0])?,
///     serde_json::json!({"name": "id", "type": "INT64", "mode": "REQUIRED"})
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The column's name.
    pub name: String,
    /// Its type, as BigQuery names it (`INTEGER` and `INT64` are the same type).
    #[serde(rename = "type")]
    pub kind: String,
    /// `NULLABLE` (when absent), `REQUIRED` or `REPEATED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// A `RECORD`'s fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Column>,
}

impl Column {
    /// A nullable column `name` of type `kind`.
    pub fn new(name: impl Into<String>, kind: impl Into<String>) -> Self {
        Column {
            name: name.into(),
            kind: kind.into(),
            mode: None,
            fields: Vec::new(),
        }
    }

    /// A `RECORD` column with `fields`.
    pub fn record(name: impl Into<String>, fields: Vec<Column>) -> Self {
        Column {
            fields,
            ..Column::new(name, "RECORD")
        }
    }

    /// Mode `REQUIRED`.
    pub fn required(mut self) -> Self {
        self.mode = Some("REQUIRED".to_owned());
        self
    }

    /// Mode `REPEATED`.
    pub fn repeated(mut self) -> Self {
        self.mode = Some("REPEATED".to_owned());
        self
    }

    /// Whether the column holds an array of values.
    pub fn is_repeated(&self) -> bool {
        self.mode.as_deref() == Some("REPEATED")
    }

    /// The type's canonical Standard SQL name: `INTEGER` is `INT64`, `FLOAT` `FLOAT64`,
    /// `BOOLEAN` `BOOL`, `RECORD` `STRUCT`; the others as they are, in upper case.
    ///
    /// ```
    /// use vertex_batch::bigquery::Column;
    ///
    /// assert_eq!(Column::new("n", "INTEGER").canonical_type(), "INT64");
    /// assert_eq!(Column::new("j", "json").canonical_type(), "JSON");
    /// ```
    pub fn canonical_type(&self) -> String {
        let upper = self.kind.to_ascii_uppercase();
        match upper.as_str() {
            "INTEGER" => "INT64".to_owned(),
            "FLOAT" => "FLOAT64".to_owned(),
            "BOOLEAN" => "BOOL".to_owned(),
            "RECORD" => "STRUCT".to_owned(),
            _ => upper,
        }
    }
}

/// What [`BigQuery::table`](super::BigQuery::table) reads of a table.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TableInfo {
    /// The table.
    pub uri: TableUri,
    /// Its columns, in order.
    pub columns: Vec<Column>,
    /// How many rows it holds, when the service says (streamed rows may not be counted yet).
    pub num_rows: Option<u64>,
    /// Where its data lives (`US`, `us-central1`), when the service says.
    pub location: Option<String>,
}

impl TableInfo {
    /// The column named `name`, if the table has one.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }
}

/// The columns of a `Table` resource or a query's results (`schema.fields`), `NULLABLE`
/// written as no mode, as [`Column::new`] makes them.
pub(super) fn columns_of(resource: &serde_json::Value) -> Vec<Column> {
    fn normalise(mut column: Column) -> Column {
        if column.mode.as_deref() == Some("NULLABLE") {
            column.mode = None;
        }
        column.fields = column.fields.into_iter().map(normalise).collect();
        column
    }
    resource
        .pointer("/schema/fields")
        .cloned()
        .and_then(|fields| serde_json::from_value::<Vec<Column>>(fields).ok())
        .unwrap_or_default()
        .into_iter()
        .map(normalise)
        .collect()
}

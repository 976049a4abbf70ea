//! `bq://project.dataset.table` addresses, checked before any call by the same rules as a
//! job's BigQuery source (`job/uri.rs`).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::names::split_bigquery_path;

/// One BigQuery table: `bq://project.dataset.table` (a domain-scoped project,
/// `bq://example.com:project.dataset.table`, included).
///
/// Parsed with the rules a batch job's `bigquery_source` is checked by; [`Display`](fmt::Display)
/// gives the URI back, [`sql`](Self::sql) the table's name quoted for Standard SQL.
///
/// ```
/// use vertex_batch::bigquery::TableUri;
///
/// let table: TableUri = "bq://my-project.my_dataset.prompts".parse()?;
/// assert_eq!(table.project(), "my-project");
/// assert_eq!(table.dataset(), "my_dataset");
/// assert_eq!(table.table(), "prompts");
/// assert_eq!(table.to_string(), "bq://my-project.my_dataset.prompts");
/// assert_eq!(table.sql(), "`my-project.my_dataset.prompts`");
/// assert!("bq://my-project.my_dataset".parse::<TableUri>().unwrap_err().is_invalid_input());
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableUri {
    project: String,
    dataset: String,
    table: String,
}

/// The name a bad URI is reported under.
const FIELD: &str = "table";

impl TableUri {
    /// The table `table` of `dataset` in `project`, checked as [`str::parse`] checks a URI.
    ///
    /// ```
    /// use vertex_batch::bigquery::TableUri;
    ///
    /// let table = TableUri::new("my-project", "my_dataset", "results")?;
    /// assert_eq!(table.to_string(), "bq://my-project.my_dataset.results");
    /// assert!(TableUri::new("my-project", "my-dataset", "t").is_err());
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn new(
        project: impl Into<String>,
        dataset: impl Into<String>,
        table: impl Into<String>,
    ) -> Result<Self> {
        let uri = TableUri {
            project: project.into(),
            dataset: dataset.into(),
            table: table.into(),
        };
        uri.to_string().parse()
    }

    /// The project (with its domain, for a domain-scoped project).
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The dataset.
    pub fn dataset(&self) -> &str {
        &self.dataset
    }

    /// The table's id in its dataset.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Another table of the same dataset.
    ///
    /// ```
    /// use vertex_batch::bigquery::TableUri;
    ///
    /// let input: TableUri = "bq://my-project.d.prompts".parse()?;
    /// assert_eq!(input.sibling("prompts_round_1")?.to_string(), "bq://my-project.d.prompts_round_1");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn sibling(&self, table: &str) -> Result<Self> {
        TableUri::new(self.project.clone(), self.dataset.clone(), table)
    }

    /// The table's name for Standard SQL: `` `project.dataset.table` ``. The checks leave no
    /// backquote or backslash in any part, so the quoting is whole.
    pub fn sql(&self) -> String {
        format!("`{}.{}.{}`", self.project, self.dataset, self.table)
    }

    /// The REST API's path of the table, below the API root:
    /// `projects/P/datasets/D/tables/T`, each part percent-encoded.
    pub(crate) fn path(&self) -> String {
        format!(
            "{}/tables/{}",
            dataset_path(&self.project, &self.dataset),
            encode(&self.table)
        )
    }
}

/// The REST API's path of a dataset: `projects/P/datasets/D`.
pub(crate) fn dataset_path(project: &str, dataset: &str) -> String {
    format!("projects/{}/datasets/{}", encode(project), encode(dataset))
}

/// One path segment, percent-encoded (a table id may hold spaces and non-ASCII letters).
pub(crate) fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl fmt::Display for TableUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bq://{}.{}.{}", self.project, self.dataset, self.table)
    }
}

impl FromStr for TableUri {
    type Err = Error;

    fn from_str(uri: &str) -> Result<Self> {
        let Some(rest) = uri.strip_prefix("bq://") else {
            return Err(Error::invalid(
                FIELD,
                format!("{uri:?} is not a BigQuery table: expected `bq://project.dataset.table`"),
            ));
        };
        let parts = crate::job::uri::check_bigquery(uri, rest, FIELD)?;
        if parts != 3 {
            return Err(Error::invalid(
                FIELD,
                format!("{uri:?} is not a table: expected `bq://project.dataset.table`"),
            ));
        }
        let split = split_bigquery_path(rest);
        Ok(TableUri {
            project: split[0].to_owned(),
            dataset: split[1].to_owned(),
            table: split[2].to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parse_and_print_back() {
        for uri in [
            "bq://proj-1.d_1.t",
            "bq://example.com:my-project.ds.my table",
            "bq://proj-1.d.tâble-1",
        ] {
            let table: TableUri = uri.parse().unwrap();
            assert_eq!(table.to_string(), uri);
        }
        let domain: TableUri = "bq://example.com:my-project.ds.t".parse().unwrap();
        assert_eq!(domain.project(), "example.com:my-project");
        assert_eq!(
            domain.path(),
            "projects/example%2Ecom%3Amy%2Dproject/datasets/ds/tables/t"
        );
    }

    #[test]
    fn bad_uris_name_the_table_and_the_form() {
        for (uri, why) in [
            ("gs://b/x", "is not a BigQuery table"),
            ("bq://proj-1.d", "is not a table"),
            ("bq://proj-1", "is not a table"),
            ("bq://Proj-1.d.t", "bad project"),
            ("bq://proj-1.d-d.t", "bad dataset"),
            ("bq://proj-1.d.t`x", "bad table"),
            ("bq://proj-1.d.t\\x", "bad table"),
            ("bq://proj-1.d.t.u", "more than three parts"),
        ] {
            let err = uri.parse::<TableUri>().unwrap_err().to_string();
            assert!(err.starts_with("invalid table: "), "{uri}: {err}");
            assert!(err.contains(why), "{uri}: {err}");
        }
    }
}

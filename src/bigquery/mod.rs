//! BigQuery for batch jobs over tables (feature `bigquery`): run a query and wait for its job,
//! create, list, read and delete tables, read a table's rows (or a query's) as a stream, insert rows,
//! and read a job's output table as predictions and their [`Summary`](crate::batch_file::Summary).
//!
//! A thin client over the REST API v2 on the HTTP stack the `storage` feature already builds
//! (reqwest over rustls, Mozilla's roots), with this crate's token cache and its one retry rule
//! ([`RetryPolicy`]): no BigQuery crate, which the README's "BigQuery"
//! section explains with figures. [`BigQuery::from_env`] honours `BIGQUERY_EMULATOR_HOST`
//! as [`Storage::from_env`](crate::storage::Storage::from_env) honours
//! `STORAGE_EMULATOR_HOST`; bqemulator (PyPI) serves the same API, and the crate's tests run
//! against it.
//!
//! ```no_run
//! # async fn run() -> vertex_batch::Result<()> {
//! use futures_util::TryStreamExt;
//! use vertex_batch::bigquery::{BigQuery, Column, TableUri};
//!
//! let bigquery = BigQuery::from_env().build()?;
//! let prompts: TableUri = "bq://my-project.my_dataset.prompts".parse()?;
//! bigquery
//!     .query("my-project", &format!("SELECT 1 AS n FROM {} LIMIT 1", prompts.sql()))
//!     .await?;
//! let info = bigquery.table(&prompts).await?;
//! assert!(info.column("request").is_some());
//! let rows: Vec<_> = bigquery.rows(&prompts).try_collect().await?;
//! println!("{} rows, columns {:?}", rows.len(), info.columns);
//! # Ok(()) }
//! ```

mod builder;
mod errors;
mod http;
mod predictions;
mod query;
mod rows;
mod schema;
mod uri;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

pub use builder::{
    BigQueryBuilder, DEFAULT_ENDPOINT, DEFAULT_PAGE_SIZE, DEFAULT_RETRY_BUDGET, EMULATOR_HOST_ENV,
};
pub use predictions::PredictionStream;
pub use query::{Query, QueryJob};
pub use rows::{Row, RowStream};
pub use schema::{Column, TableInfo};
pub use uri::TableUri;

use crate::RetryPolicy;
use crate::auth::TokenCache;
use crate::error::Result;
use errors::Op;
use http::Call;

/// A BigQuery client. Cheap to clone; clones share the connection pool, the tokens and the
/// retry count.
///
/// `Debug` shows the endpoint, never a token.
#[derive(Clone)]
pub struct BigQuery {
    inner: Arc<Inner>,
}

struct Inner {
    /// `https://bigquery.googleapis.com`, or an emulator's address.
    endpoint: String,
    /// The REST API's root: `{endpoint}/bigquery/v2/`.
    api: String,
    http: reqwest::Client,
    tokens: Option<TokenCache>,
    page_size: u32,
    retry: RetryPolicy,
    retries: AtomicU64,
}

impl fmt::Debug for BigQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BigQuery")
            .field("endpoint", &self.inner.endpoint)
            .field("sends_tokens", &self.inner.tokens.is_some())
            .finish()
    }
}

impl BigQuery {
    /// A builder with the defaults: the public endpoint, Application Default Credentials.
    pub fn builder() -> BigQueryBuilder {
        BigQueryBuilder::new()
    }

    /// A builder with the defaults, then `BIGQUERY_EMULATOR_HOST` when it is set: that
    /// address (`host:port` or a URL) is the endpoint, and no credentials are sent.
    ///
    /// ```no_run
    /// // BIGQUERY_EMULATOR_HOST=127.0.0.1:9050
    /// let bigquery = vertex_batch::bigquery::BigQuery::from_env().build()?;
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn from_env() -> BigQueryBuilder {
        BigQueryBuilder::from_env()
    }

    /// The endpoint, without the API's path: `https://bigquery.googleapis.com`.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The retry policy requests are sent with.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// How many requests this client and its clones have sent again so far.
    pub fn retries(&self) -> u64 {
        self.inner.retries.load(Ordering::Relaxed)
    }

    fn count_retry(&self) {
        self.inner.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A table's columns, row count and location.
    ///
    /// # Errors
    /// [`Error::BigQuery`](crate::Error::BigQuery) from the service: a table or dataset that
    /// does not exist is one for which [`is_not_found`](crate::Error::is_not_found) holds.
    pub async fn table(&self, table: &TableUri) -> Result<TableInfo> {
        let target = table.to_string();
        let answer = self
            .send(Call {
                op: Op::Metadata,
                target: &target,
                method: Method::GET,
                path: table.path(),
                query: Vec::new(),
                body: None,
            })
            .await?;
        Ok(table_info(table, &answer))
    }

    /// Creates `table` with `columns`; the dataset must exist.
    ///
    /// # Errors
    /// [`Error::BigQuery`](crate::Error::BigQuery): 409 (`duplicate`) for a table that exists
    /// already, unless it was this call's own first attempt that made it (a request sent again
    /// after a lost answer), which is a success.
    pub async fn create_table(&self, table: &TableUri, columns: &[Column]) -> Result<TableInfo> {
        let target = table.to_string();
        let body = json!({
            "tableReference": {
                "projectId": table.project(),
                "datasetId": table.dataset(),
                "tableId": table.table(),
            },
            "schema": {"fields": columns},
        });
        let retries_before = self.retries();
        let created = self
            .send(Call {
                op: Op::Create,
                target: &target,
                method: Method::POST,
                path: format!(
                    "{}/tables",
                    uri::dataset_path(table.project(), table.dataset())
                ),
                query: Vec::new(),
                body: Some(body),
            })
            .await;
        match created {
            Ok(answer) => Ok(table_info(table, &answer)),
            Err(crate::Error::BigQuery { code: 409, .. }) if self.retries() > retries_before => {
                // A retry found the table: the first attempt made it, or another client did at
                // the same time; the columns tell.
                let info = self.table(table).await?;
                if info.columns.len() == columns.len() {
                    Ok(info)
                } else {
                    created.map(|answer| table_info(table, &answer))
                }
            }
            Err(err) => Err(err),
        }
    }

    /// Deletes `table`. A table that does not exist is an error for which
    /// [`is_not_found`](crate::Error::is_not_found) holds.
    pub async fn delete_table(&self, table: &TableUri) -> Result<()> {
        let target = table.to_string();
        self.send(Call {
            op: Op::Delete,
            target: &target,
            method: Method::DELETE,
            path: table.path(),
            query: Vec::new(),
            body: None,
        })
        .await
        .map(drop)
    }

    /// The tables of a dataset (`tables.list`, page by page at the client's page size), in
    /// the order the service lists them; a listing that ends short of the `totalItems` it
    /// announced is an error, never a shorter list.
    ///
    /// ```no_run
    /// # async fn run(bigquery: vertex_batch::bigquery::BigQuery) -> vertex_batch::Result<()> {
    /// for table in bigquery.list_tables("my-project", "prompts").await? {
    ///     println!("{table}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::BigQuery`](crate::Error::BigQuery) from the service: a dataset that does not
    /// exist is one for which [`is_not_found`](crate::Error::is_not_found) holds.
    pub async fn list_tables(&self, project: &str, dataset: &str) -> Result<Vec<TableUri>> {
        let target = format!("dataset {project}.{dataset}");
        let path = format!("{}/tables", uri::dataset_path(project, dataset));
        let mut tables = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("maxResults", self.inner.page_size.to_string())];
            if let Some(token) = token.take() {
                query.push(("pageToken", token));
            }
            let page = self
                .send(Call {
                    op: Op::List,
                    target: &target,
                    method: Method::GET,
                    path: path.clone(),
                    query,
                    body: None,
                })
                .await?;
            for table in page
                .get("tables")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(id) = table
                    .get("tableReference")
                    .and_then(|r| r.get("tableId"))
                    .and_then(Value::as_str)
                {
                    tables.push(TableUri::new(project, dataset, id)?);
                }
            }
            token = page
                .get("nextPageToken")
                .and_then(Value::as_str)
                .filter(|token| !token.is_empty())
                .map(str::to_owned);
            if token.is_none() {
                // A listing that ends short of the tables it says there are is an error, never
                // a silently shorter list (bqemulator 1.4.0 cuts at `maxResults` with no token).
                let total = page
                    .get("totalItems")
                    .and_then(|n| n.as_u64().or_else(|| n.as_str()?.parse().ok()));
                return match total {
                    Some(total) if (tables.len() as u64) < total => Err(errors::refused(
                        Op::List,
                        &target,
                        502,
                        "incompleteListing".to_owned(),
                        format!(
                            "the listing ended after {} of its {total} tables; read it again \
                             with a larger page size",
                            tables.len()
                        ),
                    )),
                    _ => Ok(tables),
                };
            }
        }
    }

    /// Where a dataset's data lives: `US`, `EU`, or a region like `us-central1`, as the
    /// service spells it.
    pub async fn dataset_location(&self, project: &str, dataset: &str) -> Result<String> {
        let target = format!("dataset {project}.{dataset}");
        let answer = self
            .send(Call {
                op: Op::Metadata,
                target: &target,
                method: Method::GET,
                path: uri::dataset_path(project, dataset),
                query: Vec::new(),
                body: None,
            })
            .await?;
        Ok(answer
            .get("location")
            .and_then(Value::as_str)
            .unwrap_or("US")
            .to_owned())
    }

    /// Creates the dataset `dataset` of `project` in `location` (`US`, `us-central1`, ...).
    /// One that exists already is fine when it is in `location`.
    pub async fn create_dataset(&self, project: &str, dataset: &str, location: &str) -> Result<()> {
        let target = format!("dataset {project}.{dataset}");
        let created = self
            .send(Call {
                op: Op::Create,
                target: &target,
                method: Method::POST,
                path: format!("projects/{}/datasets", uri::encode(project)),
                query: Vec::new(),
                body: Some(json!({
                    "datasetReference": {"projectId": project, "datasetId": dataset},
                    "location": location,
                })),
            })
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(crate::Error::BigQuery { code: 409, .. })
                if self
                    .dataset_location(project, dataset)
                    .await?
                    .eq_ignore_ascii_case(location) =>
            {
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    /// The rows of `table`, page by page (`tabledata.list`, the client's page size), each as
    /// an object by column name (see [`Row`] for how cells are typed). The table's columns are
    /// read first; a page is asked for only once the one before it is consumed, so memory holds
    /// one page whatever the table's size.
    ///
    /// ```no_run
    /// # async fn run(bigquery: vertex_batch::bigquery::BigQuery) -> vertex_batch::Result<()> {
    /// use futures_util::TryStreamExt;
    ///
    /// let mut rows = bigquery.rows(&"bq://my-project.d.results".parse()?);
    /// while let Some(row) = rows.try_next().await? {
    ///     println!("{}", row["status"]);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn rows(&self, table: &TableUri) -> RowStream {
        let client = self.clone();
        let table = table.clone();
        let pages = futures_util::stream::once(async move {
            let info = client.table(&table).await?;
            let target = table.to_string();
            let path = format!("{}/data", table.path());
            let page_size = client.inner.page_size;
            Ok::<_, crate::Error>(client.paged(
                Op::Rows,
                target,
                path,
                info.columns,
                move |token| {
                    let mut query = vec![
                        ("maxResults", page_size.to_string()),
                        ("formatOptions.useInt64Timestamp", "true".to_owned()),
                    ];
                    if let Some(token) = token {
                        query.push(("pageToken", token));
                    }
                    query
                },
            ))
        });
        Box::pin(pages.flat_map(|pages| match pages {
            Ok(rows) => rows,
            Err(err) => Box::pin(futures_util::stream::once(async move { Err(err) })),
        }))
    }

    /// Inserts `rows` (objects by column name) into `table` with `tabledata.insertAll`, for
    /// tests and small tables. A `JSON` column's value may be any JSON value; it is sent as
    /// its text, as the API takes it. Each row gets an `insertId`, so a request sent again
    /// after a lost answer does not insert it twice (BigQuery's best-effort deduplication).
    ///
    /// # Errors
    /// [`Error::BigQuery`](crate::Error::BigQuery) when the service refuses the request or any
    /// row (its `insertErrors`: the message names the rows and their reasons).
    pub async fn insert_rows(&self, table: &TableUri, rows: &[Row]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let info = self.table(table).await?;
        let batch = insert_batch_id();
        let rows: Vec<Value> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                json!({
                    "insertId": format!("{batch}-{i}"),
                    "json": rows::for_insert(row, &info.columns),
                })
            })
            .collect();
        let target = table.to_string();
        let answer = self
            .send(Call {
                op: Op::Insert,
                target: &target,
                method: Method::POST,
                path: format!("{}/insertAll", table.path()),
                query: Vec::new(),
                body: Some(json!({"rows": rows})),
            })
            .await?;
        let errors = answer
            .get("insertErrors")
            .and_then(Value::as_array)
            .filter(|errors| !errors.is_empty());
        match errors {
            None => Ok(()),
            Some(errors) => {
                let first = &errors[0];
                let reason = first
                    .get("errors")
                    .and_then(|e| e.get(0))
                    .and_then(errors::reason_of)
                    .unwrap_or_default();
                let described: Vec<String> = errors
                    .iter()
                    .take(5)
                    .map(|e| {
                        let index = e.get("index").map(Value::to_string).unwrap_or_default();
                        let message = e
                            .get("errors")
                            .and_then(|e| e.get(0))
                            .and_then(|e| e.get("message"))
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        format!("row {index}: {message}")
                    })
                    .collect();
                Err(errors::refused(
                    Op::Insert,
                    &target,
                    400,
                    reason,
                    format!(
                        "{} of {} rows refused ({})",
                        errors.len(),
                        rows.len(),
                        described.join("; ")
                    ),
                ))
            }
        }
    }

    /// Pages of rows from `path`, one request per page, the query of each made by `query`
    /// from the page token.
    fn paged(
        &self,
        op: Op,
        target: String,
        path: String,
        columns: Vec<Column>,
        query: impl Fn(Option<String>) -> Vec<(&'static str, String)> + Send + Sync + 'static,
    ) -> RowStream {
        struct State<Q> {
            client: BigQuery,
            target: String,
            path: String,
            columns: Vec<Column>,
            query: Q,
            buffered: std::collections::VecDeque<Row>,
            /// `None` before the first page; `Some(None)` after the last.
            next: Option<Option<String>>,
            /// Rows given so far, and the `totalRows` the pages said there are.
            read: u64,
            total: Option<u64>,
        }
        let state = State {
            client: self.clone(),
            target,
            path,
            columns,
            query,
            buffered: Default::default(),
            next: None,
            read: 0,
            total: None,
        };
        Box::pin(futures_util::stream::try_unfold(
            state,
            move |mut state| async move {
                loop {
                    if let Some(row) = state.buffered.pop_front() {
                        state.read += 1;
                        return Ok(Some((row, state)));
                    }
                    let token = match state.next.take() {
                        None => None,
                        Some(Some(token)) => Some(token),
                        // A listing that ends short of the rows its pages promised is an
                        // error, never a silently shorter table (seen once from bqemulator
                        // under concurrent requests: 14 of 25 rows, then no page token).
                        Some(None) => match state.total {
                            Some(total) if state.read < total => {
                                return Err(errors::refused(
                                    op,
                                    &state.target,
                                    502,
                                    "incompleteListing".to_owned(),
                                    format!(
                                        "the listing ended after {} of its {total} rows; \
                                         nothing was lost, read it again",
                                        state.read
                                    ),
                                ));
                            }
                            _ => return Ok(None),
                        },
                    };
                    let page = state
                        .client
                        .send(Call {
                            op,
                            target: &state.target,
                            method: Method::GET,
                            path: state.path.clone(),
                            query: (state.query)(token),
                            body: None,
                        })
                        .await?;
                    state.buffered = rows::rows_of(&page, &state.columns);
                    if let Some(total) = page
                        .get("totalRows")
                        .and_then(|n| n.as_str().and_then(|n| n.parse().ok()).or(n.as_u64()))
                    {
                        state.total = Some(total);
                    }
                    state.next = Some(
                        page.get("pageToken")
                            .and_then(Value::as_str)
                            .filter(|token| !token.is_empty())
                            .map(str::to_owned),
                    );
                }
            },
        ))
    }
}

/// A table's metadata from a `Table` resource.
fn table_info(table: &TableUri, answer: &Value) -> TableInfo {
    TableInfo {
        uri: table.clone(),
        columns: schema::columns_of(answer),
        num_rows: answer
            .get("numRows")
            .and_then(Value::as_str)
            .and_then(|n| n.parse().ok()),
        location: answer
            .get("location")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

/// A prefix for the `insertId`s of one [`BigQuery::insert_rows`] call, unique in this process
/// and across processes (time and process id).
fn insert_batch_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!(
        "{:x}-{:x}-{}",
        nanos,
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

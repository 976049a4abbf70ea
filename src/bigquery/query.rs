//! Query jobs: [`BigQuery::query`] inserts a job (`jobs.insert`) and polls it (`jobs.get`)
//! until it is DONE; [`BigQuery::query_rows`] reads its results page by page
//! (`jobs.getQueryResults`). A job id given by the caller makes the job exactly-once: sent
//! again (after a lost answer, or by a process started again), it finds the job that id
//! already names and waits for it instead of running the query twice.

use reqwest::Method;
use serde_json::{Value, json};

use super::errors::{Op, code_of_reason, reason_of, refused};
use super::http::{Call, poll_delay};
use super::rows::RowStream;
use super::schema::columns_of;
use super::{BigQuery, TableUri, insert_batch_id, uri};
use crate::error::{Error, Result};

/// A query to run: its Standard SQL text, and optionally the job's id and location.
///
/// ```
/// use vertex_batch::bigquery::Query;
///
/// let query = Query::new("SELECT 1")
///     .with_job_id("run_7_shard_0_round_1")
///     .with_location("us-central1");
/// assert_eq!(query.job_id(), Some("run_7_shard_0_round_1"));
/// assert!(Query::new("SELECT 1").with_job_id("no spaces").check().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    sql: String,
    job_id: Option<String>,
    location: Option<String>,
}

impl Query {
    /// The query `sql` (Standard SQL), with a job id made up for it and the location
    /// BigQuery infers from the tables it reads.
    pub fn new(sql: impl Into<String>) -> Self {
        Query {
            sql: sql.into(),
            job_id: None,
            location: None,
        }
    }

    /// The job's id: letters, digits, `_` and `-`, at most 1,024. A job with this id that
    /// exists already is waited for, not run again: one id per query that must run once.
    pub fn with_job_id(mut self, id: impl Into<String>) -> Self {
        self.job_id = Some(id.into());
        self
    }

    /// Where the job runs (`US`, `us-central1`): the location of the datasets it uses.
    pub fn with_location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    /// The job id given, if any.
    pub fn job_id(&self) -> Option<&str> {
        self.job_id.as_deref()
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Checks the job id, as [`BigQuery::query_with`] does before any call.
    pub fn check(&self) -> Result<()> {
        if let Some(id) = &self.job_id {
            let ok = !id.is_empty()
                && id.len() <= 1024
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
            if !ok {
                return Err(Error::invalid(
                    "job_id",
                    format!("{id:?}: a BigQuery job id is 1 to 1024 letters, digits, `_` and `-`"),
                ));
            }
        }
        if self.sql.trim().is_empty() {
            return Err(Error::invalid("sql", "the query is empty"));
        }
        Ok(())
    }
}

/// A query job that ended well: where it ran and what it did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryJob {
    /// The project the job ran in.
    pub project: String,
    /// The job's id.
    pub job_id: String,
    /// Where it ran, when the service says.
    pub location: Option<String>,
    /// `SELECT`, `INSERT`, `CREATE_TABLE_AS_SELECT`, ... when the service says.
    pub statement_type: Option<String>,
    /// Rows a DML statement inserted, updated or deleted.
    pub dml_affected_rows: Option<u64>,
    /// The table the results were written to, when there is one.
    pub destination: Option<TableUri>,
}

impl BigQuery {
    /// Runs `sql` (Standard SQL) as a query job in `project` and waits until it is done.
    ///
    /// # Errors
    /// [`Error::BigQuery`] when the service refuses the job or it ends with an error (its
    /// `errorResult`: reason `invalidQuery` for SQL it cannot run, `notFound` for a table that
    /// does not exist).
    pub async fn query(&self, project: &str, sql: &str) -> Result<QueryJob> {
        self.query_with(project, Query::new(sql)).await
    }

    /// Runs `query` as a job in `project` and waits until it is done; see [`Query`] for a job
    /// id that makes it exactly-once.
    pub async fn query_with(&self, project: &str, query: Query) -> Result<QueryJob> {
        query.check()?;
        crate::names::validate_project(project)?;
        let job_id = query
            .job_id
            .clone()
            .unwrap_or_else(|| format!("vertex_batch_{}", insert_batch_id().replace('-', "_")));
        let target = format!("{project}:{job_id}");
        let mut reference = json!({"projectId": project, "jobId": job_id});
        if let Some(location) = &query.location {
            reference["location"] = json!(location);
        }
        let body = json!({
            "jobReference": reference,
            "configuration": {"query": {"query": query.sql, "useLegacySql": false}},
        });
        // A job id given by the caller may name a job made before (by a process started
        // again): look first, as `JobClient::create` looks a job up by its request id. The
        // service would also answer 409 to a second insert; bqemulator runs it again.
        if query.job_id.is_some() {
            match self
                .job(project, &job_id, query.location.as_deref(), &target)
                .await
            {
                Ok(job) => return self.wait(project, &job_id, &target, &query, job).await,
                Err(err) if err.is_not_found() => {}
                Err(err) => return Err(err),
            }
        }
        let inserted = self
            .send(Call {
                op: Op::Query,
                target: &target,
                method: Method::POST,
                path: format!("projects/{}/jobs", uri::encode(project)),
                query: Vec::new(),
                body: Some(body),
            })
            .await;
        let job = match inserted {
            Ok(job) => job,
            // The id names a job already: this query's, sent before. Wait for it.
            Err(Error::BigQuery { code: 409, .. }) => {
                self.job(project, &job_id, query.location.as_deref(), &target)
                    .await?
            }
            Err(err) => return Err(err),
        };
        self.wait(project, &job_id, &target, &query, job).await
    }

    /// Polls `job` until it is DONE.
    async fn wait(
        &self,
        project: &str,
        job_id: &str,
        target: &str,
        query: &Query,
        mut job: Value,
    ) -> Result<QueryJob> {
        let mut poll = 0;
        loop {
            if job.pointer("/status/state").and_then(Value::as_str) == Some("DONE") {
                return finished(project, job_id, target, &job);
            }
            tokio::time::sleep(poll_delay(poll)).await;
            poll += 1;
            job = self
                .job(project, job_id, query.location.as_deref(), target)
                .await?;
        }
    }

    /// `jobs.get`.
    async fn job(
        &self,
        project: &str,
        job_id: &str,
        location: Option<&str>,
        target: &str,
    ) -> Result<Value> {
        let mut params = Vec::new();
        if let Some(location) = location {
            params.push(("location", location.to_owned()));
        }
        self.send(Call {
            op: Op::JobStatus,
            target,
            method: Method::GET,
            path: format!(
                "projects/{}/jobs/{}",
                uri::encode(project),
                uri::encode(job_id)
            ),
            query: params,
            body: None,
        })
        .await
    }

    /// The rows a query job returned, page by page (`jobs.getQueryResults`), typed by its
    /// result's columns as [`rows`](Self::rows) types a table's.
    pub fn query_rows(&self, job: &QueryJob) -> RowStream {
        let client = self.clone();
        let job = job.clone();
        let target = format!("{}:{}", job.project, job.job_id);
        let path = format!(
            "projects/{}/queries/{}",
            uri::encode(&job.project),
            uri::encode(&job.job_id)
        );
        let location = job.location.clone();
        let page_size = self.inner.page_size;
        let params = move |token: Option<String>, max: u32| {
            let mut query = vec![
                ("maxResults", max.to_string()),
                ("formatOptions.useInt64Timestamp", "true".to_owned()),
            ];
            if let Some(location) = &location {
                query.push(("location", location.clone()));
            }
            if let Some(token) = token {
                query.push(("pageToken", token));
            }
            query
        };
        let pages = futures_util::stream::once(async move {
            // The columns first: a page of no rows.
            let head = client
                .send(Call {
                    op: Op::QueryResults,
                    target: &target,
                    method: Method::GET,
                    path: path.clone(),
                    query: params(None, 0),
                    body: None,
                })
                .await?;
            let columns = columns_of(&head);
            Ok::<_, Error>(
                client.paged(Op::QueryResults, target, path, columns, move |token| {
                    params(token, page_size)
                }),
            )
        });
        use futures_util::StreamExt;
        Box::pin(pages.flat_map(|pages| match pages {
            Ok(rows) => rows,
            Err(err) => Box::pin(futures_util::stream::once(async move { Err(err) })),
        }))
    }
}

/// A DONE job as a [`QueryJob`], or its `errorResult` as an error.
fn finished(project: &str, job_id: &str, target: &str, job: &Value) -> Result<QueryJob> {
    if let Some(error) = job.pointer("/status/errorResult") {
        let reason = reason_of(error).unwrap_or_default();
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("the job failed")
            .to_owned();
        return Err(refused(
            Op::Query,
            target,
            code_of_reason(&reason),
            reason,
            message,
        ));
    }
    let destination = job
        .pointer("/configuration/query/destinationTable")
        .and_then(|table| {
            TableUri::new(
                table.get("projectId")?.as_str()?,
                table.get("datasetId")?.as_str()?,
                table.get("tableId")?.as_str()?,
            )
            .ok()
        });
    Ok(QueryJob {
        project: project.to_owned(),
        job_id: job_id.to_owned(),
        location: job
            .pointer("/jobReference/location")
            .and_then(Value::as_str)
            .map(str::to_owned),
        statement_type: job
            .pointer("/statistics/query/statementType")
            .and_then(Value::as_str)
            .map(str::to_owned),
        dml_affected_rows: job
            .pointer("/statistics/query/numDmlAffectedRows")
            .and_then(Value::as_str)
            .and_then(|n| n.parse().ok()),
        destination,
    })
}

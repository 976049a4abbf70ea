//! Listing jobs: a filter builder, one page at a time, or a stream across pages.

use futures_util::{Stream, TryStreamExt, stream};

use crate::call::{Routing, Rpc};
use crate::client::JobClient;
use crate::error::{Error, Result};
use crate::retry::Idempotency;
use crate::v1::{BatchPredictionJob, JobState, ListBatchPredictionJobsRequest};

/// Which jobs to list: conditions joined with AND, in the service's filter syntax
/// (`state`, `display_name`, `labels.KEY`), or a filter string of your own.
///
/// ```
/// use vertex_batch::JobFilter;
/// use vertex_batch::v1::JobState;
///
/// let filter = JobFilter::new()
///     .with_state(JobState::Running)
///     .with_display_name("nightly")
///     .with_label("team", "ml");
/// assert_eq!(
///     filter.to_string(),
///     r#"state="JOB_STATE_RUNNING" AND display_name="nightly" AND labels.team="ml""#
/// );
/// assert_eq!(JobFilter::raw("state!=JOB_STATE_FAILED").to_string(), "state!=JOB_STATE_FAILED");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct JobFilter {
    conditions: Vec<String>,
}

impl JobFilter {
    /// No condition: every job.
    pub fn new() -> Self {
        JobFilter::default()
    }

    /// A filter string passed as it is, e.g. `state="JOB_STATE_SUCCEEDED" OR state="JOB_STATE_FAILED"`.
    pub fn raw(filter: impl Into<String>) -> Self {
        JobFilter { conditions: vec![filter.into()] }
    }

    /// Jobs in this state.
    pub fn with_state(mut self, state: JobState) -> Self {
        self.conditions.push(format!("state=\"{}\"", state.as_str_name()));
        self
    }

    /// Jobs with this display name.
    pub fn with_display_name(mut self, name: &str) -> Self {
        self.conditions.push(format!("display_name={}", quoted(name)));
        self
    }

    /// Jobs with this label.
    pub fn with_label(mut self, key: &str, value: &str) -> Self {
        self.conditions.push(format!("labels.{key}={}", quoted(value)));
        self
    }

    /// Whether the filter has no condition.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }
}

impl std::fmt::Display for JobFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = if self.conditions.len() > 1 {
            // A raw condition with OR must not change meaning once joined.
            self.conditions
                .iter()
                .map(|c| if c.contains(" OR ") { format!("({c})") } else { c.clone() })
                .collect()
        } else {
            self.conditions.clone()
        };
        f.write_str(&parts.join(" AND "))
    }
}

/// A string literal of the filter syntax.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One page of [`JobClient::list_page`].
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct JobPage {
    /// The jobs on this page.
    pub jobs: Vec<BatchPredictionJob>,
    /// The token of the next page, `None` on the last page.
    pub next_page_token: Option<String>,
}

impl JobClient {
    /// One page of jobs: `page_size` at most (0 lets the service choose), after `page_token`
    /// (`None` for the first page). Retried on `UNAVAILABLE`.
    ///
    /// ```no_run
    /// # async fn run(client: vertex_batch::JobClient) -> vertex_batch::Result<()> {
    /// use vertex_batch::JobFilter;
    /// let mut token = None;
    /// loop {
    ///     let page = client.list_page(&JobFilter::new(), 100, token.as_deref()).await?;
    ///     for job in &page.jobs {
    ///         println!("{}", job.name);
    ///     }
    ///     token = page.next_page_token;
    ///     if token.is_none() {
    ///         break;
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn list_page(
        &self,
        filter: &JobFilter,
        page_size: u32,
        page_token: Option<&str>,
    ) -> Result<JobPage> {
        let page_size = i32::try_from(page_size)
            .map_err(|_| Error::invalid("page_size", "at most 2147483647 (the service caps it lower)"))?;
        let parent = self.location().to_string();
        let rpc = Rpc {
            method: "ListBatchPredictionJobs",
            routing: Routing::Parent(&parent),
            idempotency: Idempotency::Idempotent,
        };
        let request = ListBatchPredictionJobsRequest {
            parent: parent.clone(),
            filter: filter.to_string(),
            page_size,
            page_token: page_token.unwrap_or_default().to_owned(),
            read_mask: None,
        };
        let response = self
            .call(rpc, self.retry_policy(), &self.raw(), request, |mut stub, r| async move {
                stub.list_batch_prediction_jobs(r).await
            })
            .await?;
        Ok(JobPage {
            jobs: response.batch_prediction_jobs,
            next_page_token: Some(response.next_page_token).filter(|t| !t.is_empty()),
        })
    }

    /// Every job that matches `filter`, across pages, as a stream; pages are fetched as the
    /// stream is read.
    ///
    /// ```no_run
    /// # async fn run(client: vertex_batch::JobClient) -> vertex_batch::Result<()> {
    /// use futures_util::TryStreamExt;
    /// use vertex_batch::JobFilter;
    /// use vertex_batch::v1::JobState;
    ///
    /// let running: Vec<_> = client
    ///     .list(JobFilter::new().with_state(JobState::Running))
    ///     .try_collect()
    ///     .await?;
    /// println!("{} running", running.len());
    /// # Ok(())
    /// # }
    /// ```
    pub fn list(&self, filter: JobFilter) -> impl Stream<Item = Result<BatchPredictionJob>> + Send + 'static {
        /// Where the walk over pages is.
        enum Next {
            Page(Option<String>),
            Done,
        }
        let client = self.clone();
        stream::try_unfold(Next::Page(None), move |next| {
            let (client, filter) = (client.clone(), filter.clone());
            async move {
                let Next::Page(token) = next else { return Ok(None) };
                let page = client.list_page(&filter, 0, token.as_deref()).await?;
                let next = page.next_page_token.map_or(Next::Done, |t| Next::Page(Some(t)));
                Ok(Some((stream::iter(page.jobs.into_iter().map(Ok)), next)))
            }
        })
        .try_flatten()
    }
}

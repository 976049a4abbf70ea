//! Listing jobs: one page at a time ([`JobClient::list_page`]), or a stream across pages
//! ([`JobClient::list`]). Which jobs: [`JobFilter`] (`filter.rs`).

use futures_util::{Stream, TryStreamExt, stream};

use super::JobClient;
use super::call::{Resend, Routing, Rpc};
use super::filter::JobFilter;
use super::retry::Idempotency;
use crate::error::{Error, Result};
use crate::v1::{BatchPredictionJob, ListBatchPredictionJobsRequest};

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
        let page_size = i32::try_from(page_size).map_err(|_| {
            Error::invalid(
                "page_size",
                "at most 2147483647 (the service caps it lower)",
            )
        })?;
        let parent = self.location().to_string();
        let rpc = Rpc {
            method: "ListBatchPredictionJobs",
            routing: Routing::Parent(&parent),
            resend: Resend::Idempotency(Idempotency::Idempotent),
        };
        let request = ListBatchPredictionJobsRequest {
            parent: parent.clone(),
            filter: filter.to_string(),
            page_size,
            page_token: page_token.unwrap_or_default().to_owned(),
            read_mask: None,
        };
        let response = self
            .call(rpc, &self.raw(), request, |mut stub, r| async move {
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
    pub fn list(
        &self,
        filter: JobFilter,
    ) -> impl Stream<Item = Result<BatchPredictionJob>> + Send + 'static {
        /// Where the walk over pages is.
        enum Next {
            Page(Option<String>),
            Done,
        }
        let client = self.clone();
        stream::try_unfold(Next::Page(None), move |next| {
            let (client, filter) = (client.clone(), filter.clone());
            async move {
                let Next::Page(token) = next else {
                    return Ok(None);
                };
                let page = client.list_page(&filter, 0, token.as_deref()).await?;
                let next = page
                    .next_page_token
                    .map_or(Next::Done, |t| Next::Page(Some(t)));
                Ok(Some((stream::iter(page.jobs.into_iter().map(Ok)), next)))
            }
        })
        .try_flatten()
    }
}

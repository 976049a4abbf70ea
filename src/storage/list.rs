//! Listing by prefix, every page, as a stream.

use futures_util::{Stream, TryStreamExt};
use gcloud_storage::http::objects::list::ListObjectsRequest;

use super::errors::Op;
use super::{ObjectInfo, ObjectUri, Storage};
use crate::error::Result;

impl Storage {
    /// Every object whose name starts with `prefix`'s name, in name order, fetched a page at a
    /// time ([`with_list_page_size`](super::StorageBuilder::with_list_page_size)) as the stream
    /// is read.
    ///
    /// ```no_run
    /// # async fn run(storage: vertex_batch::storage::Storage) -> vertex_batch::Result<()> {
    /// use futures_util::TryStreamExt;
    ///
    /// let prefix = "gs://bucket/out/prediction-model-2025-01-01T00:00:00Z/".parse()?;
    /// let files: Vec<_> = storage
    ///     .list(&prefix)
    ///     .try_filter(|o| std::future::ready(o.uri.name().ends_with(".jsonl")))
    ///     .try_collect()
    ///     .await?;
    /// # let _ = files; Ok(()) }
    /// ```
    pub fn list(
        &self,
        prefix: &ObjectUri,
    ) -> impl Stream<Item = Result<ObjectInfo>> + Send + use<> {
        let this = self.clone();
        let prefix = prefix.clone();
        // State: the next page token; `None` once the last page is read.
        let pages =
            futures_util::stream::try_unfold(Some(None), move |token: Option<Option<String>>| {
                let (this, prefix) = (this.clone(), prefix.clone());
                async move {
                    let Some(page_token) = token else {
                        return Ok(None);
                    };
                    let request = ListObjectsRequest {
                        bucket: prefix.bucket().to_owned(),
                        prefix: (!prefix.name().is_empty()).then(|| prefix.name().to_owned()),
                        page_token,
                        max_results: Some(i32::try_from(this.inner.list_page_size).unwrap_or(1000)),
                        ..ListObjectsRequest::default()
                    };
                    let page = this
                        .retrying(Op::List, &prefix, || {
                            this.inner.client.list_objects(&request)
                        })
                        .await?;
                    let items = page
                        .items
                        .unwrap_or_default()
                        .into_iter()
                        .map(ObjectInfo::from_gcs)
                        .collect::<Result<Vec<_>>>()?;
                    let next = page.next_page_token.filter(|t| !t.is_empty()).map(Some);
                    Ok(Some((
                        futures_util::stream::iter(items.into_iter().map(Ok)),
                        next,
                    )))
                }
            });
        pages.try_flatten()
    }
}

//! Downloads as a stream of bytes, whole or a byte range.

use std::ops::{Bound, RangeBounds};
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use gcloud_storage::http::objects::download::Range;
use gcloud_storage::http::objects::get::GetObjectRequest;

use super::errors::Op;
use super::{ObjectUri, Storage};
use crate::error::Result;

/// The bytes of an object as they arrive.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

impl Storage {
    /// Streams the bytes of `range` of the object `uri` (`..` for all of it, `10..20`, `100..`);
    /// memory holds what the network delivers, not the object.
    ///
    /// ```no_run
    /// # async fn run(storage: vertex_batch::storage::Storage) -> vertex_batch::Result<()> {
    /// use futures_util::TryStreamExt;
    ///
    /// let uri = "gs://bucket/out/predictions.jsonl".parse()?;
    /// let mut stream = storage.download(&uri, ..).await?;
    /// while let Some(bytes) = stream.try_next().await? {
    ///     println!("{} bytes", bytes.len());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Storage`](crate::Error::Storage) 404 when there is no such object, 416 when the
    /// range starts past its end; errors while streaming come as items of the stream.
    pub async fn download(
        &self,
        uri: &ObjectUri,
        range: impl RangeBounds<u64>,
    ) -> Result<ByteStream> {
        let first = match range.start_bound() {
            Bound::Included(&n) => Some(n),
            Bound::Excluded(&n) => Some(n + 1),
            Bound::Unbounded => None,
        };
        let last = match range.end_bound() {
            Bound::Included(&n) => Some(n),
            Bound::Excluded(&n) => {
                if n == 0 || first.is_some_and(|first| first >= n) {
                    // An empty range: nothing to ask for.
                    return Ok(futures_util::stream::empty().boxed());
                }
                Some(n - 1)
            }
            Bound::Unbounded => None,
        };
        let range = match (first, last) {
            (Some(first), last) => Range(Some(first), last),
            // `..=n`: bytes 0 to n (gcloud's (None, n) would be the last n bytes).
            (None, Some(last)) => Range(Some(0), Some(last)),
            (None, None) => Range(None, None),
        };
        let request = GetObjectRequest {
            bucket: uri.bucket().to_owned(),
            object: uri.name().to_owned(),
            ..GetObjectRequest::default()
        };
        let stream = self
            .inner
            .client
            .download_streamed_object(&request, &range)
            .await
            .map_err(|e| self.error(e, Op::Download, uri))?;
        let (this, uri) = (self.clone(), uri.clone());
        Ok(stream
            .map_err(move |e| this.error(e, Op::Download, &uri))
            .boxed())
    }
}

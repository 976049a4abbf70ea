//! Downloads as a stream of bytes, whole or a byte range; a small object read whole with the
//! metadata of the generation read.

use std::ops::{Bound, RangeBounds};
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use gcloud_storage::http::objects::download::Range;
use gcloud_storage::http::objects::get::GetObjectRequest;

use super::errors::Op;
use super::{ObjectInfo, ObjectUri, Storage};
use crate::error::{Error, Result};

/// How many times [`Storage::read_object`] starts again when the object is replaced between
/// its metadata and its bytes.
const READ_GENERATION_TRIES: u32 = 5;

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

    /// A small object read whole, at most `max_bytes`, with the metadata of the very
    /// generation read: its metadata first, then its bytes pinned to that generation
    /// (`generation=`), so the bytes and the [`ObjectInfo`] always match. When the object is
    /// replaced in between, it is read again.
    ///
    /// ```no_run
    /// # async fn run(storage: vertex_batch::storage::Storage) -> vertex_batch::Result<()> {
    /// let uri = "gs://bucket/run/manifest.json".parse()?;
    /// let (bytes, info) = storage.read_object(&uri, 1 << 20).await?;
    /// assert_eq!(bytes.len() as u64, info.size);
    /// println!("generation {} holds {} bytes", info.generation, bytes.len());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `max_bytes` when the object is larger (nothing is
    /// downloaded then); otherwise as [`Storage::metadata`] (404 when there is no such object).
    pub async fn read_object(
        &self,
        uri: &ObjectUri,
        max_bytes: u64,
    ) -> Result<(Bytes, ObjectInfo)> {
        let mut tries = 1;
        loop {
            let info = self.metadata(uri).await?;
            if info.size > max_bytes {
                return Err(Error::invalid(
                    "max_bytes",
                    format!(
                        "{uri} has {} bytes, more than the {max_bytes} bytes asked for at most: \
                         raise max_bytes, or stream it with Storage::download",
                        info.size
                    ),
                ));
            }
            match self.read_generation(uri, &info).await {
                Ok(bytes) => return Ok((bytes, info)),
                // That generation is gone: the object was replaced or deleted since its
                // metadata was read. Read what is there now.
                Err(err) if err.is_not_found() && tries < READ_GENERATION_TRIES => tries += 1,
                Err(err) => return Err(err),
            }
        }
    }

    /// The bytes of the generation `info` describes, checked against its size.
    async fn read_generation(&self, uri: &ObjectUri, info: &ObjectInfo) -> Result<Bytes> {
        let request = GetObjectRequest {
            bucket: uri.bucket().to_owned(),
            object: uri.name().to_owned(),
            generation: Some(info.generation),
            ..GetObjectRequest::default()
        };
        let mut stream = self
            .inner
            .client
            .download_streamed_object(&request, &Range(None, None))
            .await
            .map_err(|e| self.error(e, Op::Download, uri))?;
        let capacity = usize::try_from(info.size)
            .unwrap_or(usize::MAX)
            .min(1 << 24);
        let mut all = Vec::with_capacity(capacity);
        while let Some(bytes) = stream.next().await {
            let bytes = bytes.map_err(|e| self.error(e, Op::Download, uri))?;
            if all.len() as u64 + bytes.len() as u64 > info.size {
                return Err(self.short_or_long(uri, info, "more"));
            }
            all.extend_from_slice(&bytes);
        }
        if all.len() as u64 != info.size {
            return Err(self.short_or_long(uri, info, "fewer"));
        }
        Ok(Bytes::from(all))
    }

    fn short_or_long(&self, uri: &ObjectUri, info: &ObjectInfo, which: &str) -> Error {
        super::errors::storage(
            Op::Download,
            &uri.to_string(),
            502,
            format!(
                "the service sent {which} bytes than the {} of generation {} (at {})",
                info.size,
                info.generation,
                self.endpoint()
            ),
        )
    }
}

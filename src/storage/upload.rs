//! Uploads: a stream or a file as a resumable upload, in chunks, holding one chunk in memory;
//! a small value in one request.
//!
//! The resumable protocol: one request opens a session, then each chunk is a `PUT` with
//! `Content-Range: bytes FIRST-LAST/*` (the size is unknown until the stream ends) answered by
//! `308 Resume Incomplete` and the range the service has kept, and the last chunk says the total
//! (`bytes FIRST-LAST/TOTAL`, or `bytes */TOTAL` when nothing is left) and is answered with the
//! object. The service may keep less than a chunk: the client then sends again from where it
//! stopped, which is why the chunk stays in memory until it is acknowledged.

use std::path::Path;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use gcloud_storage::http::objects::upload::{Media, UploadObjectRequest, UploadType};
use gcloud_storage::http::resumable_upload_client::{ChunkSize, UploadStatus};

use super::errors::{Op, storage};
use super::{ObjectInfo, ObjectUri, Storage};
use crate::error::{Error, Result};

/// How much of a local file is read at a time for [`Storage::upload_file`].
const FILE_READ_SIZE: usize = 1024 * 1024;

impl Storage {
    /// Uploads everything `data` yields as the object `uri`, as a resumable upload in chunks of
    /// [`with_upload_chunk_size`](super::StorageBuilder::with_upload_chunk_size): memory holds
    /// one chunk, whatever the object's size. An existing object is replaced.
    ///
    /// ```no_run
    /// # async fn run(storage: vertex_batch::storage::Storage) -> vertex_batch::Result<()> {
    /// use bytes::Bytes;
    ///
    /// let lines = (0..3).map(|i| Ok(Bytes::from(format!("{{\"n\": {i}}}\n"))));
    /// let info = storage
    ///     .upload_stream(&"gs://bucket/n.jsonl".parse()?, futures_util::stream::iter(lines))
    ///     .await?;
    /// assert_eq!(info.size, 30);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] when `data` yields an error (nothing is committed then);
    /// [`Error::Storage`] when the service refuses a request; [`Error::Auth`] or
    /// [`Error::Transport`] when a request cannot be made.
    pub async fn upload_stream<S>(&self, uri: &ObjectUri, data: S) -> Result<ObjectInfo>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send,
    {
        let chunk = self.inner.upload_chunk_size;
        let request = UploadObjectRequest {
            bucket: uri.bucket().to_owned(),
            ..UploadObjectRequest::default()
        };
        let mut media = Media::new(uri.name().to_owned());
        media.content_type = content_type(uri.name()).into();
        let session = self
            .inner
            .client
            .prepare_resumable_upload(&request, &UploadType::Simple(media))
            .await
            .map_err(|e| self.error(e, Op::Upload, uri))?;

        let mut data = std::pin::pin!(data);
        // The bytes not yet acknowledged; `start` is the object offset of buffer[0].
        let mut buffer: Vec<u8> = Vec::with_capacity(chunk);
        let mut start: u64 = 0;
        let mut ended = false;
        loop {
            // One byte past a chunk tells whether this chunk is the last one.
            while buffer.len() <= chunk && !ended {
                match data.next().await {
                    Some(Ok(bytes)) => buffer.extend_from_slice(&bytes),
                    Some(Err(source)) => {
                        return Err(Error::Io {
                            path: None,
                            source: std::io::Error::new(
                                source.kind(),
                                format!("reading the data for {uri}: {source}"),
                            ),
                        });
                    }
                    None => ended = true,
                }
            }
            if ended && buffer.len() <= chunk {
                let total = start + buffer.len() as u64;
                let range = ChunkSize::new(start, total.saturating_sub(1), Some(total));
                let status = session
                    .upload_multiple_chunk(std::mem::take(&mut buffer), &range)
                    .await
                    .map_err(|e| self.error(e, Op::Upload, uri))?;
                return match status {
                    UploadStatus::Ok(object) => ObjectInfo::from_gcs(object),
                    _ => Err(self.protocol(uri, "did not finish the upload after its last chunk")),
                };
            }
            let end = start + chunk as u64;
            let range = ChunkSize::new(start, end - 1, None);
            let body = Bytes::copy_from_slice(&buffer[..chunk]);
            let kept = match session
                .upload_multiple_chunk(body, &range)
                .await
                .map_err(|e| self.error(e, Op::Upload, uri))?
            {
                UploadStatus::ResumeIncomplete(kept) => kept.last_byte + 1,
                UploadStatus::NotStarted => 0,
                UploadStatus::Ok(_) => {
                    return Err(self.protocol(uri, "ended the upload before its last chunk"));
                }
            };
            if kept < start || kept > end {
                return Err(self.protocol(
                    uri,
                    &format!(
                        "kept bytes 0-{kept} after it was sent bytes {start}-{}",
                        end - 1
                    ),
                ));
            }
            buffer.drain(..(kept - start) as usize);
            start = kept;
        }
    }

    /// Uploads a local file as the object `uri` ([`Storage::upload_stream`] over its bytes).
    ///
    /// # Errors
    /// [`Error::Io`] naming the file when it cannot be read; otherwise as
    /// [`Storage::upload_stream`].
    pub async fn upload_file(&self, path: impl AsRef<Path>, uri: &ObjectUri) -> Result<ObjectInfo> {
        let path = path.as_ref().to_path_buf();
        let io_error = |path: &Path, source| Error::Io {
            path: Some(path.to_path_buf()),
            source,
        };
        let file = std::fs::File::open(&path).map_err(|e| io_error(&path, e))?;
        let chunks = futures_util::stream::try_unfold(Some(file), |file| async move {
            let Some(mut file) = file else {
                return Ok(None);
            };
            // Reads block; they run on the blocking pool, one at a time.
            let (file, bytes) = tokio::task::spawn_blocking(move || {
                use std::io::Read;
                let mut bytes = vec![0; FILE_READ_SIZE];
                let n = file.read(&mut bytes)?;
                bytes.truncate(n);
                Ok::<_, std::io::Error>((file, bytes))
            })
            .await
            .map_err(std::io::Error::other)??;
            if bytes.is_empty() {
                Ok(None)
            } else {
                Ok(Some((Bytes::from(bytes), Some(file))))
            }
        });
        self.upload_stream(uri, chunks.map_err(|e| e))
            .await
            .map_err(|err| match err {
                Error::Io { path: None, source } => io_error(&path, source),
                other => other,
            })
    }

    /// Uploads a small value in one request (a media upload): a manifest, a marker.
    ///
    /// # Errors
    /// As [`Storage::upload_stream`].
    pub async fn upload_bytes(
        &self,
        uri: &ObjectUri,
        data: impl Into<Bytes>,
    ) -> Result<ObjectInfo> {
        let request = UploadObjectRequest {
            bucket: uri.bucket().to_owned(),
            ..UploadObjectRequest::default()
        };
        let mut media = Media::new(uri.name().to_owned());
        media.content_type = content_type(uri.name()).into();
        let data: Bytes = data.into();
        media.content_length = Some(data.len() as u64);
        let object = self
            .inner
            .client
            .upload_object(&request, data, &UploadType::Simple(media))
            .await
            .map_err(|e| self.error(e, Op::Upload, uri))?;
        ObjectInfo::from_gcs(object)
    }

    fn protocol(&self, uri: &ObjectUri, what: &str) -> Error {
        storage(
            Op::Upload,
            &uri.to_string(),
            502,
            format!("the service {what} (at {})", self.inner.endpoint),
        )
    }
}

/// The content type for an object name: JSON Lines for `.jsonl`, JSON for `.json`.
fn content_type(name: &str) -> &'static str {
    if name.ends_with(".jsonl") {
        "application/jsonl"
    } else if name.ends_with(".json") {
        "application/json"
    } else {
        "application/octet-stream"
    }
}

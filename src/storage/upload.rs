//! Uploads: a stream or a file as a resumable upload, in chunks, holding one chunk in memory;
//! a small value in one request.
//!
//! The resumable protocol: one request opens a session, then each chunk is a `PUT` with
//! `Content-Range: bytes FIRST-LAST/*` (the size is unknown until the stream ends) answered by
//! `308 Resume Incomplete` and the range the service has kept, and the last chunk says the total
//! (`bytes FIRST-LAST/TOTAL`, or `bytes */TOTAL` when nothing is left) and is answered with the
//! object. The service may keep less than a chunk: the client then sends again from where it
//! stopped, which is why the chunk stays in memory until it is acknowledged. A chunk that
//! fails on the way (a broken connection, 408, 429, 5xx) is followed, after the retry policy's
//! backoff (`retry.rs`), by a status query (`bytes */*`) and the upload goes on from what the
//! service kept. The session's start and single-request uploads are retried the same way.

use std::path::Path;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use gcloud_storage::http::objects::upload::{Media, UploadObjectRequest, UploadType};
use gcloud_storage::http::resumable_upload_client::{
    ChunkSize, ResumableUploadClient, UploadStatus,
};

use super::errors::{Op, storage};
use super::retry::Attempts;
use super::{ObjectInfo, ObjectUri, Preconditions, Storage};
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
        self.upload_stream_if(uri, data, Preconditions::none())
            .await
    }

    /// [`Storage::upload_stream`] if `conditions` hold: checked by the service when the
    /// upload starts and again when its last chunk commits it, so an object created or
    /// replaced meanwhile is not overwritten.
    ///
    /// ```no_run
    /// # async fn run(storage: vertex_batch::storage::Storage) -> vertex_batch::Result<()> {
    /// use bytes::Bytes;
    /// use vertex_batch::storage::Preconditions;
    ///
    /// let lines = futures_util::stream::iter([Ok(Bytes::from("{\"n\": 1}\n"))]);
    /// let shard = "gs://bucket/run/shard-0.jsonl".parse()?;
    /// match storage.upload_stream_if(&shard, lines, Preconditions::if_absent()).await {
    ///     Ok(info) => println!("staged, generation {}", info.generation),
    ///     Err(err) if err.is_precondition_failed() => println!("already staged"),
    ///     Err(err) => return Err(err),
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Storage::upload_stream`];
    /// [`Error::is_precondition_failed`](crate::Error::is_precondition_failed) (412) when a
    /// condition did not hold, at the start or at the end, and nothing was written.
    pub async fn upload_stream_if<S>(
        &self,
        uri: &ObjectUri,
        data: S,
        conditions: Preconditions,
    ) -> Result<ObjectInfo>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send,
    {
        let chunk = self.inner.upload_chunk_size;
        let mut request = UploadObjectRequest {
            bucket: uri.bucket().to_owned(),
            ..UploadObjectRequest::default()
        };
        conditions.on_upload(&mut request);
        let mut media = Media::new(uri.name().to_owned());
        media.content_type = content_type(uri.name()).into();
        let upload_type = UploadType::Simple(media);
        let session = self
            .retrying(Op::Upload, uri, || {
                self.inner
                    .client
                    .prepare_resumable_upload(&request, &upload_type)
            })
            .await?;

        let mut data = std::pin::pin!(data);
        // The bytes not yet acknowledged; `start` is the object offset of buffer[0]. A chunk
        // and the piece past it fit without growing the buffer (which would copy the chunk
        // into an allocation twice its size), for pieces of up to an eighth of a chunk.
        let buffer_size = chunk + chunk / 8;
        let mut buffer: Vec<u8> = Vec::with_capacity(buffer_size);
        let mut start: u64 = 0;
        let mut ended = false;
        let mut spare: Option<Vec<u8>> = None;
        loop {
            // One byte past a chunk tells whether this chunk is the last one.
            while buffer.len() <= chunk && !ended {
                match data.next().await {
                    Some(Ok(bytes)) => buffer.extend_from_slice(&bytes),
                    Some(Err(source)) => {
                        return Err(Error::Io {
                            path: None,
                            error: std::io::Error::new(
                                source.kind(),
                                format!("reading the data for {uri}: {source}"),
                            ),
                        });
                    }
                    None => ended = true,
                }
            }
            let last = ended && buffer.len() <= chunk;
            let (len, total) = if last {
                (buffer.len(), Some(start + buffer.len() as u64))
            } else {
                (chunk, None)
            };
            let end = start + len as u64;
            let range = ChunkSize::new(start, end.saturating_sub(1), total);
            // The chunk goes as it is (no copy); the bytes past it start the next buffer, in
            // the allocation of the chunk before (two buffers take turns, whatever the size).
            // The last chunk has no next one.
            let mut next = match spare.take() {
                Some(spare) => spare,
                None if last => Vec::new(),
                None => Vec::with_capacity(buffer_size),
            };
            next.extend_from_slice(&buffer[len..]);
            buffer.truncate(len);
            let body = Bytes::from(std::mem::replace(&mut buffer, next));
            let kept = match self
                .put_chunk(&session, body.clone(), &range, total, uri)
                .await?
            {
                UploadStatus::Ok(object) if last => return ObjectInfo::from_gcs(object),
                UploadStatus::Ok(_) => {
                    return Err(self.protocol(uri, "ended the upload before its last chunk"));
                }
                UploadStatus::ResumeIncomplete(kept) => kept.last_byte + 1,
                UploadStatus::NotStarted => 0,
            };
            if kept < start || kept > end {
                return Err(self.protocol(
                    uri,
                    &format!(
                        "kept bytes up to {kept} after it was sent bytes {start}-{}",
                        end.saturating_sub(1)
                    ),
                ));
            }
            // What the service kept is gone from memory; the rest is sent again.
            if kept < end {
                let mut unsent = body[(kept - start) as usize..].to_vec();
                unsent.extend_from_slice(&buffer);
                buffer = unsent;
            }
            start = kept;
            // The client let go of the chunk: its allocation serves the next one.
            if let Ok(sent) = body.try_into_mut() {
                let mut sent = Vec::from(sent);
                sent.clear();
                spare = Some(sent);
            }
        }
    }

    /// Sends one chunk. When it fails in a way worth retrying (the connection broke, 408, 429,
    /// 5xx), waits the retry policy's backoff, asks the session what it kept and answers with
    /// that, so the caller sends the rest; once the policy is spent, the error.
    async fn put_chunk(
        &self,
        session: &ResumableUploadClient,
        body: Bytes,
        range: &ChunkSize,
        total: Option<u64>,
        uri: &ObjectUri,
    ) -> Result<UploadStatus> {
        let mut err = match session.upload_multiple_chunk(body.clone(), range).await {
            Ok(status) => return Ok(status),
            Err(err) => err,
        };
        // The budget counts from the failure: sending the chunk may have taken long.
        let mut attempts = Attempts::new();
        loop {
            match attempts.retry_after(self, &err, Op::Upload, uri) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(self.error(err, Op::Upload, uri)),
            }
            err = match session.status(total).await {
                Ok(status) => return Ok(status),
                // The status query failed too: after the next backoff, ask again.
                Err(err) => err,
            };
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
            error: source,
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
        self.upload_stream(uri, chunks)
            .await
            .map_err(|err| match err {
                Error::Io { path: None, error } => io_error(&path, error),
                other => other,
            })
    }

    /// Uploads a small value in one request (a media upload): a manifest, a marker. An
    /// existing object is replaced ([`Storage::upload_bytes_if`] with [`Preconditions::none`]).
    ///
    /// ```no_run
    /// # async fn run(storage: vertex_batch::storage::Storage) -> vertex_batch::Result<()> {
    /// let info = storage
    ///     .upload_bytes(&"gs://bucket/run/marker.txt".parse()?, "done")
    ///     .await?;
    /// assert_eq!(info.size, 4);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Storage::upload_stream`].
    pub async fn upload_bytes(
        &self,
        uri: &ObjectUri,
        data: impl Into<Bytes>,
    ) -> Result<ObjectInfo> {
        self.upload_bytes_if(uri, data, Preconditions::none()).await
    }

    /// Uploads a small value in one request if `conditions` hold: only when no object of that
    /// name exists ([`Preconditions::if_absent`]), or only over the generation read
    /// ([`Preconditions::if_generation`]). The answer is the new object's metadata, whose
    /// `generation` the next conditional write names.
    ///
    /// ```no_run
    /// # async fn run(storage: vertex_batch::storage::Storage) -> vertex_batch::Result<()> {
    /// use vertex_batch::storage::Preconditions;
    ///
    /// let uri = "gs://bucket/run/lease.json".parse()?;
    /// let first = storage.upload_bytes_if(&uri, "{\"n\":1}", Preconditions::if_absent()).await?;
    /// let second = storage
    ///     .upload_bytes_if(&uri, "{\"n\":2}", Preconditions::if_generation(first.generation))
    ///     .await?;
    /// assert!(second.generation > first.generation);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Storage::upload_stream`];
    /// [`Error::is_precondition_failed`](crate::Error::is_precondition_failed) (412) when a
    /// condition did not hold, and nothing was written.
    pub async fn upload_bytes_if(
        &self,
        uri: &ObjectUri,
        data: impl Into<Bytes>,
        conditions: Preconditions,
    ) -> Result<ObjectInfo> {
        let mut request = UploadObjectRequest {
            bucket: uri.bucket().to_owned(),
            ..UploadObjectRequest::default()
        };
        conditions.on_upload(&mut request);
        let mut media = Media::new(uri.name().to_owned());
        media.content_type = content_type(uri.name()).into();
        let data: Bytes = data.into();
        media.content_length = Some(data.len() as u64);
        let upload_type = UploadType::Simple(media);
        let object = self
            // As long as it takes: the size is the caller's.
            .retrying_within(Op::Upload, uri, None, || {
                self.inner
                    .client
                    .upload_object(&request, data.clone(), &upload_type)
            })
            .await?;
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

//! Downloads as a stream of bytes, whole or a byte range, that survive a connection cut
//! mid-stream; a small object read whole with the metadata of the generation read.
//!
//! A download first reads the object's metadata, then asks for the bytes of that generation
//! (`generation=`): when the body breaks off (or a request fails with 408, 429, 5xx), it asks
//! again, after the retry policy's backoff, for the bytes from the last one received, of the
//! same generation. If the object was replaced meanwhile, that generation is gone (404) and
//! the stream ends with an error saying so, never with bytes of two versions. A body that
//! stalls (no byte within the retry policy's attempt timeout) is resumed the same way.
//!
//! A download of a whole object checks its bytes against the hash Cloud Storage keeps of that
//! generation (its metadata's CRC32C, or its MD5 when it has no CRC32C), across resumes too: a
//! mismatch ends the stream with an error instead of its end. A range cannot be checked
//! against the hash of the whole, and is not.

use std::ops::{Bound, RangeBounds};
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use gcloud_storage::http::objects::download::Range;
use gcloud_storage::http::objects::get::GetObjectRequest;

use super::errors::{Op, storage};
use super::retry::Attempts;
use super::{ObjectInfo, ObjectUri, Storage};
use crate::error::{Error, Result};

/// How many times a download or [`Storage::read_object`] starts again when the object is
/// replaced between its metadata and its first bytes.
const GENERATION_TRIES: u32 = 5;

/// The bytes of an object as they arrive.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// A response body as gcloud-storage streams it.
type Body = Pin<Box<dyn Stream<Item = Result<Bytes, gcloud_storage::http::Error>> + Send>>;

impl Storage {
    /// Streams the bytes of `range` of the object `uri` (`..` for all of it, `10..20`, `100..`);
    /// memory holds what the network delivers, not the object. A connection cut mid-stream
    /// is resumed from the last byte received, of the same generation (see the module docs).
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
    /// [`Error::Storage`] 404 when there is no such object, 416 when the
    /// range starts past its end; errors while streaming come as items of the stream (a 404
    /// saying the object changed when it was replaced mid-download).
    pub async fn download(
        &self,
        uri: &ObjectUri,
        range: impl RangeBounds<u64>,
    ) -> Result<ByteStream> {
        let first = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let last = match range.end_bound() {
            Bound::Included(&n) => Some(n),
            Bound::Excluded(&n) => {
                if n == 0 || first >= n {
                    // An empty range: nothing to ask for.
                    return Ok(futures_util::stream::empty().boxed());
                }
                Some(n - 1)
            }
            Bound::Unbounded => None,
        };
        let download = self.pinned(uri, first, last).await?;
        Ok(download.into_stream())
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
    /// [`Error::InvalidInput`] naming `max_bytes` when the object is larger (its bytes are not
    /// downloaded then); otherwise as [`Storage::download`].
    pub async fn read_object(
        &self,
        uri: &ObjectUri,
        max_bytes: u64,
    ) -> Result<(Bytes, ObjectInfo)> {
        let mut tries = 1;
        loop {
            let info = self.object_info(uri, Op::Download).await?;
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
            let download = match self.open_generation(uri, info.clone(), 0, None).await {
                Ok(download) => download,
                // That generation is gone: the object was replaced or deleted since its
                // metadata was read. Read what is there now.
                Err(err) if err.is_not_found() && tries < GENERATION_TRIES => {
                    tries += 1;
                    continue;
                }
                Err(err) => return Err(err),
            };
            let capacity = usize::try_from(info.size)
                .unwrap_or(usize::MAX)
                .min(1 << 24);
            let bytes = download
                .into_stream()
                .try_fold(Vec::with_capacity(capacity), |mut all, bytes| async move {
                    all.extend_from_slice(&bytes);
                    Ok(all)
                })
                .await?;
            return Ok((Bytes::from(bytes), info));
        }
    }

    /// A download of `first..=last` of the object's current generation, its first request
    /// answered.
    async fn pinned(&self, uri: &ObjectUri, first: u64, last: Option<u64>) -> Result<Download> {
        let mut tries = 1;
        loop {
            let info = self.object_info(uri, Op::Download).await?;
            match self.open_generation(uri, info, first, last).await {
                Err(err) if err.is_not_found() && tries < GENERATION_TRIES => tries += 1,
                opened => return opened,
            }
        }
    }

    /// A download of `first..=last` of the generation `info` describes, its first request
    /// answered (retried as the policy says).
    async fn open_generation(
        &self,
        uri: &ObjectUri,
        info: ObjectInfo,
        first: u64,
        last: Option<u64>,
    ) -> Result<Download> {
        // One past the last byte to receive.
        let end = last.map_or(info.size, |last| last.saturating_add(1).min(info.size));
        let mut download = Download {
            storage: self.clone(),
            uri: uri.clone(),
            info,
            first,
            last,
            next: first,
            end,
            body: None,
            attempts: Attempts::new(),
            done: false,
            check: None,
        };
        if first == 0 && end == download.info.size {
            download.check = Check::of(&download.info);
        }
        download.body = Some(download.request().await?);
        Ok(download)
    }
}

/// A download under way: what was asked, how far it got, and the response being read.
struct Download {
    storage: Storage,
    uri: ObjectUri,
    /// The generation being read, with its size.
    info: ObjectInfo,
    first: u64,
    last: Option<u64>,
    /// The next byte to receive.
    next: u64,
    /// One past the last byte to receive.
    end: u64,
    body: Option<Body>,
    attempts: Attempts,
    /// An error was yielded: nothing more comes.
    done: bool,
    /// The hash the bytes must have, for a download of the whole object.
    check: Option<Check>,
}

/// The hash of an object's bytes so far, and the one its metadata says it has.
enum Check {
    Crc32c {
        expected: u32,
        running: u32,
    },
    Md5 {
        expected: [u8; 16],
        running: md5::Md5,
    },
}

impl Check {
    /// The check of `info`'s hashes: its CRC32C (cheap), else its MD5; `None` when it has
    /// neither in the form the service writes them (base64 of 4 and 16 bytes).
    fn of(info: &ObjectInfo) -> Option<Self> {
        use base64::Engine;
        let decode = |text: &str| base64::engine::general_purpose::STANDARD.decode(text).ok();
        if let Some(bytes) = info.crc32c.as_deref().and_then(decode)
            && let Ok(bytes) = <[u8; 4]>::try_from(bytes)
        {
            return Some(Check::Crc32c {
                expected: u32::from_be_bytes(bytes),
                running: 0,
            });
        }
        let bytes = info.md5_hash.as_deref().and_then(decode)?;
        Some(Check::Md5 {
            expected: <[u8; 16]>::try_from(bytes).ok()?,
            running: <md5::Md5 as md5::Digest>::new(),
        })
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Check::Crc32c { running, .. } => *running = crc32c::crc32c_append(*running, bytes),
            Check::Md5 { running, .. } => md5::Digest::update(running, bytes),
        }
    }

    /// `None` when the bytes have the hash expected; else what differs.
    fn mismatch(self) -> Option<String> {
        use base64::Engine;
        let text = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        match self {
            Check::Crc32c { expected, running } => (expected != running).then(|| {
                format!(
                    "CRC32C {} (their metadata says {})",
                    text(&running.to_be_bytes()),
                    text(&expected.to_be_bytes())
                )
            }),
            Check::Md5 { expected, running } => {
                let got: [u8; 16] = md5::Digest::finalize(running).into();
                (expected != got).then(|| {
                    format!(
                        "MD5 {} (their metadata says {})",
                        text(&got),
                        text(&expected)
                    )
                })
            }
        }
    }
}

impl Download {
    fn into_stream(self) -> ByteStream {
        futures_util::stream::unfold(self, |mut download| async move {
            let item = download.next_bytes().await?;
            Some((item, download))
        })
        .boxed()
    }

    /// The request for the bytes from `next` on, of the pinned generation, retried on
    /// transient failures.
    async fn request(&mut self) -> Result<Body> {
        let request = GetObjectRequest {
            bucket: self.uri.bucket().to_owned(),
            object: self.uri.name().to_owned(),
            generation: Some(self.info.generation),
            ..GetObjectRequest::default()
        };
        // The whole object asks for no range: a `bytes=0-` of an empty object would be a 416.
        let range = if self.next == 0 && self.last.is_none() {
            Range(None, None)
        } else {
            Range(Some(self.next), self.last)
        };
        let client = &self.storage.inner.client;
        let resumed = self.next > self.first;
        let body = self
            .storage
            .retrying(Op::Download, &self.uri, || async {
                client.download_streamed_object(&request, &range).await
            })
            .await;
        match body {
            Ok(body) => Ok(body.boxed()),
            Err(err) if resumed && err.is_not_found() => Err(storage(
                Op::Download,
                &self.uri.to_string(),
                404,
                format!(
                    "the object changed while it was downloaded: generation {} is gone after \
                     {} of its bytes were received; download it again",
                    self.info.generation,
                    self.next - self.first
                ),
            )),
            Err(err) => Err(err),
        }
    }

    /// The next bytes, resuming after a broken body; `None` at the end.
    async fn next_bytes(&mut self) -> Option<Result<Bytes>> {
        if self.done {
            return None;
        }
        loop {
            let Some(body) = self.body.as_mut() else {
                if self.next >= self.end {
                    return self.finish();
                }
                match self.request().await {
                    Ok(body) => self.body = Some(body),
                    Err(err) => return self.fail(err),
                }
                continue;
            };
            let limit = self.storage.retry_policy().attempt_timeout();
            let next = match limit {
                Some(limit) => tokio::time::timeout(limit, body.next()).await.ok(),
                None => Some(body.next().await),
            };
            let Some(next) = next else {
                // A stalled body: no byte within the attempt timeout. As a broken connection.
                self.body = None;
                let what = format!(
                    "no byte within {:?} after byte {} of {}",
                    limit.unwrap_or_default(),
                    self.next,
                    self.end
                );
                match self.attempts.retry_after_failure(
                    &self.storage,
                    &what,
                    Op::Download,
                    &self.uri,
                ) {
                    Some(delay) => {
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    None => {
                        let err = self.storage.timed_out(&what);
                        return self.fail(err);
                    }
                }
            };
            let cut = match next {
                Some(Ok(bytes)) => {
                    let received = self.next.saturating_add(bytes.len() as u64);
                    if received > self.end {
                        let err = self.protocol("sent more bytes than the range asked for");
                        return self.fail(err);
                    }
                    self.next = received;
                    self.attempts.reset();
                    if let Some(check) = &mut self.check {
                        check.update(&bytes);
                    }
                    return Some(Ok(bytes));
                }
                Some(Err(err)) => {
                    self.body = None;
                    match self
                        .attempts
                        .retry_after(&self.storage, &err, Op::Download, &self.uri)
                    {
                        Some(delay) => delay,
                        None => {
                            let err = self.storage.error(err, Op::Download, &self.uri);
                            return self.fail(err);
                        }
                    }
                }
                None => {
                    self.body = None;
                    if self.next >= self.end {
                        return self.finish();
                    }
                    // The body ended early without an error: as a broken connection.
                    let what = format!("the body ended after byte {} of {}", self.next, self.end);
                    match self.attempts.retry_after_failure(
                        &self.storage,
                        &what,
                        Op::Download,
                        &self.uri,
                    ) {
                        Some(delay) => delay,
                        None => {
                            let err = self.protocol(&what);
                            return self.fail(err);
                        }
                    }
                }
            };
            tokio::time::sleep(cut).await;
        }
    }

    /// The end of the bytes: `None`, or an error when they do not have the object's hash.
    fn finish(&mut self) -> Option<Result<Bytes>> {
        self.done = true;
        let mismatch = self.check.take()?.mismatch()?;
        let err = storage(
            Op::Download,
            &self.uri.to_string(),
            502,
            format!(
                "the {} bytes received of generation {} have {mismatch}: they changed on the way \
                 or where they are kept; download it again, and if it happens again the object \
                 itself is damaged (at {})",
                self.end,
                self.info.generation,
                self.storage.endpoint()
            ),
        );
        Some(Err(err))
    }

    fn fail(&mut self, err: Error) -> Option<Result<Bytes>> {
        self.done = true;
        self.body = None;
        Some(Err(err))
    }

    fn protocol(&self, what: &str) -> Error {
        storage(
            Op::Download,
            &self.uri.to_string(),
            502,
            format!(
                "the service {what} (generation {}, at {})",
                self.info.generation,
                self.storage.endpoint()
            ),
        )
    }
}

//! Cloud Storage for batch runs (feature `storage`): upload a stream or a file as a resumable
//! upload, download as a stream (whole or a byte range), list by prefix across pages, read an
//! object's metadata, delete.
//!
//! The client speaks the JSON API through [gcloud-storage](https://crates.io/crates/gcloud-storage)
//! with this crate's own token cache, so Vertex AI and Cloud Storage share one token source
//! ([`StorageBuilder::with_tokens_of`]). [`Storage::from_env`] honours `STORAGE_EMULATOR_HOST`
//! as Google's storage clients do; the crate's emulator serves the same API
//! ([`Emulator::storage_uri`](crate::emulator::Emulator::storage_uri) with feature
//! `emulator`). The README's "Cloud Storage" section says why this crate and what it costs to
//! build.
//!
//! Every request is retried on 408, 429, 5xx and broken connections with the crate's one
//! backoff ([`StorageBuilder::with_retry_policy`], `retry.rs`); a download cut off mid-stream
//! goes on from its last byte, pinned to the generation it started with. Writes and deletes
//! can be made conditional on an object's generation ([`Preconditions`]), which is how two
//! processes share an object safely.
//!
//! ```no_run
//! # async fn run() -> vertex_batch::Result<()> {
//! use futures_util::TryStreamExt;
//! use vertex_batch::storage::{ObjectUri, Storage};
//!
//! let storage = Storage::from_env().build()?;
//! let input: ObjectUri = "gs://my-bucket/runs/1/input.jsonl".parse()?;
//! storage.upload_file("prompts.jsonl", &input).await?;
//! let head = storage
//!     .download(&input, 0..1024)
//!     .await?
//!     .try_fold(Vec::new(), |mut all, bytes| async move {
//!         all.extend_from_slice(&bytes);
//!         Ok(all)
//!     })
//!     .await?;
//! let objects: Vec<_> = storage.list(&"gs://my-bucket/runs/1/".parse()?).try_collect().await?;
//! println!("{} bytes read; {} objects", head.len(), objects.len());
//! # Ok(()) }
//! ```

mod builder;
mod download;
mod errors;
mod list;
mod object;
mod preconditions;
mod retry;
#[cfg(feature = "bigquery")]
pub(crate) use retry::describe_connection;
pub(crate) mod tls;
mod tokens;
mod upload;
mod uri;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gcloud_storage::client::Client;
use gcloud_storage::http::objects::delete::DeleteObjectRequest;
use gcloud_storage::http::objects::get::GetObjectRequest;

pub use builder::{
    CHUNK_GRANULARITY, DEFAULT_ENDPOINT, DEFAULT_LIST_PAGE_SIZE, DEFAULT_RETRY_BUDGET,
    DEFAULT_UPLOAD_CHUNK_SIZE, EMULATOR_HOST_ENV, StorageBuilder,
};
pub use download::ByteStream;
pub use object::ObjectInfo;
pub use preconditions::Preconditions;
pub use uri::ObjectUri;

use crate::RetryPolicy;
use crate::error::Result;
use errors::Op;

/// A Cloud Storage client. Cheap to clone; clones share the connection pool and tokens.
///
/// `Debug` shows the endpoint, never a token.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    endpoint: String,
    upload_chunk_size: usize,
    list_page_size: u32,
    retry: RetryPolicy,
    /// Requests sent again after a transient failure, by this client and its clones.
    retries: AtomicU64,
}

impl Storage {
    /// A builder with the defaults: `https://storage.googleapis.com`, Application Default
    /// Credentials, 16 MiB upload chunks, 1,000 objects a listing page.
    ///
    /// ```
    /// let storage = vertex_batch::storage::Storage::builder().build()?;
    /// assert_eq!(storage.endpoint(), "https://storage.googleapis.com");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn builder() -> StorageBuilder {
        StorageBuilder::new()
    }

    /// A builder with the defaults, then `STORAGE_EMULATOR_HOST` when it is set: that
    /// address as the endpoint (`http://` added to a bare `host:port`) and no credentials, as
    /// Google's storage clients do. Call
    /// [`with_credentials`](StorageBuilder::with_credentials) after it for an emulator that
    /// requires tokens.
    ///
    /// ```no_run
    /// // STORAGE_EMULATOR_HOST=127.0.0.1:9023
    /// let storage = vertex_batch::storage::Storage::from_env().build()?;
    /// assert_eq!(storage.endpoint(), "http://127.0.0.1:9023");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn from_env() -> StorageBuilder {
        StorageBuilder::from_env()
    }

    pub(crate) fn from_parts(
        client: Client,
        endpoint: String,
        upload_chunk_size: usize,
        list_page_size: u32,
        retry: RetryPolicy,
    ) -> Self {
        Storage {
            inner: Arc::new(Inner {
                client,
                endpoint,
                upload_chunk_size,
                list_page_size,
                retry,
                retries: AtomicU64::new(0),
            }),
        }
    }

    /// How failed requests are retried: see
    /// [`with_retry_policy`](StorageBuilder::with_retry_policy).
    ///
    /// ```
    /// use std::time::Duration;
    /// use vertex_batch::storage::Storage;
    ///
    /// let storage = Storage::builder().build()?;
    /// assert_eq!(storage.retry_policy().budget(), Duration::from_secs(120));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// How many requests this client and its clones (they share the count) have sent again
    /// after a transient failure: a request retried after a 408, 429, 5xx, a broken
    /// connection or no answer in time; a download resumed after its body broke off or
    /// stalled; an upload's chunk sent again (counted once, by the failure that made it
    /// resend, however few of its bytes the service had kept). A request that succeeds the
    /// first time, or whose failure is not retried, counts nothing. Each retry counted is the
    /// `info` event under `vertex_batch::storage` that logs it, so a run's summary can say how
    /// many faults its storage calls got past.
    ///
    /// ```
    /// use vertex_batch::storage::Storage;
    ///
    /// let storage = Storage::builder().build()?;
    /// let clone = storage.clone();
    /// // ... uploads and downloads through either ...
    /// assert_eq!(storage.retries(), 0);
    /// assert_eq!(clone.retries(), storage.retries());
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn retries(&self) -> u64 {
        self.inner.retries.load(Ordering::Relaxed)
    }

    /// One more request is to be sent again (see [`Storage::retries`]).
    pub(super) fn count_retry(&self) {
        self.inner.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// The bytes an upload sends in one request (and holds in memory): see
    /// [`with_upload_chunk_size`](StorageBuilder::with_upload_chunk_size).
    pub(crate) fn upload_chunk_size(&self) -> usize {
        self.inner.upload_chunk_size
    }

    /// The endpoint this client talks to, without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// An object's metadata: size, content type, generation, times, checksums.
    ///
    /// # Errors
    /// [`Error::Storage`](crate::Error::Storage) with code 404 ([`Error::is_not_found`](crate::Error::is_not_found))
    /// when there is no such object; [`Error::Auth`](crate::Error::Auth) or
    /// [`Error::Transport`](crate::Error::Transport) when the request could not be made.
    /// Like every call of this client, 408, 429, 5xx and broken connections are first retried
    /// as [`with_retry_policy`](StorageBuilder::with_retry_policy) says.
    pub async fn metadata(&self, uri: &ObjectUri) -> Result<ObjectInfo> {
        self.object_info(uri, Op::Metadata).await
    }

    /// An object's metadata, errors naming `op` (a download's first step is its metadata).
    async fn object_info(&self, uri: &ObjectUri, op: Op) -> Result<ObjectInfo> {
        let request = GetObjectRequest {
            bucket: uri.bucket().to_owned(),
            object: uri.name().to_owned(),
            ..GetObjectRequest::default()
        };
        let object = self
            .retrying(op, uri, || self.inner.client.get_object(&request))
            .await?;
        ObjectInfo::from_gcs(object)
    }

    /// Deletes an object, whatever its generation ([`Storage::delete_if`] with
    /// [`Preconditions::none`]).
    ///
    /// ```no_run
    /// # async fn run(storage: vertex_batch::storage::Storage) -> vertex_batch::Result<()> {
    /// storage.delete(&"gs://bucket/run/old.jsonl".parse()?).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Storage::metadata`]: deleting an object that is not there is a 404 (also when a
    /// retried delete's first attempt had deleted it and only its answer was lost).
    pub async fn delete(&self, uri: &ObjectUri) -> Result<()> {
        self.delete_if(uri, Preconditions::none()).await
    }

    /// Deletes an object if `conditions` hold, e.g. only the generation read
    /// ([`Preconditions::if_generation`]), so that a newer version someone else wrote stays.
    ///
    /// ```no_run
    /// # async fn run(storage: vertex_batch::storage::Storage) -> vertex_batch::Result<()> {
    /// use vertex_batch::storage::Preconditions;
    ///
    /// let lease = "gs://bucket/run/lease.json".parse()?;
    /// let info = storage.metadata(&lease).await?;
    /// match storage.delete_if(&lease, Preconditions::if_generation(info.generation)).await {
    ///     Ok(()) => println!("released"),
    ///     Err(err) if err.is_precondition_failed() => println!("taken over meanwhile"),
    ///     Err(err) => return Err(err),
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Storage::delete`]; [`Error::is_precondition_failed`](crate::Error::is_precondition_failed)
    /// (412) when a condition did not hold, and nothing was deleted.
    pub async fn delete_if(&self, uri: &ObjectUri, conditions: Preconditions) -> Result<()> {
        let mut request = DeleteObjectRequest {
            bucket: uri.bucket().to_owned(),
            object: uri.name().to_owned(),
            ..DeleteObjectRequest::default()
        };
        conditions.on_delete(&mut request);
        self.retrying(Op::Delete, uri, || {
            self.inner.client.delete_object(&request)
        })
        .await
    }

    fn error(&self, err: gcloud_storage::http::Error, op: Op, uri: &ObjectUri) -> crate::Error {
        errors::convert(err, op, &uri.to_string(), &self.inner.endpoint)
    }
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Storage")
            .field("endpoint", &self.inner.endpoint)
            .field("upload_chunk_size", &self.inner.upload_chunk_size)
            .field("list_page_size", &self.inner.list_page_size)
            .field("retry", &self.inner.retry)
            .field("retries", &self.retries())
            .finish_non_exhaustive()
    }
}

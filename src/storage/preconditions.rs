//! [`Preconditions`]: Cloud Storage's conditions on an object's generation and metageneration,
//! which make a write or a delete happen only to the version of the object the caller has seen
//! (or only when there is none). The service checks them and answers 412 when they do not hold
//! ([`Error::is_precondition_failed`](crate::Error::is_precondition_failed)).
//!
//! See <https://cloud.google.com/storage/docs/request-preconditions>.

use gcloud_storage::http::objects::delete::DeleteObjectRequest;
use gcloud_storage::http::objects::upload::UploadObjectRequest;

/// Cloud Storage preconditions on an object's generation and metageneration.
///
/// Each field that is set must hold for the request to take effect; a request whose conditions
/// do not hold changes nothing and fails with HTTP 412
/// ([`Error::is_precondition_failed`](crate::Error::is_precondition_failed)). A generation of 0
/// in [`if_generation_match`](Self::if_generation_match) means "no live object": the write
/// creates the object only if it does not exist yet.
///
/// ```
/// use vertex_batch::storage::Preconditions;
///
/// assert_eq!(Preconditions::none(), Preconditions::default());
/// assert_eq!(Preconditions::if_absent().if_generation_match, Some(0));
/// let only_that_one = Preconditions::if_generation(1_700_000_000_000_001);
/// assert_eq!(only_that_one.if_generation_match, Some(1_700_000_000_000_001));
/// assert_eq!(only_that_one.if_metageneration_match, None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Preconditions {
    /// The object's live generation must be this one (0: there must be no live object).
    pub if_generation_match: Option<i64>,
    /// The object's live generation must not be this one (0: there must be a live object).
    /// When there is no live object, the condition fails.
    pub if_generation_not_match: Option<i64>,
    /// The object's metageneration (which grows when its metadata changes) must be this one.
    pub if_metageneration_match: Option<i64>,
    /// The object's metageneration must not be this one.
    pub if_metageneration_not_match: Option<i64>,
}

impl Preconditions {
    /// No condition: the request happens to whatever object is there.
    ///
    /// ```
    /// use vertex_batch::storage::Preconditions;
    ///
    /// assert_eq!(Preconditions::none().if_generation_match, None);
    /// ```
    pub fn none() -> Self {
        Preconditions::default()
    }

    /// Create only: `ifGenerationMatch=0`, the write happens only when no object of that name
    /// exists. Two writers racing for one name: exactly one wins, the other gets a 412.
    ///
    /// ```no_run
    /// # async fn run(storage: vertex_batch::storage::Storage) -> vertex_batch::Result<()> {
    /// use vertex_batch::storage::Preconditions;
    ///
    /// let lease = "gs://bucket/run/lease.json".parse()?;
    /// match storage.upload_bytes_if(&lease, "{}", Preconditions::if_absent()).await {
    ///     Ok(info) => println!("ours, generation {}", info.generation),
    ///     Err(err) if err.is_precondition_failed() => println!("someone else holds it"),
    ///     Err(err) => return Err(err),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn if_absent() -> Self {
        Preconditions {
            if_generation_match: Some(0),
            ..Preconditions::default()
        }
    }

    /// Only that generation: `ifGenerationMatch=generation`, the write replaces (or the delete
    /// removes) the object only while its live generation is `generation`, the one read.
    ///
    /// ```no_run
    /// # async fn run(storage: vertex_batch::storage::Storage) -> vertex_batch::Result<()> {
    /// use vertex_batch::storage::Preconditions;
    ///
    /// let uri = "gs://bucket/run/manifest.json".parse()?;
    /// let (bytes, info) = storage.read_object(&uri, 1 << 20).await?;
    /// let renewed = [&bytes[..], b"\n"].concat();
    /// storage
    ///     .upload_bytes_if(&uri, renewed, Preconditions::if_generation(info.generation))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn if_generation(generation: i64) -> Self {
        Preconditions {
            if_generation_match: Some(generation),
            ..Preconditions::default()
        }
    }

    /// The conditions on an upload request (media or the start of a resumable session).
    pub(super) fn on_upload(self, request: &mut UploadObjectRequest) {
        request.if_generation_match = self.if_generation_match;
        request.if_generation_not_match = self.if_generation_not_match;
        request.if_metageneration_match = self.if_metageneration_match;
        request.if_metageneration_not_match = self.if_metageneration_not_match;
    }

    /// The conditions on a delete request.
    pub(super) fn on_delete(self, request: &mut DeleteObjectRequest) {
        request.if_generation_match = self.if_generation_match;
        request.if_generation_not_match = self.if_generation_not_match;
        request.if_metageneration_match = self.if_metageneration_match;
        request.if_metageneration_not_match = self.if_metageneration_not_match;
    }
}

//! [`ObjectInfo`]: what Cloud Storage says about one object.

use std::time::SystemTime;

use super::ObjectUri;
use crate::error::{Error, Result};

/// An object's metadata, from [`Storage::metadata`](super::Storage::metadata),
/// [`Storage::list`](super::Storage::list) or an upload.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// Where the object is.
    pub uri: ObjectUri,
    /// Its size in bytes.
    pub size: u64,
    /// Its content type, when it has one.
    pub content_type: Option<String>,
    /// Its generation: a new number each time the object is written, greater than the one
    /// before. [`Preconditions::if_generation`](super::Preconditions::if_generation) makes a
    /// write or delete happen only to this version.
    pub generation: i64,
    /// Its metageneration: 1 for a freshly written object, growing each time its metadata
    /// (not its data) changes.
    pub metageneration: i64,
    /// When it was last written.
    pub updated: Option<SystemTime>,
    /// Its MD5 (base64), when the service computed one.
    pub md5_hash: Option<String>,
    /// Its CRC32C (base64, big-endian), when the service computed one.
    pub crc32c: Option<String>,
}

impl ObjectInfo {
    pub(super) fn from_gcs(object: gcloud_storage::http::objects::Object) -> Result<Self> {
        let size = u64::try_from(object.size).map_err(|_| Error::Storage {
            what: "the metadata of",
            uri: format!("gs://{}/{}", object.bucket, object.name),
            code: 502,
            message: format!("the service gave a negative size ({})", object.size),
        })?;
        Ok(ObjectInfo {
            uri: ObjectUri::new(object.bucket, object.name)?,
            size,
            content_type: object.content_type,
            generation: object.generation,
            metageneration: object.metageneration,
            updated: object.updated.or(object.time_created).map(SystemTime::from),
            md5_hash: object.md5_hash,
            crc32c: object.crc32c,
        })
    }
}

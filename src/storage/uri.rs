//! `gs://bucket/object` addresses, checked before any call.

use std::fmt;

use crate::error::{Error, Result};

/// One Cloud Storage object, or a prefix of object names: `gs://bucket/name`.
///
/// Bucket names follow Cloud Storage's rules (3 to 63 characters of lower-case letters, digits,
/// `-`, `_` and `.`, starting and ending with a letter or digit); object names are any UTF-8
/// text without carriage returns or line feeds, at most 1024 bytes.
///
/// ```
/// use vertex_batch::storage::ObjectUri;
///
/// let uri: ObjectUri = "gs://my-bucket/runs/input.jsonl".parse()?;
/// assert_eq!(uri.bucket(), "my-bucket");
/// assert_eq!(uri.name(), "runs/input.jsonl");
/// assert_eq!(uri.to_string(), "gs://my-bucket/runs/input.jsonl");
/// assert!("s3://bucket/x".parse::<ObjectUri>().unwrap_err().is_invalid_input());
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectUri {
    bucket: String,
    name: String,
}

/// The longest object name Cloud Storage accepts, in bytes.
const MAX_NAME_BYTES: usize = 1024;

impl ObjectUri {
    /// The object `name` in `bucket`, checked as [`str::parse`] checks a URI.
    ///
    /// ```
    /// use vertex_batch::storage::ObjectUri;
    ///
    /// let uri = ObjectUri::new("bucket", "a/b.jsonl")?;
    /// assert_eq!(uri.to_string(), "gs://bucket/a/b.jsonl");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn new(bucket: impl Into<String>, name: impl Into<String>) -> Result<Self> {
        let uri = ObjectUri {
            bucket: bucket.into(),
            name: name.into(),
        };
        check_bucket(&uri.bucket, &uri.to_string())?;
        check_name(&uri.name, &uri.to_string())?;
        Ok(uri)
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object name (or prefix) inside the bucket; empty for `gs://bucket/`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The object `name` in the same bucket.
    ///
    /// ```
    /// use vertex_batch::storage::ObjectUri;
    ///
    /// let dir: ObjectUri = "gs://bucket/out/".parse()?;
    /// assert_eq!(dir.join("predictions.jsonl")?.to_string(), "gs://bucket/out/predictions.jsonl");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn join(&self, name: &str) -> Result<Self> {
        let joined = if self.name.is_empty() || self.name.ends_with('/') {
            format!("{}{name}", self.name)
        } else {
            format!("{}/{name}", self.name)
        };
        ObjectUri::new(self.bucket.clone(), joined)
    }
}

impl std::str::FromStr for ObjectUri {
    type Err = Error;

    fn from_str(uri: &str) -> Result<Self> {
        let Some(rest) = uri.strip_prefix("gs://") else {
            return Err(Error::invalid(
                "uri",
                format!("{uri:?} is not a Cloud Storage URI: expected `gs://bucket/object`"),
            ));
        };
        let (bucket, name) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(bucket, uri)?;
        check_name(name, uri)?;
        Ok(ObjectUri {
            bucket: bucket.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for ObjectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gs://{}/{}", self.bucket, self.name)
    }
}

fn check_bucket(bucket: &str, uri: &str) -> Result<()> {
    if crate::names::is_bucket_name(bucket) {
        return Ok(());
    }
    Err(Error::invalid(
        "uri",
        format!(
            "{uri:?}: the bucket {bucket:?} is not a bucket name (3 to 63 lower-case letters, \
             digits, `-`, `_` or `.`; 222 with dots, 63 between two; starting and ending with a \
             letter or digit)"
        ),
    ))
}

fn check_name(name: &str, uri: &str) -> Result<()> {
    if name.len() > MAX_NAME_BYTES {
        return Err(Error::invalid(
            "uri",
            format!(
                "{uri:?}: an object name is at most {MAX_NAME_BYTES} bytes; this one has {}",
                name.len()
            ),
        ));
    }
    if name.contains(['\r', '\n']) {
        return Err(Error::invalid(
            "uri",
            format!("{uri:?}: an object name cannot hold a carriage return or a line feed"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_uris_parse_and_print_back() {
        for uri in [
            "gs://bucket/a",
            "gs://my_bucket.example/a/b/c.jsonl",
            "gs://abc/",
        ] {
            assert_eq!(uri.parse::<ObjectUri>().unwrap().to_string(), uri);
        }
        assert_eq!("gs://abc".parse::<ObjectUri>().unwrap().name(), "");
    }

    #[test]
    fn bad_uris_say_what_is_wrong() {
        for (uri, expected) in [
            ("bucket/a", "not a Cloud Storage URI"),
            ("gs://Bucket/a", "not a bucket name"),
            ("gs://ab/a", "not a bucket name"),
            ("gs://-ab/a", "not a bucket name"),
            ("gs://abc/a\nb", "line feed"),
        ] {
            let err = uri.parse::<ObjectUri>().unwrap_err().to_string();
            assert!(err.contains(expected), "{uri}: {err}");
        }
        // 63 characters, or 222 with dots and 63 between two, as the service counts.
        let part = "x".repeat(63);
        for good in [part.clone(), format!("{part}.{part}")] {
            ObjectUri::new(good, "o").unwrap();
        }
        for bad in [format!("{part}x"), format!("{part}x.y"), "a..b".to_owned()] {
            let err = ObjectUri::new(bad.clone(), "o").unwrap_err().to_string();
            assert!(err.contains("not a bucket name"), "{bad}: {err}");
        }
        let long = format!("gs://abc/{}", "x".repeat(1025));
        assert!(
            long.parse::<ObjectUri>()
                .unwrap_err()
                .to_string()
                .contains("at most 1024")
        );
    }
}

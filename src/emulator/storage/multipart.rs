//! The body of an `uploadType=multipart` upload, as the JSON API takes it (and Google's storage
//! clients send their small uploads): `multipart/related` with two parts, the object's JSON
//! metadata, then its bytes.
//! (<https://cloud.google.com/storage/docs/uploading-objects#uploading-an-object>).
//!
//! Written here rather than taken from a crate: the multipart crates parse `form-data` fields
//! by their `Content-Disposition`, which these parts do not have, and the format is two
//! delimiters and two header blocks.

use super::store::StoreError;

/// The two parts of a multipart upload.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Multipart<'a> {
    /// The first part: the object resource, JSON.
    pub(crate) metadata: serde_json::Value,
    /// The second part's `Content-Type`, when it has one.
    pub(crate) media_type: Option<String>,
    /// The second part's bytes.
    pub(crate) media: &'a [u8],
}

/// Splits `body`, sent with the `Content-Type` `content_type`; a 400 saying what is wrong
/// otherwise.
pub(crate) fn parse<'a>(content_type: &str, body: &'a [u8]) -> Result<Multipart<'a>, StoreError> {
    let boundary = boundary(content_type).ok_or_else(|| {
        StoreError::invalid(format!(
            "Content-Type {content_type:?}: a multipart upload is `multipart/related; \
             boundary=...`"
        ))
    })?;
    let delimiter = format!("--{boundary}");
    let parts = split(body, delimiter.as_bytes()).ok_or_else(|| {
        StoreError::invalid(format!(
            "the multipart body is not parts between `{delimiter}` lines ending with \
             `{delimiter}--`"
        ))
    })?;
    let [metadata, media] = parts.as_slice() else {
        return Err(StoreError::invalid(format!(
            "a multipart upload has two parts (the JSON metadata, then the bytes), not {}",
            parts.len()
        )));
    };
    let (_, metadata) = head_and_content(metadata)?;
    let metadata: serde_json::Value = serde_json::from_slice(metadata).map_err(|e| {
        StoreError::invalid(format!(
            "the first part is not the object's JSON metadata: {e}"
        ))
    })?;
    if !metadata.is_object() {
        return Err(StoreError::invalid(
            "the first part is not the object's JSON metadata: not an object",
        ));
    }
    let (head, media) = head_and_content(media)?;
    let media_type = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-type")
            .then(|| value.trim().to_owned())
    });
    Ok(Multipart {
        metadata,
        media_type,
        media,
    })
}

/// The `boundary` parameter of a `multipart/*` content type, unquoted.
fn boundary(content_type: &str) -> Option<&str> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    params.split(';').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        (!value.is_empty() && value.len() <= 70).then_some(value)
    })
}

/// The parts between `delimiter` lines: each part runs from the line after a delimiter to the
/// CRLF before the next one; the last delimiter is followed by `--`.
fn split<'a>(body: &'a [u8], delimiter: &[u8]) -> Option<Vec<&'a [u8]>> {
    let mut parts = Vec::new();
    let first = find(body, delimiter)?;
    let mut rest = &body[first + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .or_else(|| rest.strip_prefix(b"\n"))?;
        let mut close = Vec::with_capacity(delimiter.len() + 2);
        close.extend_from_slice(b"\r\n");
        close.extend_from_slice(delimiter);
        let (end, skip) = match find(rest, &close) {
            Some(end) => (end, close.len()),
            None => {
                // Bare LF line ends.
                let end = find(rest, &[b"\n", delimiter].concat())?;
                (end, delimiter.len() + 1)
            }
        };
        parts.push(&rest[..end]);
        rest = &rest[end + skip..];
    }
}

/// A part's header block (as text) and its content.
fn head_and_content(part: &[u8]) -> Result<(String, &[u8]), StoreError> {
    // A part without headers starts with its blank line.
    let (head_end, skip) = if part.starts_with(b"\r\n") {
        (0, 2)
    } else if part.starts_with(b"\n") {
        (0, 1)
    } else if let Some(end) = find(part, b"\r\n\r\n") {
        (end, 4)
    } else if let Some(end) = find(part, b"\n\n") {
        (end, 2)
    } else {
        return Err(StoreError::invalid(
            "a part of the multipart body has no blank line after its headers",
        ));
    };
    let head = String::from_utf8_lossy(&part[..head_end]).into_owned();
    Ok((head, &part[head_end + skip..]))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "multipart/related; boundary=\"===b0und===\"";

    #[test]
    fn the_two_parts_of_a_python_client_upload() {
        let body = b"--===b0und===\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n\
            {\"name\": \"dir/o.txt\"}\r\n--===b0und===\r\ncontent-type: text/plain\r\n\r\n\
            line 1\r\nline 2\r\n--===b0und===--";
        let parsed = parse(TYPE, body).unwrap();
        assert_eq!(parsed.metadata["name"], "dir/o.txt");
        assert_eq!(parsed.media_type.as_deref(), Some("text/plain"));
        assert_eq!(parsed.media, b"line 1\r\nline 2");
    }

    #[test]
    fn parts_without_headers_keep_blank_lines_in_their_content() {
        let body = b"--b\r\n\r\n{}\r\n--b\r\n\r\na\r\n\r\nb\r\n--b--";
        let parsed = parse("multipart/related; boundary=b", body).unwrap();
        assert_eq!(parsed.media, b"a\r\n\r\nb");
        assert_eq!(parsed.media_type, None);
    }

    #[test]
    fn empty_media_and_lf_line_ends() {
        let body = b"--b\n\n{}\n--b\ncontent-type: x/y\n\n\n--b--\n";
        let parsed = parse("multipart/related; boundary=b", body).unwrap();
        assert_eq!(parsed.media, b"");
        assert_eq!(parsed.metadata, serde_json::json!({}));
    }

    #[test]
    fn bad_bodies_are_400s_naming_what_is_wrong() {
        for (content_type, body, says) in [
            ("application/json", &b"{}"[..], "multipart/related"),
            (TYPE, b"no delimiter", "parts between"),
            (
                TYPE,
                b"--===b0und===\r\n\r\n{}\r\n--===b0und===--",
                "two parts",
            ),
            (
                TYPE,
                b"--===b0und===\r\n\r\nnot json\r\n--===b0und===\r\n\r\nx\r\n--===b0und===--",
                "JSON metadata",
            ),
        ] {
            let err = parse(content_type, body).unwrap_err();
            assert_eq!(err.code, 400);
            assert!(err.message.contains(says), "{}", err.message);
        }
    }
}

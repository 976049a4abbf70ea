//! Splitting a stream of byte chunks into lines without copying the ones that arrive whole.

use crate::error::Result;

/// The part of a line still waiting for its end.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Calls `each` with every line `chunk` completes (without its `\n`; blank lines skipped).
    pub(crate) fn feed(
        &mut self,
        mut chunk: &[u8],
        mut each: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        if !self.partial.is_empty() {
            match memchr::memchr(b'\n', chunk) {
                None => {
                    self.partial.extend_from_slice(chunk);
                    return Ok(());
                }
                Some(end) => {
                    self.partial.extend_from_slice(&chunk[..end]);
                    let line = std::mem::take(&mut self.partial);
                    emit(&line, &mut each)?;
                    self.partial = line;
                    self.partial.clear();
                    chunk = &chunk[end + 1..];
                }
            }
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', chunk) {
            emit(&chunk[start..end], &mut each)?;
            start = end + 1;
        }
        self.partial.extend_from_slice(&chunk[start..]);
        Ok(())
    }

    /// The last line, when the stream did not end with a newline.
    pub(crate) fn finish(&mut self, mut each: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        let line = std::mem::take(&mut self.partial);
        emit(&line, &mut each)
    }
}

fn emit(line: &[u8], each: &mut impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    each(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_cut_anywhere_come_out_whole() {
        let text = b"first\nsecond line\r\n\nthird";
        for cut in 0..text.len() {
            let mut lines = Vec::new();
            let mut splitter = LineSplitter::default();
            for part in [&text[..cut], &text[cut..]] {
                splitter
                    .feed(part, |l| {
                        lines.push(l.to_vec());
                        Ok(())
                    })
                    .unwrap();
            }
            splitter
                .finish(|l| {
                    lines.push(l.to_vec());
                    Ok(())
                })
                .unwrap();
            assert_eq!(
                lines,
                [
                    b"first".to_vec(),
                    b"second line".to_vec(),
                    b"third".to_vec()
                ],
                "cut at {cut}"
            );
        }
    }
}

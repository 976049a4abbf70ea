//! Local scratch files of a run: the keys in input order, and the output lines the join keeps.
//!
//! A run's results come out in input order while the service writes rows in any order, so the
//! chosen output line of each row is appended to a local spool and found again by offset; the
//! keys wait in a second file, read back in order. Memory holds a fixed-size slot per row
//! ([`super::rows`]), never a prompt, a key or an answer. The folder is removed when the run's
//! results are dropped.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A folder of its own under the work directory, removed on drop.
#[derive(Debug)]
pub(crate) struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    pub(crate) fn new(parent: &Path, run_id: &str) -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = parent.join(format!(
            "vertex-batch-run-{run_id}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).map_err(|e| io_error(&path, e))?;
        Ok(ScratchDir { path })
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

pub(crate) fn io_error(path: &Path, source: io::Error) -> Error {
    Error::Io {
        path: Some(path.to_path_buf()),
        error: source,
    }
}

/// The keys, written in input order as length-prefixed records (a key may hold any character).
#[derive(Debug)]
pub(crate) struct KeyWriter {
    out: BufWriter<File>,
    path: PathBuf,
}

impl KeyWriter {
    pub(crate) fn create(path: PathBuf) -> Result<Self> {
        let file = File::create(&path).map_err(|e| io_error(&path, e))?;
        Ok(KeyWriter {
            out: BufWriter::with_capacity(1 << 16, file),
            path,
        })
    }

    pub(crate) fn push(&mut self, key: &str) -> Result<()> {
        let len = u32::try_from(key.len()).map_err(|_| {
            Error::invalid("key", format!("a key of {} bytes is too long", key.len()))
        })?;
        self.out
            .write_all(&len.to_le_bytes())
            .and_then(|()| self.out.write_all(key.as_bytes()))
            .map_err(|e| io_error(&self.path, e))
    }

    pub(crate) fn finish(mut self) -> Result<PathBuf> {
        self.out.flush().map_err(|e| io_error(&self.path, e))?;
        Ok(self.path)
    }
}

/// The keys read back in order.
#[derive(Debug)]
pub(crate) struct KeyReader {
    input: BufReader<File>,
    path: PathBuf,
}

impl KeyReader {
    pub(crate) fn open(path: PathBuf) -> Result<Self> {
        let file = File::open(&path).map_err(|e| io_error(&path, e))?;
        Ok(KeyReader {
            input: BufReader::with_capacity(1 << 16, file),
            path,
        })
    }

    pub(crate) fn next_key(&mut self) -> Result<String> {
        let mut len = [0u8; 4];
        let mut read = || -> io::Result<String> {
            self.input.read_exact(&mut len)?;
            let mut key = vec![0; u32::from_le_bytes(len) as usize];
            self.input.read_exact(&mut key)?;
            String::from_utf8(key).map_err(io::Error::other)
        };
        read().map_err(|e| io_error(&self.path, e))
    }
}

/// Output lines the join keeps, appended and read back by offset.
#[derive(Debug)]
pub(crate) struct LineSpool {
    writer: BufWriter<File>,
    reader: File,
    len: u64,
    path: PathBuf,
}

impl LineSpool {
    pub(crate) fn create(path: PathBuf) -> Result<Self> {
        let file = File::create(&path).map_err(|e| io_error(&path, e))?;
        let reader = File::open(&path).map_err(|e| io_error(&path, e))?;
        Ok(LineSpool {
            writer: BufWriter::with_capacity(1 << 20, file),
            reader,
            len: 0,
            path,
        })
    }

    /// Appends `line`; gives where it is.
    pub(crate) fn append(&mut self, line: &[u8]) -> Result<(u64, u32)> {
        let len = u32::try_from(line.len()).map_err(|_| {
            io_error(
                &self.path,
                io::Error::other(format!("an output line of {} bytes", line.len())),
            )
        })?;
        self.writer
            .write_all(line)
            .map_err(|e| io_error(&self.path, e))?;
        let offset = self.len;
        self.len += u64::from(len);
        Ok((offset, len))
    }

    /// Makes everything appended readable.
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.writer.flush().map_err(|e| io_error(&self.path, e))
    }

    /// The line at `offset` (after a [`flush`](Self::flush)), into `buf`.
    pub(crate) fn read(&self, offset: u64, len: u32, buf: &mut Vec<u8>) -> Result<()> {
        buf.resize(len as usize, 0);
        read_exact_at(&self.reader, buf, offset).map_err(|e| io_error(&self.path, e))
    }
}

/// A positioned read, which leaves no file position to share.
#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

/// A positioned read (Windows moves the file position, which no one else uses).
#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_lines_come_back_as_written() {
        let dir = ScratchDir::new(&std::env::temp_dir(), "spooltest").unwrap();
        let mut keys = KeyWriter::create(dir.file("keys")).unwrap();
        for key in ["a", "", "line\nbreak", "ü"] {
            keys.push(key).unwrap();
        }
        let mut keys = KeyReader::open(keys.finish().unwrap()).unwrap();
        for key in ["a", "", "line\nbreak", "ü"] {
            assert_eq!(keys.next_key().unwrap(), key);
        }
        let mut spool = LineSpool::create(dir.file("lines")).unwrap();
        let first = spool.append(b"{\"a\":1}").unwrap();
        let second = spool.append(b"{\"b\":22}").unwrap();
        spool.flush().unwrap();
        let mut buf = Vec::new();
        spool.read(second.0, second.1, &mut buf).unwrap();
        assert_eq!(buf, b"{\"b\":22}");
        spool.read(first.0, first.1, &mut buf).unwrap();
        assert_eq!(buf, b"{\"a\":1}");
        let path = dir.file("");
        drop(dir);
        assert!(!path.exists());
    }
}

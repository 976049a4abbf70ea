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

/// The start of every scratch folder's name: `vertex-batch-run-PID-UNIQUE-PURPOSE`.
const SCRATCH_PREFIX: &str = "vertex-batch-run-";

/// A folder of its own under the work directory, private and removed on drop.
///
/// It is made exclusively (never one that was there before, nor through a link) with mode 0700,
/// and its files with mode 0600, so no other user reads the prompts' keys or the answers. A
/// process killed without a chance to clean up (SIGKILL, power loss) leaves its folder behind:
/// the next scratch folder made in the same work directory removes it, and only such a folder:
/// a real directory (not a link), named as this tool names them, owned by the same user, mode
/// 0700, of a process that no longer runs (on Linux, where `/proc` says so; elsewhere leftovers
/// are kept).
#[derive(Debug)]
pub(crate) struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    pub(crate) fn new(parent: &Path, purpose: &str) -> Result<Self> {
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        let pid = std::process::id();
        let mut attempt = 0u32;
        let path = loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let path = parent.join(format!(
                "{SCRATCH_PREFIX}{pid}-{nanos:09}{attempt}-{purpose}"
            ));
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match builder.create(&path) {
                Ok(()) => break path,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                Err(e) => return Err(io_error(&path, e)),
            }
        };
        remove_leftovers(parent, &path);
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

/// Removes the scratch folders in `parent` that processes now gone left behind (see
/// [`ScratchDir`]); `ours` (just made) says who owns them. Best effort: a folder that cannot
/// be read or removed is left.
#[cfg(target_os = "linux")]
fn remove_leftovers(parent: &Path, ours: &Path) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(mine) = std::fs::symlink_metadata(ours) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(SCRATCH_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let ours_to_clean = meta.file_type().is_dir()
            && meta.uid() == mine.uid()
            && meta.permissions().mode() & 0o777 == 0o700
            && pid != std::process::id()
            && !Path::new("/proc").join(pid.to_string()).exists()
            // /proc itself must be there for a missing entry to mean a process is gone.
            && Path::new("/proc/self").exists();
        if ours_to_clean {
            tracing::debug!(path = %path.display(), "removing the scratch folder of a run that was killed");
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Without `/proc`, whether a process is gone is not known: leftovers are kept.
#[cfg(not(target_os = "linux"))]
fn remove_leftovers(_: &Path, _: &Path) {}

/// A new file only its owner can read, made exclusively (never one that was there, nor
/// through a link).
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
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
        let file = create_private(&path).map_err(|e| io_error(&path, e))?;
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
        let file = create_private(&path).map_err(|e| io_error(&path, e))?;
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

    #[cfg(unix)]
    #[test]
    fn the_folder_and_its_files_are_private_and_never_one_that_was_there() {
        use std::os::unix::fs::PermissionsExt;
        let parent = std::env::temp_dir().join(format!("spool-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&parent);
        let dir = ScratchDir::new(&parent, "private").unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.file("")), 0o700);
        let keys = KeyWriter::create(dir.file("keys")).unwrap();
        let spool = LineSpool::create(dir.file("lines")).unwrap();
        assert_eq!(mode(&dir.file("keys")), 0o600);
        assert_eq!(mode(&dir.file("lines")), 0o600);
        // A file that is there already (or a link planted there) is never opened.
        assert!(KeyWriter::create(dir.file("keys")).is_err());
        assert!(LineSpool::create(dir.file("lines")).is_err());
        drop((keys, spool));
        let second = ScratchDir::new(&parent, "private").unwrap();
        assert_ne!(second.file(""), dir.file(""));
        drop((dir, second));
        std::fs::remove_dir_all(&parent).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_killed_runs_folder_is_removed_by_the_next_and_nothing_else_is() {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let parent = std::env::temp_dir().join(format!("spool-leftovers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&parent);
        std::fs::create_dir_all(&parent).unwrap();
        // A process that has ended: its pid names no process now.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let private = |name: &str| {
            let path = parent.join(name);
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&path)
                .unwrap();
            std::fs::write(path.join("lines"), "answers").unwrap();
            path
        };
        let leftover = private(&format!("vertex-batch-run-{dead}-1-scratch"));
        let alive = private(&format!(
            "vertex-batch-run-{}-1-scratch",
            std::process::id()
        ));
        let not_ours = private(&format!("other-{dead}-1-scratch"));
        let shared = private(&format!("vertex-batch-run-{dead}-2-scratch"));
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        let target = private("target");
        let link = parent.join(format!("vertex-batch-run-{dead}-3-scratch"));
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let file = parent.join(format!("vertex-batch-run-{dead}-4-scratch"));
        std::fs::write(&file, "a file").unwrap();

        let dir = ScratchDir::new(&parent, "next").unwrap();
        assert!(!leftover.exists(), "the killed run's folder is removed");
        for kept in [&alive, &not_ours, &shared, &target] {
            assert!(kept.join("lines").exists(), "{} is kept", kept.display());
        }
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "a file");
        drop(dir);
        std::fs::remove_dir_all(&parent).unwrap();
    }
}

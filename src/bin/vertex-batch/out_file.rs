//! `run --out`: the results file, written as what the user named, never over the input.
//!
//! - A regular file (or a name with nothing there yet) is written to a temporary file beside
//!   it, made exclusively (`O_EXCL`, a random name, mode 0600) once the results are ready, and
//!   moved over it when whole:
//!   a file at that name is always a whole run's results, two runs with one `--out` never share
//!   a temporary, and no file that was already there (say an INPUT named like a temporary) is
//!   emptied or deleted. The results get the mode of the file they replace (a new one: 0666
//!   less the umask, as any new file).
//! - A symbolic link is followed to its target, which is updated as above; the link stays.
//! - A device, FIFO or socket (`/dev/stdout`, `/dev/null`, a named pipe) is written to as it
//!   is, opened when the results are ready, never replaced.
//! - The same file as INPUT, under any spelling (relative, `./`, a symbolic link, a hard link:
//!   the device and inode are compared), is refused before anything is read or sent.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use vertex_batch::run::RowResult;

use crate::exit::Usage;

/// The results file of one run.
pub struct OutFile {
    /// What the user named, for messages.
    named: PathBuf,
    target: Target,
}

enum Target {
    /// A regular file: a private temporary beside it, made when the first row comes (so a
    /// run killed before its results are ready leaves none), moved over it when whole.
    Replace {
        out: Option<BufWriter<tempfile::NamedTempFile>>,
        /// Where the temporary goes, and the start of its name.
        dir: PathBuf,
        prefix: String,
        path: PathBuf,
        /// The mode of the file replaced, or none for a new file.
        mode: Option<u32>,
    },
    /// A device, FIFO or socket: written to as it is, opened at the first row (a FIFO's open
    /// waits for a reader, which may come only once the results are ready).
    Stream {
        path: PathBuf,
        out: Option<BufWriter<File>>,
    },
}

impl OutFile {
    /// Checks `path` against `input` and prepares to write there.
    ///
    /// # Errors
    /// [`Usage`] when `path` is INPUT or a directory; an error naming `--out` when no
    /// temporary file can be made beside it.
    pub fn create(path: &Path, input: &Path) -> anyhow::Result<Self> {
        let named = path.to_path_buf();
        if same_file(path, input) {
            return Err(Usage(format!(
                "--out {} is INPUT {} (the same file): the results would replace the prompts; \
                 give another file",
                path.display(),
                input.display()
            ))
            .into());
        }
        // What the kernel finds at the name (every link followed, /dev/stdout's too) says
        // whether it is a stream; only a regular file or none is replaced by a rename.
        let kernel = std::fs::metadata(path);
        if let Ok(meta) = &kernel
            && !meta.is_file()
            && !meta.is_dir()
        {
            return Ok(OutFile {
                named,
                target: Target::Stream {
                    path: path.to_path_buf(),
                    out: None,
                },
            });
        }
        let resolved = match follow_links(path)
            .with_context(|| format!("--out {}: cannot follow its links", path.display()))?
        {
            Some(resolved) => resolved,
            // A descriptor's link (`/dev/stdout` to a file the shell opened): written through
            // the name given, as a stream, never renamed over.
            None => {
                return Ok(OutFile {
                    named,
                    target: Target::Stream {
                        path: path.to_path_buf(),
                        out: None,
                    },
                });
            }
        };
        let target = match std::fs::metadata(&resolved) {
            Ok(meta) if meta.is_dir() => {
                return Err(Usage(format!(
                    "--out {}: is a directory; give a file name",
                    path.display()
                ))
                .into());
            }
            Ok(meta) if !meta.is_file() => Target::Stream {
                path: resolved,
                out: None,
            },
            existing => {
                let mode = existing.ok().map(|meta| mode_of(&meta));
                let dir = match resolved.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let name = resolved
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "results".to_owned());
                let prefix = format!("{name}.");
                // A first temporary, removed at once, says now that one can be made there.
                drop(temporary(&dir, &prefix, path)?);
                Target::Replace {
                    out: None,
                    dir,
                    prefix,
                    path: resolved,
                    mode,
                }
            }
        };
        Ok(OutFile { named, target })
    }

    /// Appends one result line.
    pub fn write(&mut self, row: &RowResult) -> anyhow::Result<()> {
        let key = serde_json::to_string(&row.key)?;
        let line = match &row.outcome {
            Ok(answer) => format!(
                r#"{{"key":{key},"text":{},"response":{}}}"#,
                serde_json::to_string(&answer.text)?,
                answer.response.get()
            ),
            Err(error) => format!(
                r#"{{"key":{key},"error":{{"code":{},"message":{}}}}}"#,
                error.code,
                serde_json::to_string(&error.message)?
            ),
        };
        let named = &self.named;
        let out: &mut dyn Write = match &mut self.target {
            Target::Replace {
                out, dir, prefix, ..
            } => match out {
                Some(out) => out,
                None => out.insert(BufWriter::with_capacity(
                    1 << 20,
                    temporary(dir, prefix, named)?,
                )),
            },
            Target::Stream { path, out } => match out {
                Some(out) => out,
                None => out.insert(BufWriter::with_capacity(1 << 20, open_stream(path, named)?)),
            },
        };
        out.write_all(line.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .with_context(|| format!("--out {}: could not write", named.display()))
    }

    /// Makes the results whole at the name given; gives that name.
    pub fn finish(self) -> anyhow::Result<PathBuf> {
        let named = self.named;
        let write_error = || format!("--out {}: could not write", named.display());
        match self.target {
            Target::Replace {
                out,
                dir,
                prefix,
                path,
                mode,
            } => {
                // No rows: an empty file.
                let out = match out {
                    Some(out) => out,
                    None => BufWriter::new(temporary(&dir, &prefix, &named)?),
                };
                let temp = out
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(write_error)?;
                set_mode(temp.as_file(), mode).with_context(write_error)?;
                temp.persist(&path).map_err(|e| e.error).with_context(|| {
                    format!(
                        "--out {}: could not move the results there",
                        named.display()
                    )
                })?;
            }
            Target::Stream { path, out } => {
                // No rows: the stream is still opened, so a reader waiting on a FIFO ends.
                let mut out = match out {
                    Some(out) => out,
                    None => BufWriter::new(open_stream(&path, &named)?),
                };
                out.flush().with_context(write_error)?;
            }
        }
        Ok(named)
    }
}

/// A new temporary file in `dir` named `PREFIX<random>.partial`: made with O_CREAT | O_EXCL
/// and mode 0600 (tempfile's way), removed when dropped unless persisted.
fn temporary(dir: &Path, prefix: &str, named: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".partial")
        .rand_bytes(8)
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "--out {}: cannot write there (no temporary file in {})",
                named.display(),
                dir.display()
            )
        })
}

/// Whether `a` and `b` are one file (device and inode, links followed); false when either
/// cannot be read.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => identity(&a) == identity(&b),
        _ => false,
    }
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    // Without device and inode numbers, no two files are known to be one.
    None
}

/// The path `path`'s symbolic links lead to (a link to nothing leads to the name it holds);
/// `None` when they pass through `/proc` (`/dev/stdout` is `/proc/self/fd/1`), whose links name
/// open descriptors rather than paths to rename over.
fn follow_links(path: &Path) -> std::io::Result<Option<PathBuf>> {
    let mut path = path.to_path_buf();
    // As the kernel's own limit on links followed in one lookup.
    for _ in 0..40 {
        if path.starts_with("/proc") {
            return Ok(None);
        }
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&path)?;
                path = match path.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(Some(path)),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

fn open_stream(path: &Path, named: &Path) -> anyhow::Result<File> {
    let context = || format!("--out {}: cannot write there", named.display());
    // The process's own stdout or stderr: written through the descriptor it has (a copy of
    // it), so that what the tool prints there after the results follows them rather than
    // overwrites them, as a reopened file would from its start.
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let name = path.as_os_str();
        let own = if ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"]
            .map(std::ffi::OsStr::new)
            .contains(&name)
        {
            Some(std::io::stdout().as_fd().try_clone_to_owned())
        } else if ["/dev/stderr", "/dev/fd/2", "/proc/self/fd/2"]
            .map(std::ffi::OsStr::new)
            .contains(&name)
        {
            Some(std::io::stderr().as_fd().try_clone_to_owned())
        } else {
            None
        };
        if let Some(fd) = own {
            return Ok(File::from(fd.with_context(context)?));
        }
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(context)
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777
}

#[cfg(not(unix))]
fn mode_of(_: &std::fs::Metadata) -> u32 {
    0
}

/// Gives the results the replaced file's mode, or what a new file gets (0666 less the umask).
#[cfg(unix)]
fn set_mode(file: &File, mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(
        mode.unwrap_or_else(|| 0o666 & !umask()),
    ))
}

#[cfg(not(unix))]
fn set_mode(_: &File, _: Option<u32>) -> std::io::Result<()> {
    // Windows has only the read-only bit, and a new file is writable.
    Ok(())
}

/// The process's umask, read without changing it (Linux's /proc; elsewhere the usual 022).
#[cfg(unix)]
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Umask:"))
                .and_then(|mask| u32::from_str_radix(mask.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

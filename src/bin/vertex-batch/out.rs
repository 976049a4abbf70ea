//! Standard output, for every command: a reader that goes away (`vertex-batch list | head -1`)
//! is a normal end, as it is for `cat`. Writes that find the pipe closed fail with an I/O error
//! like any other, so the command stops at once; this module remembers that stdout was closed,
//! and `main` then exits quietly with 0 whatever error the command ended with.
//!
//! A flag rather than an error type: the failed write reaches `main` wrapped in whatever the
//! writer wraps it in (the `csv` crate's error, anyhow's context), and a broken pipe on the
//! network connection must stay an error.

use std::io::{self, StdoutLock, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether a write found stdout closed by its reader.
pub fn was_closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// Standard output, locked for as long as the value lives; every command writes through it
/// (never `println!`, which panics on a closed pipe).
pub fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

/// See [`stdout`].
pub struct Stdout(StdoutLock<'static>);

impl Stdout {
    /// Notes a closed pipe; any other error says it is about stdout.
    fn noted<T>(result: io::Result<T>) -> io::Result<T> {
        result.map_err(|error| {
            if error.kind() == io::ErrorKind::BrokenPipe {
                CLOSED.store(true, Ordering::Relaxed);
                return error;
            }
            io::Error::new(error.kind(), format!("could not write to stdout: {error}"))
        })
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Self::noted(self.0.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Self::noted(self.0.flush())
    }
}

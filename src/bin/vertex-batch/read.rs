//! Files the tool reads whole (`--request`, `--ca-cert`): each at most a limit, so that a
//! wrong path (`/dev/zero`, a disk image) is an error naming the flag, the file and the limit
//! rather than memory used up.

use std::io::Read;
use std::path::Path;

use anyhow::Context;

/// The most a `--ca-cert` file may hold: a bundle of many CAs is a few hundred KiB.
pub const MAX_CA_CERT_BYTES: usize = 1 << 20;

/// The text of `path` (`-`: stdin, where `stdin` is true) given with `flag`, at most `limit`
/// bytes of it (limits are whole MiB, as the message says them).
pub fn whole(flag: &str, path: &Path, stdin: bool, limit: usize) -> anyhow::Result<String> {
    let source = if stdin && path.as_os_str() == "-" {
        "stdin".to_owned()
    } else {
        path.display().to_string()
    };
    let reader: Box<dyn Read> = if source == "stdin" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(path)
                .with_context(|| format!("{flag} {source}: could not read it"))?,
        )
    };
    let mut text = String::new();
    reader
        .take(limit as u64 + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("{flag} {source}: could not read it"))?;
    if text.len() > limit {
        anyhow::bail!(
            "{flag} {source}: longer than the limit of {} bytes ({} MiB) this file may have",
            limit,
            limit >> 20
        );
    }
    Ok(text)
}

//! Reading a job's output into the join: every `predictions*.jsonl` file of its output
//! directory, streamed.

use futures_util::TryStreamExt;

use super::lines::LineSplitter;
use super::rows::{JobRows, RowTable, Tally};
use super::spool::LineSpool;
use crate::error::Result;
use crate::storage::{ObjectUri, Storage};

/// Reads every output file under `dir` (the job's `gcs_output_directory`, or the prefix it was
/// given when the job names none) into `table`. Gives the bytes read.
pub(crate) async fn collect_job(
    storage: &Storage,
    dir: &ObjectUri,
    rows: JobRows,
    table: &mut RowTable,
    spool: &mut LineSpool,
    tally: &mut Tally,
) -> Result<u64> {
    let mut files: Vec<ObjectUri> = storage
        .list(dir)
        .try_filter_map(|object| async move {
            let name = object.uri.name().rsplit('/').next().unwrap_or_default();
            Ok((name.starts_with("predictions") && name.ends_with(".jsonl")).then_some(object.uri))
        })
        .try_collect()
        .await?;
    files.sort();
    let mut bytes = 0;
    for file in files {
        let mut stream = storage.download(&file, ..).await?;
        let mut splitter = LineSplitter::default();
        while let Some(chunk) = stream.try_next().await? {
            bytes += chunk.len() as u64;
            splitter.feed(&chunk, |line| table.take_line(line, rows, spool, tally))?;
        }
        splitter.finish(|line| table.take_line(line, rows, spool, tally))?;
        tracing::info!(target: "vertex_batch::run::step", file = %file, "output file read");
    }
    Ok(bytes)
}

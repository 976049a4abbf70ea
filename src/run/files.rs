//! Where a run's rows live between its input and its results: files in Cloud Storage. This is
//! the one seam between the run's rounds and its row storage: round 0's shards are written as
//! the input is read ([`FileRows::writer`]), a follow-up round's rows are read back from round
//! 0's files ([`FileRows::restage`]), and a job's answers are read from its output directory
//! ([`FileRows::collect`]). A second kind of row storage (tables, where no row passes through
//! the client) goes beside this file, behind the same three calls.

use futures_util::TryStreamExt;

use super::builder::RunConfig;
use super::collect::collect_job;
use super::label::staged_row;
use super::layout::request_id;
use super::lines::LineSplitter;
use super::manifest::{Round, Shard};
use super::rows::{JobRows, RowTable, Tally};
use super::spool::LineSpool;
use super::stage::RoundWriter;
use crate::error::{Error, Result};
use crate::storage::{ObjectUri, Storage};

/// A run's rows as files under its staging prefix.
pub(crate) struct FileRows<'a> {
    pub(crate) storage: &'a Storage,
    pub(crate) config: &'a RunConfig,
}

impl FileRows<'_> {
    /// A writer of `round`'s shards, under the job limits.
    pub(crate) fn writer(&self, round: u8) -> Result<RoundWriter> {
        Ok(RoundWriter::new(
            self.storage,
            &self.config.layout.input_folder(round)?,
            self.config.max_requests_per_job,
            self.config.max_bytes_per_file,
        ))
    }

    /// Stages the rows `table` sends in `round`, read back from `first`'s (round 0's) files;
    /// gives the round's shards and the bytes uploaded.
    pub(crate) async fn restage(
        &self,
        first: &Round,
        table: &RowTable,
        round: u8,
        run_id: &str,
    ) -> Result<(Vec<Shard>, u64)> {
        let mut writer = self.writer(round)?;
        let mut line_with_end = Vec::new();
        for file in first.shards.iter().flat_map(|shard| shard.files.iter()) {
            let uri: ObjectUri = file.uri.parse()?;
            let mut stream = self.storage.download(&uri, ..).await?;
            let mut splitter = LineSplitter::default();
            // Lines of this file going again, gathered per chunk (the splitter's callback
            // cannot wait on the upload).
            let mut chosen: Vec<(u64, Vec<u8>)> = Vec::new();
            // Each staged line starts with its row id (`label.rs`).
            let take = |line: &[u8], chosen: &mut Vec<(u64, Vec<u8>)>| {
                let row = staged_row(line).ok_or_else(|| {
                    Error::invalid(
                        "staging",
                        format!(
                            "{}: a line does not start with the row id the run staged it \
                             with; the staged files changed since: use another staging prefix",
                            file.uri
                        ),
                    )
                })?;
                if table.is_sent_in(row, round) {
                    chosen.push((row, line.to_vec()));
                }
                Ok(())
            };
            loop {
                let chunk = stream.try_next().await?;
                match &chunk {
                    Some(chunk) => splitter.feed(chunk, |line| take(line, &mut chosen))?,
                    None => splitter.finish(|line| take(line, &mut chosen))?,
                }
                for (row, line) in chosen.drain(..) {
                    line_with_end.clear();
                    line_with_end.extend_from_slice(&line);
                    line_with_end.push(b'\n');
                    writer
                        .push(table.apart.group_of(row), row, &line_with_end, || {
                            format!("row {row}")
                        })
                        .await?;
                }
                if chunk.is_none() {
                    break;
                }
            }
        }
        writer
            .finish(|shard| request_id(run_id, round, shard))
            .await
    }

    /// Reads the answers of the job sent `rows` from the output files under `dir` into the
    /// join; gives the bytes read.
    pub(crate) async fn collect(
        &self,
        dir: &ObjectUri,
        rows: JobRows,
        table: &mut RowTable,
        spool: &mut LineSpool,
        tally: &mut Tally,
    ) -> Result<u64> {
        collect_job(self.storage, dir, rows, table, spool, tally).await
    }
}

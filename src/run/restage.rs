//! Staging a follow-up round: the rows it sends again, read back from round 0's files in Cloud
//! Storage (the input is not read again) and written as the round's shards.

use futures_util::TryStreamExt;

use super::layout::request_id;
use super::lines::LineSplitter;
use super::manifest::Round;
use super::progress::RunPhase;
use super::rounds::RunState;
use super::stage::ShardWriter;
use crate::error::Result;
use crate::storage::ObjectUri;

impl RunState<'_> {
    /// Stages the `rows` rows `round` sends again and records the round in the manifest.
    pub(crate) async fn stage_retry(&mut self, round: u8, rows: u64) -> Result<()> {
        let ctx = self.ctx;
        let config = &ctx.config;
        let started = std::time::Instant::now();
        self.progress.phase = RunPhase::Staging;
        self.progress.round = round;
        self.progress.staged_rows = 0;
        self.progress.staged_bytes = 0;
        self.report();
        let mut writer = ShardWriter::new(
            &ctx.storage,
            &config.layout.input_folder(round)?,
            config.max_requests_per_job,
            config.max_bytes_per_file,
        );
        let files = self.manifest.rounds[0]
            .shards
            .iter()
            .flat_map(|shard| shard.files.clone())
            .collect::<Vec<_>>();
        let mut line_with_end = Vec::new();
        for file in files {
            let uri: ObjectUri = file.uri.parse()?;
            let mut stream = ctx.storage.download(&uri, ..).await?;
            let mut splitter = LineSplitter::default();
            let mut row = file.first_row;
            // Lines of this file going again, gathered per chunk (the splitter's callback
            // cannot wait on the upload).
            let mut chosen: Vec<(u64, Vec<u8>)> = Vec::new();
            let table = &self.table;
            let take = |line: &[u8], chosen: &mut Vec<(u64, Vec<u8>)>, row: &mut u64| {
                if table.is_sent_in(*row, round) {
                    chosen.push((*row, line.to_vec()));
                }
                *row += 1;
                Ok(())
            };
            loop {
                let chunk = stream.try_next().await?;
                match &chunk {
                    Some(chunk) => {
                        splitter.feed(chunk, |line| take(line, &mut chosen, &mut row))?
                    }
                    None => splitter.finish(|line| take(line, &mut chosen, &mut row))?,
                }
                for (row, line) in chosen.drain(..) {
                    line_with_end.clear();
                    line_with_end.extend_from_slice(&line);
                    line_with_end.push(b'\n');
                    writer
                        .push(row, &line_with_end, || format!("row {row}"))
                        .await?;
                }
                if chunk.is_none() {
                    break;
                }
            }
        }
        let run_id = self.manifest.run_id.clone();
        let (shards, bytes) = writer
            .finish(|shard| request_id(&run_id, round, shard))
            .await?;
        self.summary.staged_bytes += bytes;
        self.summary.staging_time += started.elapsed();
        self.progress.staged_rows = rows;
        self.progress.staged_bytes = bytes;
        self.report();
        self.manifest.rounds.push(Round {
            number: round,
            rows,
            shards,
        });
        self.save_manifest().await
    }
}

//! Staging a follow-up round: the rows it sends again, read back from where round 0 staged
//! them (the input is not read again; `files.rs`) and recorded as the round's shards.

use super::manifest::Round;
use super::progress::RunPhase;
use super::rounds::RunState;
use crate::error::Result;

impl RunState<'_> {
    /// Stages the `rows` rows `round` sends again and records the round in the manifest.
    pub(crate) async fn stage_retry(&mut self, round: u8, rows: u64) -> Result<()> {
        let ctx = self.ctx;
        let started = std::time::Instant::now();
        self.progress.phase = RunPhase::Staging;
        self.progress.round = round;
        self.progress.staged_rows = 0;
        self.progress.staged_bytes = 0;
        self.report();
        let run_id = self.manifest.run_id.clone();
        let (shards, bytes) = ctx
            .rows()
            .restage(&self.manifest.rounds[0], &self.table, round, &run_id)
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

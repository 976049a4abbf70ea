//! The tables of a run over tables, all in the results table's dataset (which, as the job's
//! output, is in the job's region): `RESULTS__vertex_batch_<run>_r<round>_rows` (the round's
//! rows and their buckets), `..._r<round>_s<shard>` (a job's input) and `..._out` beside it
//! (its output). All of them are scratch: dropped once the results table is written (a run
//! that fails or is stopped keeps them, to resume). The manifest and the lease stay in the
//! run's `gs://` staging prefix (`super::super::layout`).

use crate::bigquery::TableUri;
use crate::error::Result;

/// Where a run's tables are.
#[derive(Clone, Debug)]
pub(crate) struct TableLayout {
    results: TableUri,
    run_id: String,
}

impl TableLayout {
    pub(crate) fn new(results: TableUri, run_id: &str) -> Self {
        TableLayout {
            results,
            run_id: run_id.to_owned(),
        }
    }

    fn named(&self, tail: &str) -> Result<TableUri> {
        self.results.sibling(&format!(
            "{}__vertex_batch_{}_{tail}",
            self.results.table(),
            self.run_id
        ))
    }

    /// A round's rows, with their buckets.
    pub(crate) fn rows(&self, round: u8) -> Result<TableUri> {
        self.named(&format!("r{round}_rows"))
    }

    /// The input of a round's shard.
    pub(crate) fn shard(&self, round: u8, shard: usize) -> Result<TableUri> {
        self.named(&format!("r{round}_s{shard:05}"))
    }

    /// The output table of a round's shard's job.
    pub(crate) fn output(&self, round: u8, shard: usize) -> Result<TableUri> {
        self.named(&format!("r{round}_s{shard:05}_out"))
    }

    /// Every table a run with `shards` shards in each of its rounds may have made: each
    /// round's rows, shards and outputs, and the rows of the round after the last (made, and
    /// found empty, when nothing was left to try again).
    pub(crate) fn scratch(&self, shards: &[usize]) -> Result<Vec<TableUri>> {
        let mut tables = Vec::new();
        for (round, &count) in shards.iter().enumerate() {
            let Ok(round) = u8::try_from(round) else {
                break;
            };
            tables.push(self.rows(round)?);
            for shard in 0..count {
                tables.push(self.shard(round, shard)?);
                tables.push(self.output(round, shard)?);
            }
        }
        if let Ok(next) = u8::try_from(shards.len()) {
            tables.push(self.rows(next)?);
        }
        Ok(tables)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_beside_the_results_and_names_the_run() {
        let layout = TableLayout::new("bq://my-proj.d.results".parse().unwrap(), "00ff");
        assert_eq!(
            layout.shard(1, 2).unwrap().to_string(),
            "bq://my-proj.d.results__vertex_batch_00ff_r1_s00002"
        );
        assert_eq!(
            layout.output(0, 0).unwrap().to_string(),
            "bq://my-proj.d.results__vertex_batch_00ff_r0_s00000_out"
        );
        assert_eq!(
            layout.rows(0).unwrap().to_string(),
            "bq://my-proj.d.results__vertex_batch_00ff_r0_rows"
        );
        let scratch: Vec<String> = layout
            .scratch(&[2, 1])
            .unwrap()
            .iter()
            .map(|t| {
                t.table()
                    .trim_start_matches("results__vertex_batch_00ff_")
                    .to_owned()
            })
            .collect();
        assert_eq!(
            scratch,
            [
                "r0_rows",
                "r0_s00000",
                "r0_s00000_out",
                "r0_s00001",
                "r0_s00001_out",
                "r1_rows",
                "r1_s00000",
                "r1_s00000_out",
                "r2_rows"
            ]
        );
    }
}

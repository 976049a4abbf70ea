//! The staging layout: every object a run keeps in its staging prefix, and every name and label
//! its jobs carry. One place, so that a process started again, another process looking at the
//! run ([`super::RunView`]) and the run itself agree on where things are.
//!
//! ```text
//! gs://BUCKET/PREFIX/
//!   lease.json                    who runs the run now (lease.rs)
//!   manifest.json                 what was staged, which jobs exist (manifest.rs)
//!   r<round>/input/s<shard>-<file>.jsonl   (c..., x...: rows staged apart, isolate.rs)
//!   r<round>/output/s<shard>/     each job's output_uri_prefix
//! ```

use super::fingerprint::Fingerprint;
use super::isolate::RowGroup;
use crate::error::Result;
use crate::storage::ObjectUri;

/// The label naming the run a job belongs to.
pub const RUN_LABEL: &str = "vertex_batch_run";

/// Where a run's objects are, under its staging prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    staging: ObjectUri,
}

impl Layout {
    pub(crate) fn new(staging: ObjectUri) -> Self {
        Layout { staging }
    }

    /// The staging prefix itself.
    pub(crate) fn staging(&self) -> &ObjectUri {
        &self.staging
    }

    /// The run's manifest.
    pub(crate) fn manifest(&self) -> Result<ObjectUri> {
        self.staging.join("manifest.json")
    }

    /// The lease: who runs the run now.
    pub(crate) fn lease(&self) -> Result<ObjectUri> {
        self.staging.join("lease.json")
    }

    /// The folder of a round's input files.
    pub(crate) fn input_folder(&self, round: u8) -> Result<ObjectUri> {
        self.staging.join(&format!("r{round}/input/"))
    }

    /// The name of input file `index` of the `shard`-th shard of `group` in its round's
    /// folder: `s00000-000.jsonl` for importable rows, `c...` and `x...` for those staged apart
    /// (`isolate.rs`).
    pub(crate) fn input_file(group: RowGroup, shard: usize, index: usize) -> String {
        format!("{}{shard:05}-{index:03}.jsonl", group.file_prefix())
    }

    /// The output prefix of the job of `shard` in `round`.
    pub(crate) fn output_prefix(&self, round: u8, shard: usize) -> Result<ObjectUri> {
        self.staging.join(&format!("r{round}/output/s{shard:05}/"))
    }

    /// The run's id: a hash of where it is staged and what it sends.
    pub(crate) fn run_id(&self, fingerprint: &str) -> String {
        let mut hash = Fingerprint::new();
        hash.write_str(&self.staging.to_string());
        hash.write_str(fingerprint);
        format!("{:016x}", hash.finish())
    }
}

/// The request id of the job of `shard` in `round`: a valid label value, the same in every
/// process that runs this run.
pub(crate) fn request_id(run_id: &str, round: u8, shard: usize) -> String {
    format!("{run_id}-r{round}-s{shard}")
}

/// The display name of the job of `shard` in `round`.
pub(crate) fn display_name(run_id: &str, round: u8, shard: usize) -> String {
    format!("vertex-batch-run-{run_id}-r{round}-s{shard}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_valid_label_values() {
        let layout = Layout::new("gs://bucket/runs/1".parse().unwrap());
        let id = layout.run_id("00ff");
        assert_eq!(id, layout.run_id("00ff"));
        assert_ne!(id, layout.run_id("00fe"));
        let request = request_id(&id, 2, 17);
        assert!(request.len() <= 63);
        assert!(
            request
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }

    #[test]
    fn every_object_is_under_the_staging_prefix() {
        let layout = Layout::new("gs://bucket/runs/1".parse().unwrap());
        assert_eq!(
            layout.manifest().unwrap().to_string(),
            "gs://bucket/runs/1/manifest.json"
        );
        assert_eq!(
            layout.lease().unwrap().to_string(),
            "gs://bucket/runs/1/lease.json"
        );
        assert_eq!(
            layout.output_prefix(1, 3).unwrap().to_string(),
            "gs://bucket/runs/1/r1/output/s00003/"
        );
        assert_eq!(
            layout.input_folder(0).unwrap().to_string(),
            "gs://bucket/runs/1/r0/input/"
        );
    }
}

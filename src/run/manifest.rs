//! A run's manifest: what was staged and which jobs exist, kept as `manifest.json` in the staging
//! prefix and written again after every step.
//!
//! It is what lets a run resume: the same run started again reads it, skips the input already
//! staged, and finds each job it created by name (or, when the process died between the Create
//! and the write, by the request id derived from the run, the round and the shard, which the job
//! carries as a label). Everything else (which rows are answered, which go again) is rebuilt from
//! the jobs' outputs, which never change once a job has ended.

use serde::{Deserialize, Serialize};

use super::isolate::RowGroup;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::storage::{ObjectUri, Preconditions, Storage};

/// The manifest's format; a run refuses a manifest of another format.
/// 2: each staged line starts with its row id as `key`; shards of rows staged apart.
const FORMAT: u32 = 2;

/// The largest manifest read: a few hundred bytes a shard, so room for a million shards.
const MAX_MANIFEST_BYTES: u64 = 1 << 30;

/// The manifest object and the generation this run last read or wrote: every write is
/// conditioned on it, so two writers can never overwrite each other unseen.
#[derive(Debug)]
pub(crate) struct ManifestFile {
    uri: ObjectUri,
    generation: Option<i64>,
}

impl ManifestFile {
    /// The manifest at `uri`, if there is one.
    pub(crate) async fn load(
        storage: &Storage,
        uri: ObjectUri,
    ) -> Result<(ManifestFile, Option<Manifest>)> {
        let (bytes, info) = match storage.read_object(&uri, MAX_MANIFEST_BYTES).await {
            Ok(read) => read,
            Err(err) if err.is_not_found() => {
                return Ok((
                    ManifestFile {
                        uri,
                        generation: None,
                    },
                    None,
                ));
            }
            Err(err) => return Err(err),
        };
        let manifest = Manifest::parse(&bytes, &uri)?;
        Ok((
            ManifestFile {
                uri,
                generation: Some(info.generation),
            },
            Some(manifest),
        ))
    }

    pub(crate) fn uri(&self) -> &ObjectUri {
        &self.uri
    }

    /// Writes `manifest` if the object is still the generation last seen (or absent, before
    /// the first write).
    ///
    /// # Errors
    /// [`Error::RunStopped`] when another process wrote the manifest meanwhile.
    pub(crate) async fn save(&mut self, storage: &Storage, manifest: &Manifest) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(manifest)
            .map_err(|err| Error::internal(format!("the run's manifest: {err}")))?;
        let conditions = match self.generation {
            None => Preconditions::if_absent(),
            Some(generation) => Preconditions::if_generation(generation),
        };
        match storage
            .upload_bytes_if(&self.uri, bytes.clone(), conditions)
            .await
        {
            Ok(info) => self.generation = Some(info.generation),
            Err(err) if err.is_precondition_failed() => {
                // A retried write whose first attempt landed answers 412 too: look.
                match storage.read_object(&self.uri, MAX_MANIFEST_BYTES).await {
                    Ok((read, info)) if read[..] == bytes[..] => {
                        self.generation = Some(info.generation);
                    }
                    _ => {
                        return Err(Error::RunStopped {
                            staging: self.uri.to_string(),
                            reason: "another process wrote the run's manifest meanwhile".into(),
                        });
                    }
                }
            }
            Err(err) => return Err(err),
        }
        tracing::info!(target: "vertex_batch::run::step", manifest = %self.uri, "manifest written");
        Ok(())
    }
}

/// The whole manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) format: u32,
    /// Derived from the staging prefix and the input: part of every job's request id.
    pub(crate) run_id: String,
    pub(crate) rows: u64,
    /// A hash of every key and request, in order.
    pub(crate) fingerprint: String,
    /// What every job of the run is made with.
    pub(crate) settings: Settings,
    pub(crate) rounds: Vec<Round>,
    /// Set when the run was ended for good (why, and when): no job is created after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ended: Option<String>,
    /// A run over tables whose results table is written: set before its scratch tables are
    /// dropped, with what its summary read from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tables_done: Option<TablesDone>,
}

/// What the summary of a run over tables reads from its scratch tables, kept once they may be
/// dropped (a run started again after its end gives the same summary).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TablesDone {
    pub(crate) rounds: u8,
    pub(crate) jobs: u64,
    pub(crate) jobs_lost: u64,
    #[serde(default)]
    pub(crate) jobs_past_queue_deadline: u64,
    pub(crate) repeated_lines: u64,
    pub(crate) unexpected_lines: u64,
    pub(crate) missing_rows: u64,
}

/// The settings that decide the shards and the jobs: a run started again must use the same.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Settings {
    pub(crate) model: String,
    pub(crate) generation_config: Value,
    pub(crate) max_requests_per_job: u64,
    pub(crate) max_bytes_per_file: u64,
}

/// One round: round 0 sends every row, each later round the rows to try again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Round {
    pub(crate) number: u8,
    pub(crate) rows: u64,
    pub(crate) shards: Vec<Shard>,
}

/// One job's input: files of at most the byte limit, rows of at most the request limit, with
/// row ids from `first_row` to `last_row`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Shard {
    pub(crate) files: Vec<ShardFile>,
    pub(crate) rows: u64,
    pub(crate) first_row: u64,
    pub(crate) last_row: u64,
    /// The request-id label of its job.
    pub(crate) request_id: String,
    /// Its job, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) job: Option<JobRecord>,
    /// The rows it holds: importable, or staged apart (`isolate.rs`).
    #[serde(default, skip_serializing_if = "RowGroup::is_importable")]
    pub(crate) group: RowGroup,
}

/// One staged input file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ShardFile {
    pub(crate) uri: String,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    /// The row id of its first line (each line starts with its own, `label::staged_row`).
    pub(crate) first_row: u64,
}

/// A job as last seen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct JobRecord {
    pub(crate) name: String,
    /// `JOB_STATE_SUCCEEDED` etc.
    pub(crate) state: String,
    /// Set once the job has ended and its output was read into the join (by this process or
    /// an earlier one: a restart reads it again).
    #[serde(default)]
    pub(crate) ended: bool,
    /// Why the run cancelled it, when it did: the code and message its unanswered rows get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cancelled: Option<(u16, String)>,
}

impl Manifest {
    /// Records that the job of `round`'s shard `index` (named `name`) ended in `state`;
    /// whether that changed the manifest (and it must be saved).
    pub(crate) fn record_end(&mut self, round: u8, index: usize, name: &str, state: &str) -> bool {
        let record = self.rounds[usize::from(round)].shards[index]
            .job
            .get_or_insert_with(|| JobRecord {
                name: name.to_owned(),
                state: String::new(),
                ended: false,
                cancelled: None,
            });
        let changed = !record.ended || record.state != state;
        record.state = state.to_owned();
        record.ended = true;
        changed
    }

    /// Ends the run for good, now (no job is created after it); false when it was already.
    pub(crate) fn end_now(&mut self) -> bool {
        if self.ended.is_some() {
            return false;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.ended = Some(format!("ended at {}", super::lease::timestamp(now)));
        true
    }

    /// Records why the run cancelled the job of `round`'s shard `index`; whether that changed
    /// the manifest (and it must be saved).
    pub(crate) fn record_cancel(&mut self, round: u8, index: usize, reason: (u16, String)) -> bool {
        match &mut self.rounds[usize::from(round)].shards[index].job {
            Some(record) => {
                record.cancelled = Some(reason);
                true
            }
            None => false,
        }
    }

    /// Reads a manifest's bytes.
    pub(crate) fn parse(bytes: &[u8], uri: &ObjectUri) -> Result<Manifest> {
        let manifest: Manifest = serde_json::from_slice(bytes).map_err(|err| {
            Error::invalid(
                "staging",
                format!(
                    "{uri} is not a batch run manifest this version can read ({err}); \
                     use another staging prefix"
                ),
            )
        })?;
        if manifest.format != FORMAT {
            return Err(Error::invalid(
                "staging",
                format!(
                    "{uri} is a run manifest of format {}, this version writes format {FORMAT}; \
                     use another staging prefix",
                    manifest.format
                ),
            ));
        }
        Ok(manifest)
    }

    pub(crate) fn new(run_id: String, rows: u64, fingerprint: String, settings: Settings) -> Self {
        Manifest {
            format: FORMAT,
            run_id,
            rows,
            fingerprint,
            settings,
            rounds: Vec::new(),
            ended: None,
            tables_done: None,
        }
    }

    /// Checks that a run started again is the same run: same input, same settings.
    pub(crate) fn check_same(
        &self,
        rows: u64,
        fingerprint: &str,
        settings: &Settings,
        uri: &ObjectUri,
    ) -> Result<()> {
        let differ = |what: String| {
            Err(Error::invalid(
                "staging",
                format!(
                    "{uri} holds a run with {what}; a run resumes only with the same input and \
                     settings: pass them as before, or use another staging prefix"
                ),
            ))
        };
        if self.rows != rows || self.fingerprint != fingerprint {
            return differ(format!(
                "another input ({} requests, fingerprint {}; this input has {rows}, {fingerprint})",
                self.rows, self.fingerprint
            ));
        }
        let s = &self.settings;
        if s.model != settings.model {
            return differ(format!("the model {}", s.model));
        }
        if s.generation_config != settings.generation_config {
            return differ(format!("the generation settings {}", s.generation_config));
        }
        if s.max_requests_per_job != settings.max_requests_per_job {
            return differ(format!(
                "at most {} requests per job",
                s.max_requests_per_job
            ));
        }
        if s.max_bytes_per_file != settings.max_bytes_per_file {
            return differ(format!("at most {} bytes per file", s.max_bytes_per_file));
        }
        Ok(())
    }
}

//! A local folder standing in for Cloud Storage, `gs://bucket/path` = `ROOT/bucket/path`, and
//! what a job does with the emulator's objects (that folder, or memory: [`ObjectStore`]).
//!
//! A job whose input is `gs://` really reads its JSONL objects and, when its destination is
//! `gs://` too, writes `predictions.jsonl` in its output directory: one row per non-blank input
//! line, in input order, each written as the service writes it ([`super::echo`]), with the row
//! faults the emulator was given ([`RowFaults`]), once every line has passed the import the
//! service runs first ([`super::import`]: a line it refuses fails the whole job, nothing
//! written). With objects in memory, a job reads the store
//! only when its input's bucket exists there (something was uploaded to it); otherwise it keeps
//! the synthetic 100 rows of an emulator without storage. The work happens once, the first time
//! the job is seen ended (job states are computed from the clock on every read, so there is no
//! background task to do it earlier); every later read reuses the result. Objects stream line by
//! line in constant memory, but the call that first sees the job ended does the work while the
//! emulator's job table is locked, so other calls wait for it: fine for test-sized inputs.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use super::echo;
use super::import::{IMPORT_FAILED, Import};
use super::job_rows::JobRows;
use super::lifecycle::status;
use super::row_faults::RowFaults;
use super::storage::{ObjectStore, StoreError, check_bucket};
use super::truth::Truth;
use crate::batch_file::{Line, MAX_LINE_BYTES, read_line};
use crate::error::size_text;
use crate::proto::google::rpc;
use crate::v1::batch_prediction_job::OutputInfo;
use crate::v1::batch_prediction_job::input_config::Source;
use crate::v1::batch_prediction_job::output_config::Destination;
use crate::v1::{BatchPredictionJob, CompletionStats, JobState};

/// The file a job writes in its output directory, as the service names it.
const PREDICTIONS_FILE: &str = "predictions.jsonl";

/// The folder that stands in for `gs://`.
#[derive(Debug, Clone)]
pub(crate) struct GcsFolder {
    root: Arc<PathBuf>,
}

impl GcsFolder {
    pub(crate) fn new(root: PathBuf) -> Self {
        GcsFolder {
            root: Arc::new(root),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The local path of `uri`: an object's file ([`object_path`](Self::object_path)), or
    /// for a URI ending in `/` (or naming only a bucket), the folder of the objects below it.
    /// Every name maps inside the root; the error says why `uri` is not a `gs://` URI.
    pub(crate) fn local_path(&self, uri: &str) -> Result<PathBuf, String> {
        let Some(path) = uri.strip_prefix("gs://") else {
            return Err(format!(
                "`{uri}` is not a Cloud Storage URI: expected `gs://bucket/object`"
            ));
        };
        let (bucket, name) = path.split_once('/').unwrap_or((path, ""));
        check_bucket(bucket).map_err(|err| format!("`{uri}`: {}", err.message))?;
        Ok(match name.strip_suffix('/') {
            _ if name.is_empty() => self.root.join(bucket),
            Some(prefix) => self.object_path(bucket, prefix),
            None => self.object_path(bucket, name),
        })
    }

    /// The one mapping of object names to the folder: `ROOT/bucket/` and then each
    /// `/`-separated segment of `name` as a path component ([`encode_segment`]), so ordinary
    /// names are at their natural paths (`gs://bucket/dir/file.jsonl` is
    /// `ROOT/bucket/dir/file.jsonl`) and every name has a path of its own inside the root.
    /// An object whose path is also a folder (objects `a` and `a/b`) is the file
    /// [`FOLDER_OBJECT`] in that folder; the store resolves that ([`ObjectStore`]).
    pub(crate) fn object_path(&self, bucket: &str, name: &str) -> PathBuf {
        let mut path = self.root.join(bucket);
        for segment in name.split('/') {
            path.push(&*encode_segment(segment));
        }
        path
    }
}

/// The file, inside a folder, that holds the object named as that folder: objects `a` and
/// `a/b` are `a/%%` and `a/b`. No segment encodes as `%%`.
pub(crate) const FOLDER_OBJECT: &str = "%%";

/// A name segment as a path component. A segment that is a file name as it is stays so; one
/// that is not (empty, as in `a//b` or `/x`; `.` or `..`; holding `\` or NUL) or that starts
/// with `%` becomes `%` and the segment with `%`, `.`, `\` and NUL percent-encoded: `a//b` is
/// `a/%/b`, `x/../y` is `x/%%2E%2E/y`, `%d` is `%%25d`. A component starting with `%` is
/// therefore always an encoded one, and [`decode_component`] undoes it.
pub(crate) fn encode_segment(segment: &str) -> std::borrow::Cow<'_, str> {
    let plain = !segment.is_empty()
        && segment != "."
        && segment != ".."
        && !segment.starts_with('%')
        && !segment.contains(['\\', '\0']);
    if plain {
        return segment.into();
    }
    let mut encoded = String::with_capacity(segment.len() + 4);
    encoded.push('%');
    for c in segment.chars() {
        match c {
            '%' | '.' | '\\' | '\0' => encoded.push_str(&format!("%{:02X}", c as u32)),
            c => encoded.push(c),
        }
    }
    encoded.into()
}

/// The name segment a path component holds (see [`encode_segment`]); a `%` not followed by
/// two hex digits is itself. `None` for [`FOLDER_OBJECT`], which names its folder.
pub(crate) fn decode_component(component: &str) -> Option<String> {
    if component == FOLDER_OBJECT {
        return None;
    }
    let Some(encoded) = component.strip_prefix('%') else {
        return Some(component.to_owned());
    };
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The object name of a file, from its path's components below the bucket's folder; `None`
/// for a path that names no object: a [`FOLDER_OBJECT`] anywhere but last or directly in the
/// bucket's folder, or a component that is not the one [`encode_segment`] gives (a file put
/// there by hand as `%zz`, which no name maps to).
pub(crate) fn name_of(components: &[&str]) -> Option<String> {
    let segment = |component: &str| {
        decode_component(component).filter(|segment| encode_segment(segment) == component)
    };
    let (last, parents) = components.split_last()?;
    let mut segments = parents
        .iter()
        .map(|component| segment(component))
        .collect::<Option<Vec<_>>>()?;
    match segment(last) {
        Some(segment) => segments.push(segment),
        None if *last != FOLDER_OBJECT || segments.is_empty() => return None,
        // The object named as its folder.
        None => {}
    }
    Some(segments.join("/"))
}

/// What reading and writing a job's files gave.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FolderOutcome {
    /// Input lines got rows: `successful` answers, `failed` refused or faulted rows,
    /// `incomplete` rows never run because the job expired (`expired`); `written` when
    /// predictions.jsonl was written (the destination is `gs://`).
    Processed {
        successful: i64,
        failed: i64,
        incomplete: i64,
        written: bool,
        expired: bool,
    },
    /// The job could not run: an input file is missing, a format is not jsonl, a write failed.
    Failed(rpc::Status),
}

impl FolderOutcome {
    /// The end state: EXPIRED when the job was made to expire part way; SUCCEEDED when some
    /// row succeeded, as the service ends a job whose failed rows are only counted; FAILED when
    /// none did or the job could not run.
    pub(crate) fn state(&self) -> JobState {
        match self {
            FolderOutcome::Processed { expired: true, .. } => JobState::Expired,
            FolderOutcome::Processed { successful, .. } if *successful > 0 => JobState::Succeeded,
            _ => JobState::Failed,
        }
    }

    /// Sets the ended `job`'s counts, error and output location. `output_info` is where the
    /// results are.
    pub(crate) fn apply(&self, job: &mut BatchPredictionJob, output_info: Option<OutputInfo>) {
        match self {
            FolderOutcome::Failed(error) => {
                job.error = Some(error.clone());
                job.completion_stats = Some(CompletionStats::default());
            }
            FolderOutcome::Processed {
                successful,
                failed,
                incomplete,
                written,
                expired,
            } => {
                job.completion_stats = Some(CompletionStats {
                    successful_count: *successful,
                    failed_count: *failed,
                    incomplete_count: *incomplete,
                    ..CompletionStats::default()
                });
                if *expired {
                    job.error = Some(status(
                        tonic::Code::DeadlineExceeded,
                        &format!(
                            "the job expired after exporting {} of {} rows (emulator fault \
                             expire_after_rows); the rows it exported are in its output",
                            successful + failed,
                            successful + failed + incomplete
                        ),
                    ));
                } else if *successful == 0 {
                    let message = if *failed == 0 {
                        "the input files hold no requests: each line must be \
                         {\"request\": {\"contents\": [...]}}"
                            .to_string()
                    } else {
                        format!(
                            "all {failed} requests failed: the status column of the output \
                             says why for each"
                        )
                    };
                    job.error = Some(status(tonic::Code::InvalidArgument, &message));
                }
                if *successful > 0 || *written {
                    job.output_info = output_info;
                }
            }
        }
    }
}

/// One job's files, processed once.
#[derive(Debug, Clone)]
pub(crate) struct FolderJob {
    store: ObjectStore,
    faults: RowFaults,
    truth: Truth,
    /// The job's creation order, for the row fault draws.
    seq: u64,
    /// Rows exported before the job expires, when it is the job made to expire.
    expire_after: Option<u64>,
    outcome: Arc<OnceLock<FolderOutcome>>,
}

impl FolderJob {
    /// The files of `job`, created `seq`-th. Takes the one-shot expiry when the job reads the
    /// store.
    pub(crate) fn new(
        store: ObjectStore,
        faults: RowFaults,
        truth: Truth,
        seq: u64,
        job: &BatchPredictionJob,
    ) -> Self {
        let reads = reads_store(&store, job);
        FolderJob {
            expire_after: if reads { faults.take_expiry() } else { None },
            store,
            faults,
            truth,
            seq,
            outcome: Arc::default(),
        }
    }

    /// The outcome of `job`'s files, processing them now if this is the first call. `None` for a
    /// job whose input is not in the store (BigQuery jobs are left as they were). `output_dir` is
    /// the job's `gs://` output directory, when its destination is Cloud Storage; `ended` is
    /// when it ended, every row's processed_time.
    pub(crate) fn outcome(
        &self,
        job: &BatchPredictionJob,
        output_dir: Option<&str>,
        ended: SystemTime,
    ) -> Option<&FolderOutcome> {
        if let Some(outcome) = self.outcome.get() {
            return Some(outcome);
        }
        if !reads_store(&self.store, job) {
            return None;
        }
        let input = job.input_config.as_ref()?;
        let Some(Source::GcsSource(gcs)) = &input.source else {
            return None;
        };
        Some(self.outcome.get_or_init(|| {
            self.process(job, &input.instances_format, &gcs.uris, output_dir, ended)
                .unwrap_or_else(FolderOutcome::Failed)
        }))
    }

    fn process(
        &self,
        job: &BatchPredictionJob,
        format: &str,
        uris: &[String],
        output_dir: Option<&str>,
        ended: SystemTime,
    ) -> Result<FolderOutcome, rpc::Status> {
        let invalid = |message: String| status(tonic::Code::InvalidArgument, &message);
        if format != "jsonl" {
            return Err(invalid(format!(
                "the emulator's gs:// storage reads only jsonl input; this job's \
                 instances_format is `{format}`"
            )));
        }
        if let Some(Destination::GcsDestination(_)) = job
            .output_config
            .as_ref()
            .and_then(|config| config.destination.as_ref())
        {
            let format = job
                .output_config
                .as_ref()
                .map_or("", |config| config.predictions_format.as_str());
            if format != "jsonl" {
                return Err(invalid(format!(
                    "the emulator's gs:// storage writes only jsonl predictions; this job's \
                     predictions_format is `{format}`"
                )));
            }
        }
        // Every input must be there before anything is written, as the service checks its
        // inputs before it starts.
        let mut inputs = Vec::with_capacity(uris.len());
        for uri in uris {
            let (bucket, name) = split(uri).map_err(invalid)?;
            match self.store.meta(bucket, name) {
                Ok(_) => {}
                Err(StoreError { code: 404, .. }) => {
                    let local = self
                        .store
                        .folder_backend()
                        .and_then(|folder| folder.local_path(uri).ok())
                        .map(|path| {
                            format!(
                                " (the emulator's local gs:// folder has no {})",
                                path.display()
                            )
                        })
                        .unwrap_or_default();
                    return Err(status(
                        tonic::Code::NotFound,
                        &format!(
                            "Input file {uri} does not exist: No such object: {bucket}/{name}{local}"
                        ),
                    ));
                }
                Err(err) => return Err(invalid(format!("{uri}: {}", err.message))),
            }
            inputs.push((uri, bucket, name));
        }
        self.import(&inputs)?;

        let mut output = match output_dir {
            Some(dir) => {
                let uri = format!("{}/{PREDICTIONS_FILE}", dir.trim_end_matches('/'));
                let (bucket, name) = split(&uri).map_err(invalid)?;
                let writer = self
                    .store
                    .writer(bucket, name, "application/jsonl")
                    .map_err(|err| write_failed(&uri, &io::Error::other(err.message)))?;
                Some((io::BufWriter::new(writer), uri))
            }
            None => None,
        };

        let model_version = super::validate::model_id(&job.model);
        let processed_time = echo::processed_time(ended);
        let create_time = prost_types::Timestamp::from(ended).to_string();
        let rows = JobRows {
            model_version,
            processed_time: &processed_time,
            create_time: &create_time,
            truth: self.truth,
            faults: &self.faults,
            seq: self.seq,
        };
        let (mut successful, mut failed, mut incomplete) = (0, 0, 0);
        let mut row_index: u64 = 0;
        self.each_input_line(&inputs, |_, _, line| {
            let trimmed = line.trim_ascii();
            if trimmed.is_empty() {
                return Ok(());
            }
            let index = row_index;
            row_index += 1;
            if self.expire_after.is_some_and(|after| index >= after) {
                incomplete += 1;
                return Ok(());
            }
            let row = rows.row(trimmed, index);
            if row.is_ok() {
                successful += 1;
            } else {
                failed += 1;
            }
            if let Some((out, uri)) = &mut output {
                let response = row
                    .response
                    .as_ref()
                    .map(serde_json::to_value)
                    .transpose()
                    .map_err(|err| write_failed(uri, &io::Error::from(err)))?;
                let text = echo::line(
                    &extra_fields(trimmed),
                    &row.status,
                    &processed_time,
                    &row.request,
                    response.as_ref(),
                );
                out.write_all(text.as_bytes())
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(|err| write_failed(uri, &err))?;
            }
            Ok(())
        })?;
        let written = match output {
            Some((out, uri)) => {
                let writer = out
                    .into_inner()
                    .map_err(|err| write_failed(&uri, err.error()))?;
                writer
                    .commit()
                    .map_err(|err| write_failed(&uri, &io::Error::other(err.message)))?;
                true
            }
            None => false,
        };
        Ok(FolderOutcome::Processed {
            successful,
            failed,
            incomplete,
            written,
            expired: self.expire_after.is_some_and(|after| row_index > after),
        })
    }
}

impl FolderJob {
    /// The import the service runs over every input line before any row
    /// ([`super::import`]): a line it cannot load fails the whole job, code 3, and nothing is
    /// written. The message is the service's; the input file and line at its end are the
    /// emulator's own, to say where (the service's wording there is not on record).
    fn import(&self, inputs: &[(&String, &str, &str)]) -> Result<(), rpc::Status> {
        let mut import = Import::new(self.truth.refuse_type_conflicts);
        self.each_input_line(inputs, |uri, line_number, line| {
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(line.trim_ascii()) else {
                return Ok(());
            };
            import.check(&value).map_err(|reason| {
                status(
                    tonic::Code::InvalidArgument,
                    &format!("{IMPORT_FAILED} {reason} (input file {uri}, line {line_number})"),
                )
            })
        })
    }

    /// Calls `each` with every line of the input files in order (its file and line number,
    /// from 1), read a line at a time; a line past [`MAX_LINE_BYTES`] or a file that cannot
    /// be read fails the job. The import and the rows both read the input through it.
    fn each_input_line(
        &self,
        inputs: &[(&String, &str, &str)],
        mut each: impl FnMut(&str, u64, &[u8]) -> Result<(), rpc::Status>,
    ) -> Result<(), rpc::Status> {
        let mut line = Vec::new();
        for (uri, bucket, name) in inputs {
            let read_failed = |err: String| {
                status(
                    tonic::Code::Internal,
                    &format!("could not read the input file {uri}: {err}"),
                )
            };
            let mut reader = self
                .store
                .reader(bucket, name)
                .map_err(|err| read_failed(err.message))?;
            let mut line_number: u64 = 0;
            loop {
                line_number += 1;
                match read_line(&mut reader, &mut line, MAX_LINE_BYTES)
                    .map_err(|err| read_failed(err.to_string()))?
                {
                    Line::End => break,
                    Line::TooLong => return Err(too_long(uri, line_number)),
                    Line::Read => {}
                }
                each(uri, line_number, &line)?;
            }
        }
        Ok(())
    }
}

/// The fields of an input line beside `request`, echoed in its output line; none when the
/// line is not a JSON object.
fn extra_fields(line: &[u8]) -> serde_json::Map<String, serde_json::Value> {
    let mut fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(line).unwrap_or_default();
    fields.remove("request");
    fields
}

/// How many requests `job`'s input holds (its non-blank lines), so that progress counts them
/// from the start; 0 when the input cannot be read (the job will fail when it ends, saying
/// why). `None` for a job that does not read the store.
pub(crate) fn input_rows(store: &ObjectStore, job: &BatchPredictionJob) -> Option<i64> {
    if !reads_store(store, job) {
        return None;
    }
    let input = job.input_config.as_ref()?;
    let Some(Source::GcsSource(gcs)) = &input.source else {
        return None;
    };
    if input.instances_format != "jsonl" {
        return Some(0);
    }
    let count = |uri: &String| -> Option<i64> {
        let (bucket, name) = split(uri).ok()?;
        let mut reader = store.reader(bucket, name).ok()?;
        let (mut line, mut rows) = (Vec::new(), 0);
        loop {
            match read_line(&mut reader, &mut line, MAX_LINE_BYTES).ok()? {
                Line::End => return Some(rows),
                Line::TooLong => return None,
                Line::Read => rows += i64::from(!line.trim_ascii().is_empty()),
            }
        }
    };
    Some(gcs.uris.iter().map(count).sum::<Option<i64>>().unwrap_or(0))
}

/// Whether `job` reads the store: its input is `gs://`, and with objects in memory, its first
/// input's bucket exists there.
fn reads_store(store: &ObjectStore, job: &BatchPredictionJob) -> bool {
    let Some(Source::GcsSource(gcs)) = job.input_config.as_ref().and_then(|c| c.source.as_ref())
    else {
        return false;
    };
    if store.folder_backend().is_some() {
        return true;
    }
    gcs.uris
        .first()
        .and_then(|uri| split(uri).ok())
        .is_some_and(|(bucket, _)| store.has_bucket(bucket))
}

/// `gs://bucket/name` as `(bucket, name)`.
pub(crate) fn split(uri: &str) -> Result<(&str, &str), String> {
    uri.strip_prefix("gs://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(bucket, name)| !bucket.is_empty() && !name.is_empty())
        .ok_or_else(|| {
            format!("`{uri}` is not a Cloud Storage object: expected `gs://bucket/object`")
        })
}

/// A line no request fits in: the job fails rather than read it into memory.
fn too_long(uri: &str, line_number: u64) -> rpc::Status {
    status(
        tonic::Code::InvalidArgument,
        &format!(
            "line {line_number} of the input file {uri} is longer than the limit of {} a \
             line may have",
            size_text(MAX_LINE_BYTES)
        ),
    )
}

fn write_failed(uri: &str, err: &io::Error) -> rpc::Status {
    status(
        tonic::Code::Internal,
        &format!("could not write {uri} in the emulator's local gs:// folder: {err}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_map_under_the_root_and_never_leave_it() {
        let folder = GcsFolder::new(PathBuf::from("/srv/gcs"));
        for (uri, path) in [
            ("gs://bucket/dir/prompts.jsonl", "bucket/dir/prompts.jsonl"),
            ("gs://bucket/out/", "bucket/out"),
            ("gs://bucket/", "bucket"),
            ("gs://bucket", "bucket"),
            ("gs://bucket//x", "bucket/%/x"),
            ("gs://bucket/a//b/", "bucket/a/%/b"),
            (
                "gs://bucket/../../etc/passwd",
                "bucket/%%2E%2E/%%2E%2E/etc/passwd",
            ),
            ("gs://bucket/./x", "bucket/%%2E/x"),
            ("gs://bucket/a\\b", "bucket/%a%5Cb"),
            ("gs://bucket/100%", "bucket/100%"),
            ("gs://bucket/%d", "bucket/%%25d"),
            ("gs://bucket/%%", "bucket/%%25%25"),
        ] {
            let local = folder.local_path(uri).unwrap();
            assert_eq!(local, Path::new("/srv/gcs").join(path), "{uri}");
        }
        for bad in ["gs://", "s3://b/x", "gs://../x", "gs://B/x", "gs:///x"] {
            assert!(folder.local_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_name_has_a_path_of_its_own_and_comes_back_from_it() {
        let names = [
            "a", "a/b", "a/", "/a", "//", "/", "a//b", ".a", "a/./b", "a/../b", "...", "%", "%%",
            "%2E", "%25", "a\\b", "a\0b", "100%", "é/ü", "a/%%/b", "x.jsonl",
        ];
        let folder = GcsFolder::new(PathBuf::from("/r"));
        let mut paths = std::collections::BTreeSet::new();
        for name in names {
            let path = folder.object_path("bucket", name);
            assert!(path.starts_with("/r/bucket/"), "{name}: {}", path.display());
            let relative = path.strip_prefix("/r/bucket").unwrap();
            let components: Vec<String> = relative
                .components()
                .map(|c| {
                    assert!(matches!(c, std::path::Component::Normal(_)), "{name}");
                    c.as_os_str().to_string_lossy().into_owned()
                })
                .collect();
            assert!(!components.iter().any(|c| c == FOLDER_OBJECT), "{name}");
            let components: Vec<&str> = components.iter().map(String::as_str).collect();
            assert_eq!(name_of(&components).as_deref(), Some(name), "{name}");
            assert!(paths.insert(path), "{name} shares a path");
        }
        // An object displaced into its folder keeps its name; `%%` alone names nothing.
        assert_eq!(name_of(&["a", "b", FOLDER_OBJECT]).as_deref(), Some("a/b"));
        assert_eq!(name_of(&[FOLDER_OBJECT]), None);
        assert_eq!(name_of(&["a", FOLDER_OBJECT, "b"]), None);
        // A file put there by hand is the object of its name, unless no name maps to it.
        assert_eq!(name_of(&["50%off"]).as_deref(), Some("50%off"));
        assert_eq!(name_of(&["%zz"]), None);
        assert_eq!(name_of(&["%%2e"]), None);
    }
}

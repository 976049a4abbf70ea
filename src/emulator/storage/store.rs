//! The objects the emulator holds: in memory, or in its local folder (`gs://bucket/name` =
//! `ROOT/bucket/name`). One store serves the JSON API and the jobs, so a job reads what a
//! client uploaded and a client downloads what a job wrote.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;

use super::super::clock::lock;
use super::super::gcs_folder::GcsFolder;
use super::conditions::{Access, Conditions};

/// Folder-backed uploads are written here (under the root) and renamed into place when they
/// complete; bucket names cannot start with a dot, so no bucket can collide with it.
const UPLOADS_DIR: &str = ".vertex-batch-uploads";

/// What is known of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectMeta {
    pub(crate) bucket: String,
    pub(crate) name: String,
    pub(crate) size: u64,
    pub(crate) generation: i64,
    /// 1: the emulator has no metadata updates, which would raise it.
    pub(crate) metageneration: i64,
    pub(crate) updated: SystemTime,
    pub(crate) content_type: String,
}

/// Why a store operation failed, as the JSON API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreError {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
}

impl StoreError {
    pub(crate) fn not_found(bucket: &str, name: &str) -> Self {
        StoreError {
            code: 404,
            reason: "notFound",
            message: format!("No such object: {bucket}/{name}"),
        }
    }

    fn no_bucket(bucket: &str) -> Self {
        StoreError {
            code: 404,
            reason: "notFound",
            message: format!("The specified bucket does not exist: {bucket}"),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        StoreError {
            code: 400,
            reason: "invalid",
            message: message.into(),
        }
    }

    fn io(what: &str, err: &io::Error) -> Self {
        StoreError {
            code: 500,
            reason: "backendError",
            message: format!("{what}: {err}"),
        }
    }
}

/// The emulator's objects. Cheap to clone; clones share the objects.
#[derive(Debug, Clone)]
pub(crate) struct ObjectStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    backend: Backend,
    /// Generations grow with every write, as the service's do: the last one given.
    next_generation: AtomicU64,
    /// Names the in-flight uploads' temporary files.
    next_upload: AtomicU64,
    /// Held while a folder's object is checked against a request's conditions and replaced
    /// or removed, so that two conditional writes cannot both pass. (A memory store holds
    /// its map's lock for the same.)
    commits: Mutex<()>,
}

#[derive(Debug)]
enum Backend {
    Memory(Mutex<BTreeMap<(String, String), MemoryObject>>),
    Folder(GcsFolder),
}

#[derive(Debug, Clone)]
struct MemoryObject {
    data: Bytes,
    meta: ObjectMeta,
}

/// Bytes of an object, ready to stream.
pub(crate) enum ObjectData {
    Memory(Bytes),
    /// A file, positioned at the first byte wanted.
    File(File),
}

impl ObjectStore {
    /// Objects kept in memory, gone with the emulator.
    pub(crate) fn memory() -> Self {
        Self::with(Backend::Memory(Mutex::default()))
    }

    /// Objects kept as files under the folder's root.
    pub(crate) fn folder(folder: GcsFolder) -> Self {
        Self::with(Backend::Folder(folder))
    }

    fn with(backend: Backend) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as u64;
        ObjectStore {
            inner: Arc::new(Inner {
                backend,
                next_generation: AtomicU64::new(now),
                next_upload: AtomicU64::new(0),
                commits: Mutex::new(()),
            }),
        }
    }

    /// The local folder, when the objects are files.
    pub(crate) fn folder_backend(&self) -> Option<&GcsFolder> {
        match &self.inner.backend {
            Backend::Folder(folder) => Some(folder),
            Backend::Memory(_) => None,
        }
    }

    /// A new generation: above every one given before, above `replaced` (the generation of
    /// the object a write replaces) and at least the current time in microseconds, so
    /// generations grow per object across restarts over the same folder too.
    fn next_generation(&self, replaced: Option<i64>) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as u64;
        let floor = replaced
            .map_or(0, |g| (g.max(0) as u64).saturating_add(1))
            .max(now);
        let previous = self
            .inner
            .next_generation
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                Some(last.saturating_add(1).max(floor))
            })
            .unwrap_or_else(|last| last);
        previous.saturating_add(1).max(floor).min(i64::MAX as u64) as i64
    }

    /// Whether the bucket exists: in memory, once something was written to it; in a folder,
    /// when `ROOT/bucket` is a directory.
    pub(crate) fn has_bucket(&self, bucket: &str) -> bool {
        if check_bucket(bucket).is_err() {
            return false;
        }
        match &self.inner.backend {
            Backend::Memory(objects) => lock(objects)
                .range((bucket.to_owned(), String::new())..)
                .next()
                .is_some_and(|((b, _), _)| b == bucket),
            Backend::Folder(folder) => folder.root().join(bucket).is_dir(),
        }
    }

    /// An object's metadata, if `conditions` hold (see [`Conditions::check`]).
    pub(crate) fn meta_if(
        &self,
        bucket: &str,
        name: &str,
        conditions: &Conditions,
    ) -> Result<ObjectMeta, StoreError> {
        let meta = self.live(bucket, name)?;
        conditions.check(meta.as_ref(), Access::Read, bucket, name)?;
        meta.ok_or_else(|| StoreError::not_found(bucket, name))
    }

    /// Whether a write under `conditions` would pass now (it is checked again when it
    /// commits): an upload's conditions are checked when it starts, as the service does.
    pub(crate) fn check_write(
        &self,
        bucket: &str,
        name: &str,
        conditions: &Conditions,
    ) -> Result<(), StoreError> {
        check_name(name)?;
        let meta = self.live(bucket, name)?;
        conditions.check(meta.as_ref(), Access::Write, bucket, name)
    }

    /// The live object's metadata, `None` when there is none.
    fn live(&self, bucket: &str, name: &str) -> Result<Option<ObjectMeta>, StoreError> {
        match self.meta(bucket, name) {
            Ok(meta) => Ok(Some(meta)),
            Err(err) if err.code == 404 => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// An object's bytes and the metadata of the very generation they are, if `conditions`
    /// hold: the file is opened first and its metadata read from the open file, so a write
    /// that replaces it meanwhile changes neither.
    pub(crate) fn open_if(
        &self,
        bucket: &str,
        name: &str,
        conditions: &Conditions,
    ) -> Result<(ObjectMeta, ObjectData), StoreError> {
        check_bucket(bucket)?;
        let (meta, data) = match &self.inner.backend {
            Backend::Memory(objects) => {
                let objects = lock(objects);
                match objects.get(&(bucket.to_owned(), name.to_owned())) {
                    Some(object) => (
                        Some(object.meta.clone()),
                        Some(ObjectData::Memory(object.data.clone())),
                    ),
                    None => (None, None),
                }
            }
            Backend::Folder(folder) => {
                let path = object_path(folder, bucket, name)?;
                match open(&path, bucket, name) {
                    Ok(file) => {
                        let meta = file
                            .metadata()
                            .map_err(|e| StoreError::io("could not read the object", &e))?;
                        (
                            Some(meta_of(&meta, bucket, name)),
                            Some(ObjectData::File(file)),
                        )
                    }
                    Err(err) if err.code == 404 => (None, None),
                    Err(err) => return Err(err),
                }
            }
        };
        conditions.check(meta.as_ref(), Access::Read, bucket, name)?;
        match (meta, data) {
            (Some(meta), Some(data)) => Ok((meta, data)),
            _ => Err(StoreError::not_found(bucket, name)),
        }
    }

    /// An object's metadata.
    pub(crate) fn meta(&self, bucket: &str, name: &str) -> Result<ObjectMeta, StoreError> {
        check_bucket(bucket)?;
        match &self.inner.backend {
            Backend::Memory(objects) => lock(objects)
                .get(&(bucket.to_owned(), name.to_owned()))
                .map(|object| object.meta.clone())
                .ok_or_else(|| StoreError::not_found(bucket, name)),
            Backend::Folder(folder) => {
                let path = object_path(folder, bucket, name)?;
                file_meta(&path, bucket, name)
            }
        }
    }

    /// The bytes `first..first + len` of an object (the caller checked the range).
    pub(crate) fn read(
        &self,
        bucket: &str,
        name: &str,
        first: u64,
        len: u64,
    ) -> Result<ObjectData, StoreError> {
        check_bucket(bucket)?;
        match &self.inner.backend {
            Backend::Memory(objects) => {
                let objects = lock(objects);
                let object = objects
                    .get(&(bucket.to_owned(), name.to_owned()))
                    .ok_or_else(|| StoreError::not_found(bucket, name))?;
                let end = (first + len).min(object.data.len() as u64);
                Ok(ObjectData::Memory(
                    object.data.slice(first as usize..end as usize),
                ))
            }
            Backend::Folder(folder) => {
                let path = object_path(folder, bucket, name)?;
                let mut file = open(&path, bucket, name)?;
                file.seek(SeekFrom::Start(first))
                    .map_err(|e| StoreError::io("could not read the object", &e))?;
                Ok(ObjectData::File(file))
            }
        }
    }

    /// A reader over a whole object, for jobs reading their input.
    pub(crate) fn reader(
        &self,
        bucket: &str,
        name: &str,
    ) -> Result<Box<dyn BufRead + Send>, StoreError> {
        Ok(match self.read(bucket, name, 0, u64::MAX)? {
            ObjectData::Memory(bytes) => Box::new(Cursor::new(bytes)),
            ObjectData::File(file) => Box::new(BufReader::new(file)),
        })
    }

    /// A new object, written piece by piece and visible once [`ObjectWriter::commit`]ted; an
    /// object of that name is replaced then. The bucket is made when it does not exist (the
    /// emulator has no bucket API).
    pub(crate) fn writer(
        &self,
        bucket: &str,
        name: &str,
        content_type: &str,
    ) -> Result<ObjectWriter, StoreError> {
        check_bucket(bucket)?;
        check_name(name)?;
        let sink = match &self.inner.backend {
            Backend::Memory(_) => Sink::Memory(Vec::new()),
            Backend::Folder(folder) => {
                let target = object_path(folder, bucket, name)?;
                let dir = folder.root().join(UPLOADS_DIR);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| StoreError::io("could not start the upload", &e))?;
                let temp = dir.join(format!(
                    "{}-{}",
                    std::process::id(),
                    self.inner.next_upload.fetch_add(1, Ordering::Relaxed)
                ));
                let file = File::create(&temp)
                    .map_err(|e| StoreError::io("could not start the upload", &e))?;
                Sink::File {
                    file: io::BufWriter::new(file),
                    temp,
                    target,
                }
            }
        };
        Ok(ObjectWriter {
            store: self.clone(),
            bucket: bucket.to_owned(),
            name: name.to_owned(),
            content_type: content_type.to_owned(),
            written: 0,
            sink,
            conditions: Conditions::default(),
        })
    }

    /// Up to `max` objects of `bucket` whose names start with `prefix` and come after
    /// `after`, in name order, and whether more follow.
    pub(crate) fn list(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<(Vec<ObjectMeta>, bool), StoreError> {
        check_bucket(bucket)?;
        if !self.has_bucket(bucket) {
            return Err(StoreError::no_bucket(bucket));
        }
        let mut found = Vec::with_capacity(max.min(1024));
        let mut more = false;
        let mut take = |meta: ObjectMeta| {
            if found.len() == max {
                more = true;
                false
            } else {
                found.push(meta);
                true
            }
        };
        match &self.inner.backend {
            Backend::Memory(objects) => {
                let objects = lock(objects);
                let start = (bucket.to_owned(), after.unwrap_or(prefix).to_owned());
                for ((b, name), object) in objects.range(start..) {
                    if b != bucket || !name.starts_with(prefix) {
                        break;
                    }
                    if after.is_some_and(|after| name.as_str() <= after) {
                        continue;
                    }
                    if !take(object.meta.clone()) {
                        break;
                    }
                }
            }
            Backend::Folder(folder) => {
                for name in folder_names(folder, bucket, prefix)? {
                    if after.is_some_and(|after| name.as_str() <= after) {
                        continue;
                    }
                    let path = object_path(folder, bucket, &name)?;
                    if !take(file_meta(&path, bucket, &name)?) {
                        break;
                    }
                }
            }
        }
        Ok((found, more))
    }

    /// Deletes an object, if `conditions` hold (a missing object is a 404 first).
    pub(crate) fn delete_if(
        &self,
        bucket: &str,
        name: &str,
        conditions: &Conditions,
    ) -> Result<(), StoreError> {
        check_bucket(bucket)?;
        let check = |meta: Option<&ObjectMeta>| {
            if meta.is_none() {
                return Err(StoreError::not_found(bucket, name));
            }
            conditions.check(meta, Access::Write, bucket, name)
        };
        match &self.inner.backend {
            Backend::Memory(objects) => {
                let mut objects = lock(objects);
                let key = (bucket.to_owned(), name.to_owned());
                check(objects.get(&key).map(|object| &object.meta))?;
                objects.remove(&key);
                Ok(())
            }
            Backend::Folder(folder) => {
                let path = object_path(folder, bucket, name)?;
                let _commit = lock(&self.inner.commits);
                check(self.live(bucket, name)?.as_ref())?;
                std::fs::remove_file(&path)
                    .map_err(|e| StoreError::io("could not delete the object", &e))
            }
        }
    }
}

/// An object being written; see [`ObjectStore::writer`].
pub(crate) struct ObjectWriter {
    store: ObjectStore,
    bucket: String,
    name: String,
    content_type: String,
    written: u64,
    sink: Sink,
    /// Checked when the upload commits (a request's conditions were also checked when it
    /// started).
    conditions: Conditions,
}

enum Sink {
    Memory(Vec<u8>),
    File {
        file: io::BufWriter<File>,
        temp: PathBuf,
        target: PathBuf,
    },
}

impl ObjectWriter {
    /// How many bytes were written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// The conditions the object must meet when the upload commits.
    pub(crate) fn with_conditions(mut self, conditions: Conditions) -> Self {
        self.conditions = conditions;
        self
    }

    /// Makes the object visible, replacing any object of that name, if the writer's
    /// conditions hold then (412 and nothing written otherwise). Its generation is greater
    /// than that of the object it replaces.
    pub(crate) fn commit(mut self) -> Result<ObjectMeta, StoreError> {
        // Taken out, so that the drop that follows has no temporary file left to remove.
        let sink = std::mem::replace(&mut self.sink, Sink::Memory(Vec::new()));
        let (bucket, name) = (
            std::mem::take(&mut self.bucket),
            std::mem::take(&mut self.name),
        );
        match sink {
            Sink::Memory(data) => {
                let Backend::Memory(objects) = &self.store.inner.backend else {
                    return Err(StoreError::io(
                        "could not finish the upload",
                        &io::Error::other("a memory upload in a folder store"),
                    ));
                };
                let mut objects = lock(objects);
                let key = (bucket.clone(), name.clone());
                let replaced = objects.get(&key).map(|object| &object.meta);
                self.conditions
                    .check(replaced, Access::Write, &bucket, &name)?;
                let generation = self.store.next_generation(replaced.map(|m| m.generation));
                let meta = ObjectMeta {
                    bucket: bucket.clone(),
                    name: name.clone(),
                    size: data.len() as u64,
                    generation,
                    metageneration: 1,
                    updated: SystemTime::now(),
                    content_type: std::mem::take(&mut self.content_type),
                };
                objects.insert(
                    (bucket, name),
                    MemoryObject {
                        data: Bytes::from(data),
                        meta: meta.clone(),
                    },
                );
                Ok(meta)
            }
            Sink::File { file, temp, target } => {
                let failed = |e: &io::Error| StoreError::io("could not finish the upload", e);
                let file = file.into_inner().map_err(|e| failed(e.error()))?;
                let store = self.store.clone();
                let _commit = lock(&store.inner.commits);
                let discard = |err: StoreError| {
                    let _ = std::fs::remove_file(&temp);
                    err
                };
                let replaced = store.live(&bucket, &name).map_err(discard)?;
                self.conditions
                    .check(replaced.as_ref(), Access::Write, &bucket, &name)
                    .map_err(discard)?;
                // The folder's generation is the file's modification time in microseconds:
                // set to the new generation, which later reads of the file then see.
                let generation = store.next_generation(replaced.map(|m| m.generation));
                let mtime = UNIX_EPOCH + std::time::Duration::from_micros(generation as u64);
                file.set_modified(mtime).map_err(|e| discard(failed(&e)))?;
                file.sync_all().map_err(|e| discard(failed(&e)))?;
                drop(file);
                if let Some(dir) = target.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| discard(failed(&e)))?;
                }
                if let Err(e) = std::fs::rename(&temp, &target) {
                    return Err(discard(failed(&e)));
                }
                file_meta(&target, &bucket, &name)
            }
        }
    }
}

impl Write for ObjectWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.sink {
            Sink::Memory(data) => {
                data.extend_from_slice(buf);
                buf.len()
            }
            Sink::File { file, .. } => file.write(buf)?,
        };
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Memory(_) => Ok(()),
            Sink::File { file, .. } => file.flush(),
        }
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        // An upload that never completed leaves nothing behind.
        if let Sink::File { temp, .. } = &self.sink {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// A bucket name as Cloud Storage takes it: 3 to 63 characters (222 with dots, 63 a
/// dot-separated part), lower-case letters, digits, `-`, `_` and `.`, starting and ending with
/// a letter or digit. Checked wherever a bucket appears, so no name reaches outside the
/// folder's root (`..`, `%2F`) or into its in-flight uploads (`.vertex-batch-uploads`).
pub(crate) fn check_bucket(bucket: &str) -> Result<(), StoreError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let max = if bucket.contains('.') { 222 } else { 63 };
    if (3..=max).contains(&bucket.len())
        && bucket.chars().all(allowed)
        && edge(bucket.chars().next())
        && edge(bucket.chars().last())
        && bucket.split('.').all(|part| (1..=63).contains(&part.len()))
    {
        return Ok(());
    }
    Err(StoreError::invalid(format!(
        "Invalid bucket name: {bucket:?} (3 to 63 lower-case letters, digits, `-`, `_` or `.`, \
         222 with dots, starting and ending with a letter or digit)"
    )))
}

fn check_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.len() > 1024 || name.contains(['\r', '\n']) {
        return Err(StoreError::invalid(format!(
            "{name:?} is not an object name: 1 to 1024 bytes of UTF-8 without carriage returns \
             or line feeds"
        )));
    }
    Ok(())
}

fn object_path(folder: &GcsFolder, bucket: &str, name: &str) -> Result<PathBuf, StoreError> {
    check_name(name)?;
    if name.ends_with('/') || name.contains("//") {
        return Err(StoreError::invalid(format!(
            "{name:?}: the emulator's local gs:// folder cannot hold object names with an empty \
             segment (a trailing or doubled `/`)"
        )));
    }
    folder
        .local_path(&format!("gs://{bucket}/{name}"))
        .map_err(StoreError::invalid)
}

fn open(path: &Path, bucket: &str, name: &str) -> Result<File, StoreError> {
    match File::open(path) {
        Ok(file) if path.is_file() => Ok(file),
        Ok(_) => Err(StoreError::not_found(bucket, name)),
        Err(e) if absent(&e) => Err(StoreError::not_found(bucket, name)),
        Err(e) => Err(StoreError::io("could not read the object", &e)),
    }
}

/// An error that means "no such file": not there, or a path through a file (`a/b` where `a`
/// is an object), which is a missing object too, not a failure.
fn absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn file_meta(path: &Path, bucket: &str, name: &str) -> Result<ObjectMeta, StoreError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => meta,
        Ok(_) => return Err(StoreError::not_found(bucket, name)),
        Err(e) if absent(&e) => {
            return Err(StoreError::not_found(bucket, name));
        }
        Err(e) => return Err(StoreError::io("could not read the object's metadata", &e)),
    };
    Ok(meta_of(&meta, bucket, name))
}

/// A file's object metadata. Its generation is its modification time in microseconds: a
/// commit sets that to a new generation, above the one before (so two writes in one
/// microsecond still differ), and a file written there by hand gets a new one too.
fn meta_of(meta: &std::fs::Metadata, bucket: &str, name: &str) -> ObjectMeta {
    let updated = meta.modified().unwrap_or_else(|_| SystemTime::now());
    let generation = updated
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros()
        .min(i64::MAX as u128) as i64;
    ObjectMeta {
        bucket: bucket.to_owned(),
        name: name.to_owned(),
        size: meta.len(),
        generation,
        metageneration: 1,
        updated,
        content_type: content_type(name).to_owned(),
    }
}

/// The content type the folder reports for a file (it keeps none of its own).
fn content_type(name: &str) -> &'static str {
    if name.ends_with(".jsonl") {
        "application/jsonl"
    } else if name.ends_with(".json") {
        "application/json"
    } else {
        "application/octet-stream"
    }
}

/// The names of the files under `ROOT/bucket` starting with `prefix`, sorted. Only the
/// directory the prefix points into is walked.
fn folder_names(folder: &GcsFolder, bucket: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
    let bucket_dir = folder.root().join(bucket);
    let (dir_part, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
    let mut start = bucket_dir.clone();
    for segment in dir_part.split('/').filter(|s| !s.is_empty()) {
        if segment == "." || segment == ".." {
            return Ok(Vec::new());
        }
        start.push(segment);
    }
    let mut names = Vec::new();
    let mut stack = vec![start];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io("could not list the bucket", &e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io("could not list the bucket", &e))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| StoreError::io("could not list the bucket", &e))?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let Ok(relative) = path.strip_prefix(&bucket_dir) else {
                    continue;
                };
                let name = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                if name.starts_with(prefix) {
                    names.push(name);
                }
            }
        }
    }
    names.sort();
    Ok(names)
}

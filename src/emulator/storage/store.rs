//! The objects the emulator holds: in memory, or in its local folder (`gs://bucket/name` =
//! `ROOT/bucket/name`, every name distinct by [`GcsFolder::object_path`]'s one mapping). One
//! store serves the JSON API and the jobs, so a job reads what a client uploaded and a client
//! downloads what a job wrote.
//!
//! The folder holds Cloud Storage's flat namespace: objects `a` and `a/b` at once (`a` is then
//! the file `a/%%`: an object whose file would be in the way of a folder moves into it when
//! that folder is made, and back when it empties; a write whose path is a folder lands
//! there), names with empty
//! segments (`/x`, `a//b`, `a/`) and `.`/`..` segments, encoded ([`encode_segment`]). A
//! path through an object is a missing object (404).
//!
//! Every object carries the hashes Cloud Storage keeps, CRC32C and MD5 ([`Hashes`]): computed
//! as an upload's bytes are written, or for a file put in the folder by hand, from the file
//! the first time it is asked about (and again when it changes).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;

use super::super::clock::lock;
#[cfg(doc)]
use super::super::gcs_folder::encode_segment;
use super::super::gcs_folder::{FOLDER_OBJECT, GcsFolder, name_of};
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
    pub(crate) hashes: Hashes,
}

/// The hashes Cloud Storage keeps of an object's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hashes {
    pub(crate) crc32c: u32,
    pub(crate) md5: [u8; 16],
}

impl Hashes {
    /// The CRC32C as the service writes it: base64 of its 4 bytes, big-endian.
    pub(crate) fn crc32c_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.crc32c.to_be_bytes())
    }

    /// The MD5 as the service writes it: base64 of its 16 bytes.
    pub(crate) fn md5_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.md5)
    }

    /// The hashes of everything `reader` yields.
    fn of_reader(mut reader: impl io::Read) -> io::Result<Self> {
        let mut hasher = Hasher::default();
        let mut buffer = vec![0; 256 * 1024];
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => return Ok(hasher.finish()),
                Ok(n) => hasher.update(&buffer[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Both hashes, fed as bytes are written.
#[derive(Clone, Default)]
struct Hasher {
    crc32c: u32,
    md5: md5::Md5,
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        use md5::Digest;
        self.crc32c = crc32c::crc32c_append(self.crc32c, bytes);
        self.md5.update(bytes);
    }

    fn finish(self) -> Hashes {
        use md5::Digest;
        Hashes {
            crc32c: self.crc32c,
            md5: self.md5.finalize().into(),
        }
    }
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
    /// A folder's files' hashes, by path, with the generation and size they are of.
    hashes: Mutex<std::collections::HashMap<PathBuf, (i64, u64, Hashes)>>,
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
                hashes: Mutex::default(),
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
        let meta = match self.meta(bucket, name) {
            Ok(meta) => Some(meta),
            Err(err) if err.code == 404 => None,
            Err(err) => return Err(err),
        };
        conditions.check(meta.as_ref(), Access::Read, bucket, name)?;
        meta.ok_or_else(|| StoreError::not_found(bucket, name))
    }

    /// `look`'s answer, looked again under the commit lock when it found nothing in a folder:
    /// a commit or delete may have been moving the object's file between its own path and
    /// its folder's [`FOLDER_OBJECT`] at that moment. Not for callers holding the lock.
    fn settled<T>(&self, look: impl Fn() -> Result<T, StoreError>) -> Result<T, StoreError> {
        match look() {
            Err(err) if err.code == 404 && self.folder_backend().is_some() => {
                let _commit = lock(&self.inner.commits);
                look()
            }
            other => other,
        }
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
        match self.meta_now(bucket, name) {
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
                let opened = self.settled(|| {
                    let path = object_file(folder, bucket, name)?;
                    let file = open(&path, bucket, name)?;
                    Ok((path, file))
                });
                match opened {
                    Ok((path, file)) => {
                        let meta = self.meta_of_file(&file, &path, bucket, name)?;
                        (Some(meta), Some(ObjectData::File(file)))
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
        self.settled(|| self.meta_now(bucket, name))
    }

    /// [`meta`](Self::meta) as the store is now, for callers holding the commit lock.
    fn meta_now(&self, bucket: &str, name: &str) -> Result<ObjectMeta, StoreError> {
        check_bucket(bucket)?;
        match &self.inner.backend {
            Backend::Memory(objects) => lock(objects)
                .get(&(bucket.to_owned(), name.to_owned()))
                .map(|object| object.meta.clone())
                .ok_or_else(|| StoreError::not_found(bucket, name)),
            Backend::Folder(folder) => {
                let path = object_file(folder, bucket, name)?;
                self.file_meta(&path, bucket, name)
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
                let mut file =
                    self.settled(|| open(&object_file(folder, bucket, name)?, bucket, name))?;
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
            hasher: Hasher::default(),
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
                for (name, path) in folder_names(folder, bucket, prefix)? {
                    if after.is_some_and(|after| name.as_str() <= after) {
                        continue;
                    }
                    let meta = match self.file_meta(&path, bucket, &name) {
                        Ok(meta) => meta,
                        // Deleted since the folder was read.
                        Err(err) if err.code == 404 => continue,
                        Err(err) => return Err(err),
                    };
                    if !take(meta) {
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
                let _commit = lock(&self.inner.commits);
                check(self.live(bucket, name)?.as_ref())?;
                let path = object_file(folder, bucket, name)?;
                std::fs::remove_file(&path)
                    .map_err(|e| StoreError::io("could not delete the object", &e))?;
                lock(&self.inner.hashes).remove(&path);
                self.tidy(folder, bucket, &path);
                Ok(())
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
    hasher: Hasher,
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
                    hashes: std::mem::take(&mut self.hasher).finish(),
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
                let size = file.metadata().map_err(|e| discard(failed(&e)))?.len();
                drop(file);
                let Backend::Folder(folder) = &store.inner.backend else {
                    return Err(discard(failed(&io::Error::other(
                        "a folder upload in a memory store",
                    ))));
                };
                let target = store.make_room(folder, &bucket, &target).map_err(discard)?;
                let hashes = std::mem::take(&mut self.hasher).finish();
                lock(&store.inner.hashes).insert(target.clone(), (generation, size, hashes));
                if let Err(e) = std::fs::rename(&temp, &target) {
                    lock(&store.inner.hashes).remove(&target);
                    return Err(discard(name_error(&e).unwrap_or_else(|| failed(&e))));
                }
                store.file_meta(&target, &bucket, &name)
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
        self.hasher.update(&buf[..n]);
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
    if crate::names::is_bucket_name(bucket) {
        return Ok(());
    }
    Err(StoreError::invalid(format!(
        "Invalid bucket name: {bucket:?} (3 to 63 lower-case letters, digits, `-`, `_` or `.`, \
         222 with dots, starting and ending with a letter or digit)"
    )))
}

/// An object name as Cloud Storage takes it: 1 to 1024 bytes of UTF-8, no carriage return or
/// line feed, not `.` or `..`.
fn check_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty()
        || name.len() > 1024
        || name.contains(['\r', '\n'])
        || name == "."
        || name == ".."
    {
        return Err(StoreError::invalid(format!(
            "The object name {name:?} is not valid: 1 to 1024 bytes of UTF-8 without carriage \
             returns or line feeds, and not `.` or `..`"
        )));
    }
    Ok(())
}

/// The path `name` maps to ([`GcsFolder::object_path`]), which may be a folder.
fn object_path(folder: &GcsFolder, bucket: &str, name: &str) -> Result<PathBuf, StoreError> {
    check_name(name)?;
    Ok(folder.object_path(bucket, name))
}

/// The file that holds `name` if it exists: its path, or [`FOLDER_OBJECT`] in it when that
/// path is a folder (objects below it too).
fn object_file(folder: &GcsFolder, bucket: &str, name: &str) -> Result<PathBuf, StoreError> {
    let path = object_path(folder, bucket, name)?;
    Ok(if path.is_dir() {
        path.join(FOLDER_OBJECT)
    } else {
        path
    })
}

impl ObjectStore {
    /// A path, in the folder of in-flight uploads, to put a file aside while it moves.
    fn aside(&self, folder: &GcsFolder) -> io::Result<PathBuf> {
        let dir = folder.root().join(UPLOADS_DIR);
        std::fs::create_dir_all(&dir)?;
        Ok(dir.join(format!(
            "{}-{}-moving",
            std::process::id(),
            self.inner.next_upload.fetch_add(1, Ordering::Relaxed)
        )))
    }

    /// After the file `removed` went: the folders it leaves empty go, and an object left
    /// alone in its folder (as [`FOLDER_OBJECT`]) moves back to that folder's path, so that
    /// names are at their natural paths again (`a/%%` is `a` once no object is below `a/`).
    /// Best effort: what cannot be tidied stays as it is, still found by its name. Called
    /// under the commit lock.
    fn tidy(&self, folder: &GcsFolder, bucket: &str, removed: &Path) {
        let bucket_dir = folder.root().join(bucket);
        let mut dir = removed.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(&bucket_dir) && *d != bucket_dir) {
            let entries: Vec<_> = match std::fs::read_dir(d) {
                Ok(entries) => entries.take(2).filter_map(Result::ok).collect(),
                Err(_) => return,
            };
            match entries.as_slice() {
                [] => {
                    if std::fs::remove_dir(d).is_err() {
                        return;
                    }
                    dir = d.parent();
                }
                [only] if only.file_name() == FOLDER_OBJECT => {
                    let Ok(aside) = self.aside(folder) else {
                        return;
                    };
                    let inside = d.join(FOLDER_OBJECT);
                    if std::fs::rename(&inside, &aside).is_err() {
                        return;
                    }
                    if std::fs::remove_dir(d).is_err() || std::fs::rename(&aside, d).is_err() {
                        // Put back where it was found.
                        let _ = std::fs::create_dir_all(d);
                        let _ = std::fs::rename(&aside, &inside);
                        return;
                    }
                    let mut hashes = lock(&self.inner.hashes);
                    if let Some(known) = hashes.remove(&inside) {
                        hashes.insert(d.to_path_buf(), known);
                    }
                    return;
                }
                _ => return,
            }
        }
    }

    /// Makes the folders `target`'s file goes in, moving an object whose file is in the way
    /// into the folder made there (as [`FOLDER_OBJECT`]), and answers where the file goes:
    /// `target`, or [`FOLDER_OBJECT`] in it when it is a folder. Called under the commit lock.
    fn make_room(
        &self,
        folder: &GcsFolder,
        bucket: &str,
        target: &Path,
    ) -> Result<PathBuf, StoreError> {
        let failed = |e: &io::Error| {
            name_error(e).unwrap_or_else(|| StoreError::io("could not finish the upload", e))
        };
        let bucket_dir = folder.root().join(bucket);
        std::fs::create_dir_all(&bucket_dir).map_err(|e| failed(&e))?;
        let Ok(below) = target.strip_prefix(&bucket_dir) else {
            return Err(failed(&io::Error::other(
                "an object path outside its bucket",
            )));
        };
        let components: Vec<_> = below.components().collect();
        let mut dir = bucket_dir;
        for component in &components[..components.len().saturating_sub(1)] {
            dir.push(component);
            // Followed: a link to a folder, put there by hand, stays the folder it was.
            match std::fs::metadata(&dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    // An object's file where a folder must be: it moves into that folder.
                    let aside = self.aside(folder).map_err(|e| failed(&e))?;
                    std::fs::rename(&dir, &aside).map_err(|e| failed(&e))?;
                    if let Err(e) = std::fs::create_dir(&dir) {
                        let _ = std::fs::rename(&aside, &dir);
                        return Err(failed(&e));
                    }
                    std::fs::rename(&aside, dir.join(FOLDER_OBJECT)).map_err(|e| failed(&e))?;
                    let mut hashes = lock(&self.inner.hashes);
                    if let Some(known) = hashes.remove(&dir) {
                        hashes.insert(dir.join(FOLDER_OBJECT), known);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    std::fs::create_dir(&dir).map_err(|e| failed(&e))?;
                }
                Err(e) => return Err(failed(&e)),
            }
        }
        Ok(if target.is_dir() {
            target.join(FOLDER_OBJECT)
        } else {
            target.to_path_buf()
        })
    }
}

/// A file system's refusal of a name (a segment longer than its 255 bytes), as a 400.
fn name_error(e: &io::Error) -> Option<StoreError> {
    (e.kind() == io::ErrorKind::InvalidFilename).then(|| {
        StoreError::invalid(format!(
            "The emulator's local gs:// folder cannot hold this object name: a segment between \
             two `/` is longer than its file system takes ({e}); use shorter segments, or the \
             emulator without --gcs-root (objects in memory)"
        ))
    })
}

fn open(path: &Path, bucket: &str, name: &str) -> Result<File, StoreError> {
    match File::open(path) {
        Ok(file) if path.is_file() => Ok(file),
        Ok(_) => Err(StoreError::not_found(bucket, name)),
        Err(e) if absent(&e) => Err(StoreError::not_found(bucket, name)),
        Err(e) => Err(StoreError::io("could not read the object", &e)),
    }
}

/// An error that means "no such file": not there, a path through a file (`a/b` where `a`
/// is an object's file), or a name no file can have (too long a segment): a missing object,
/// not a failure.
fn absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidFilename
    )
}

impl ObjectStore {
    /// The metadata of the object in the file at `path`.
    fn file_meta(&self, path: &Path, bucket: &str, name: &str) -> Result<ObjectMeta, StoreError> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(StoreError::not_found(bucket, name)),
            Err(e) if absent(&e) => return Err(StoreError::not_found(bucket, name)),
            Err(e) => return Err(StoreError::io("could not read the object's metadata", &e)),
        }
        let file = open(path, bucket, name)?;
        self.meta_of_file(&file, path, bucket, name)
    }

    /// The metadata of the object in `file`, open at `path`: its hashes from the store's
    /// memory of that path, or read from the file when it changed or was never seen (`file`
    /// is then left at its start again).
    fn meta_of_file(
        &self,
        file: &File,
        path: &Path,
        bucket: &str,
        name: &str,
    ) -> Result<ObjectMeta, StoreError> {
        let read_failed = |e: &io::Error| StoreError::io("could not read the object", e);
        let meta = file.metadata().map_err(|e| read_failed(&e))?;
        let updated = meta.modified().unwrap_or_else(|_| SystemTime::now());
        let generation = updated
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros()
            .min(i64::MAX as u128) as i64;
        let size = meta.len();
        let known = lock(&self.inner.hashes)
            .get(path)
            .filter(|(g, s, _)| *g == generation && *s == size)
            .map(|(_, _, hashes)| *hashes);
        let hashes = match known {
            Some(hashes) => hashes,
            None => {
                let mut reader = file;
                reader
                    .seek(SeekFrom::Start(0))
                    .map_err(|e| read_failed(&e))?;
                let hashes = Hashes::of_reader(reader).map_err(|e| read_failed(&e))?;
                reader
                    .seek(SeekFrom::Start(0))
                    .map_err(|e| read_failed(&e))?;
                lock(&self.inner.hashes).insert(path.to_path_buf(), (generation, size, hashes));
                hashes
            }
        };
        Ok(ObjectMeta {
            bucket: bucket.to_owned(),
            name: name.to_owned(),
            size,
            generation,
            metageneration: 1,
            updated,
            content_type: content_type(name).to_owned(),
            hashes,
        })
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

/// The objects under `ROOT/bucket` whose names start with `prefix`, with their files, sorted
/// by name. Only the folder of the prefix's whole segments is walked.
fn folder_names(
    folder: &GcsFolder,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<(String, PathBuf)>, StoreError> {
    let bucket_dir = folder.root().join(bucket);
    let start = match prefix.rsplit_once('/') {
        Some((whole, _)) => folder.object_path(bucket, whole),
        None => bucket_dir.clone(),
    };
    let listing = |e: &io::Error| StoreError::io("could not list the bucket", e);
    let mut names = Vec::new();
    let mut stack = vec![start];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            // Nothing there, or a path through an object's file: nothing below.
            Err(e) if absent(&e) => continue,
            Err(e) => return Err(listing(&e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| listing(&e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| listing(&e))?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let Ok(relative) = path.strip_prefix(&bucket_dir) else {
                    continue;
                };
                let components: Vec<_> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect();
                let components: Vec<&str> = components.iter().map(|c| c.as_ref()).collect();
                if let Some(name) = name_of(&components)
                    && name.starts_with(prefix)
                {
                    names.push((name, path));
                }
            }
        }
    }
    names.sort();
    Ok(names)
}

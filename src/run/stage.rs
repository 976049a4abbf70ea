//! Staging: input lines written as shards of files in the staging prefix, uploaded while they
//! are written.
//!
//! A shard is one job's input: at most the request limit of rows, in files of at most the byte
//! limit (a job may read several files). Each file is one resumable upload fed through a small
//! channel, so memory holds about two upload chunks and a megabyte of lines, whatever the input:
//! one chunk on the wire while the next one fills. A file that is full ends its upload in the
//! background while the next file fills (one such file at a time per writer), so staging does
//! not stop at every file while the service takes its last chunk: that made staging 1.5 times
//! the raw upload of the same bytes, against 1.2 times now (issue 20, `benches/run.rs`). Memory
//! then holds one chunk more.
//!
//! A round has one writer per group of rows (`isolate.rs`): importable rows, and the rows
//! staged apart so that the import refusing them fails their jobs only. Each group's shards
//! hold its rows in order; the round's shards are the importable ones, then the others.

use bytes::Bytes;
use tokio::sync::mpsc;

use super::isolate::RowGroup;
use super::layout::Layout;
use super::manifest::{Shard, ShardFile};
use super::task::AbortOnDrop;
use crate::error::{Error, Result};
use crate::storage::{ObjectInfo, ObjectUri, Storage};

/// Lines go to the upload in pieces of about this size.
const SEND_SIZE: usize = 1 << 20;

/// Pieces waiting for the upload: one upload chunk and one piece, so that the next chunk fills
/// while the last one is on the wire (staging and sending overlap), whatever the chunk size.
fn queue_for(storage: &Storage) -> usize {
    storage.upload_chunk_size().div_ceil(SEND_SIZE) + 1
}

/// Writes the shards of one round, a writer per group.
#[derive(Debug)]
pub(crate) struct RoundWriter {
    writers: Vec<ShardWriter>,
}

impl RoundWriter {
    /// Writers of shards into `folder` (a round's input folder of the layout).
    pub(crate) fn new(
        storage: &Storage,
        folder: &ObjectUri,
        max_rows: u64,
        max_bytes: u64,
    ) -> Self {
        RoundWriter {
            writers: RowGroup::ALL
                .iter()
                .map(|group| ShardWriter::new(storage, folder, *group, max_rows, max_bytes))
                .collect(),
        }
    }

    /// Adds the staged line (newline included) of row `row` to its group's shards. `what`
    /// names the request for an error (`input line 7`).
    pub(crate) async fn push(
        &mut self,
        group: RowGroup,
        row: u64,
        line: &[u8],
        what: impl FnOnce() -> String,
    ) -> Result<()> {
        self.writers[group.index()].push(row, line, what).await
    }

    /// Bytes handed to the uploads so far, for progress.
    pub(crate) fn bytes(&self) -> u64 {
        self.writers.iter().map(|writer| writer.bytes).sum()
    }

    /// Ends the last files; gives the shards (importable first), each job's request id made by
    /// `request_id` from its index in the round, and the bytes uploaded.
    pub(crate) async fn finish(
        self,
        request_id: impl Fn(usize) -> String,
    ) -> Result<(Vec<Shard>, u64)> {
        let mut shards = Vec::new();
        let mut bytes = 0;
        for writer in self.writers {
            let (group_shards, group_bytes) = writer.finish().await?;
            shards.extend(group_shards);
            bytes += group_bytes;
        }
        for (i, shard) in shards.iter_mut().enumerate() {
            shard.request_id = request_id(i);
        }
        Ok((shards, bytes))
    }
}

/// Writes the shards of one group of a round.
#[derive(Debug)]
struct ShardWriter {
    storage: Storage,
    /// `<staging>/r<round>/input/`.
    folder: ObjectUri,
    group: RowGroup,
    max_rows: u64,
    max_bytes: u64,
    shards: Vec<Shard>,
    file: Option<OpenFile>,
    /// The last file closed, its upload ending in the background.
    closing: Option<FileUpload>,
    pending: Vec<u8>,
    /// Bytes handed to the uploads so far, for progress.
    pub(crate) bytes: u64,
}

/// The file being filled: its data goes through `sender` to its upload.
#[derive(Debug)]
struct OpenFile {
    sender: mpsc::Sender<std::io::Result<Bytes>>,
    upload: FileUpload,
}

/// A file's upload and what the file holds.
#[derive(Debug)]
struct FileUpload {
    uri: ObjectUri,
    /// Aborted when dropped: a run that stops leaves no upload going on.
    task: AbortOnDrop<Result<ObjectInfo>>,
    rows: u64,
    bytes: u64,
    first_row: u64,
    /// The shard it belongs to (an index into the writer's shards).
    shard: usize,
}

impl ShardWriter {
    /// A writer of `group`'s shards into `folder`.
    fn new(
        storage: &Storage,
        folder: &ObjectUri,
        group: RowGroup,
        max_rows: u64,
        max_bytes: u64,
    ) -> Self {
        ShardWriter {
            storage: storage.clone(),
            folder: folder.clone(),
            group,
            max_rows,
            max_bytes,
            shards: Vec::new(),
            file: None,
            closing: None,
            pending: Vec::with_capacity(SEND_SIZE + SEND_SIZE / 4),
            bytes: 0,
        }
    }

    /// Adds the staged line (newline included) of row `row`. `what` names the request for an
    /// error (`input line 7`).
    async fn push(&mut self, row: u64, line: &[u8], what: impl FnOnce() -> String) -> Result<()> {
        let len = line.len() as u64;
        if len > self.max_bytes {
            return Err(Error::invalid(
                what(),
                format!(
                    "the request is {len} bytes as staged; an input file holds at most {} bytes",
                    self.max_bytes
                ),
            ));
        }
        let shard_full = self
            .shards
            .last()
            .is_none_or(|shard| shard.rows >= self.max_rows);
        let file_full = self
            .file
            .as_ref()
            .is_none_or(|file| file.upload.bytes + len > self.max_bytes);
        if shard_full || file_full {
            self.close_file().await?;
        }
        if shard_full {
            self.shards.push(Shard {
                files: Vec::new(),
                rows: 0,
                first_row: row,
                last_row: row,
                request_id: String::new(),
                job: None,
                group: self.group,
            });
        }
        if self.file.is_none() {
            self.open_file(row)?;
        }
        let (Some(shard), Some(file)) = (self.shards.last_mut(), self.file.as_mut()) else {
            unreachable!("a shard and a file were just opened");
        };
        shard.rows += 1;
        shard.last_row = row;
        file.upload.rows += 1;
        file.upload.bytes += len;
        self.pending.extend_from_slice(line);
        if self.pending.len() >= SEND_SIZE {
            self.send().await?;
        }
        Ok(())
    }

    /// Ends the last file; gives the shards and the bytes uploaded.
    async fn finish(mut self) -> Result<(Vec<Shard>, u64)> {
        self.close_file().await?;
        self.end_closing().await?;
        Ok((std::mem::take(&mut self.shards), self.bytes))
    }

    fn open_file(&mut self, row: u64) -> Result<()> {
        let shard = self.shards.len() - 1;
        // The file closed before it, still ending, is not in its shard's files yet.
        let index = self.shards[shard].files.len()
            + usize::from(
                self.closing
                    .as_ref()
                    .is_some_and(|file| file.shard == shard),
            );
        let uri = self
            .folder
            .join(&Layout::input_file(self.group, shard, index))?;
        let (sender, receiver) = mpsc::channel(queue_for(&self.storage));
        let storage = self.storage.clone();
        let target = uri.clone();
        let task = AbortOnDrop(tokio::spawn(async move {
            let data = futures_util::stream::unfold(receiver, |mut receiver| async move {
                receiver.recv().await.map(|piece| (piece, receiver))
            });
            storage.upload_stream(&target, data).await
        }));
        self.file = Some(OpenFile {
            sender,
            upload: FileUpload {
                uri,
                task,
                rows: 0,
                bytes: 0,
                first_row: row,
                shard,
            },
        });
        Ok(())
    }

    async fn send(&mut self) -> Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        if self.pending.is_empty() {
            return Ok(());
        }
        let piece = Bytes::copy_from_slice(&self.pending);
        self.bytes += piece.len() as u64;
        self.pending.clear();
        if file.sender.send(Ok(piece)).await.is_err() {
            // The upload stopped: its error says why.
            let Some(OpenFile { sender, mut upload }) = self.file.take() else {
                return Ok(());
            };
            drop(sender);
            return Err(join(upload.task.join().await).err().unwrap_or_else(|| {
                Error::invalid(
                    "staging",
                    format!("the upload of {} ended early", upload.uri),
                )
            }));
        }
        Ok(())
    }

    /// Sends the last lines of the open file and leaves its upload ending in the background,
    /// once the file closed before it has ended.
    async fn close_file(&mut self) -> Result<()> {
        self.send().await?;
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        // The upload sees the end of its data, and sends its last chunk.
        drop(file.sender);
        self.end_closing().await?;
        self.closing = Some(file.upload);
        Ok(())
    }

    /// Waits for the upload of the file closed last, and records it in its shard.
    async fn end_closing(&mut self) -> Result<()> {
        let Some(mut file) = self.closing.take() else {
            return Ok(());
        };
        let info = join(file.task.join().await)?;
        tracing::info!(
            target: "vertex_batch::run::step",
            file = %file.uri, rows = file.rows, bytes = info.size, "input file staged"
        );
        self.shards[file.shard].files.push(ShardFile {
            uri: file.uri.to_string(),
            rows: file.rows,
            bytes: file.bytes,
            first_row: file.first_row,
        });
        Ok(())
    }
}

fn join(
    result: std::result::Result<Result<ObjectInfo>, tokio::task::JoinError>,
) -> Result<ObjectInfo> {
    result.map_err(|err| Error::Io {
        path: None,
        error: std::io::Error::other(format!("an upload task stopped: {err}")),
    })?
}

//! Reading a predictions file takes memory that does not grow with the file.
//!
//! A counting global allocator records the peak of live heap bytes while 1,000 and then
//! 100,000 lines are read; the peaks must match within a small slack. This counts bytes, not
//! time. The test runs alone in a process of its own (`support::isolation`), so nothing else
//! allocates meanwhile; the allocator is the whole test binary's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use vertex_batch::batch_file::PredictionReader;

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

impl Counting {
    fn added(size: usize) {
        let live = LIVE.fetch_add(size, Ordering::SeqCst) + size;
        PEAK.fetch_max(live, Ordering::SeqCst);
    }

    fn removed(size: usize) {
        LIVE.fetch_sub(size, Ordering::SeqCst);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            Counting::added(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            Counting::added(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) };
        Counting::removed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            Counting::added(new_size);
            Counting::removed(layout.size());
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Writes `lines` prediction lines, every 100th a failed row, all of the same shape.
fn write_predictions(path: &Path, lines: usize) {
    let mut out = BufWriter::new(fs::File::create(path).unwrap());
    for i in 0..lines {
        if i % 100 == 99 {
            writeln!(
                out,
                r#"{{"request": {{"contents": [{{"role": "user", "parts": [{{"text": "prompt {i:06}"}}]}}]}}, "status": "Bad Request: row {i:06} is not valid", "processed_time": "2024-11-01T18:13:16.826+00:00"}}"#
            )
            .unwrap();
        } else {
            writeln!(
                out,
                r#"{{"request": {{"contents": [{{"role": "user", "parts": [{{"text": "prompt {i:06}"}}]}}]}}, "response": {{"candidates": [{{"content": {{"role": "model", "parts": [{{"text": "answer {i:06}"}}]}}, "finishReason": "STOP", "avgLogprobs": -0.1}}], "usageMetadata": {{"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}}, "modelVersion": "gemini-2.0-flash-001"}}, "status": "", "processed_time": "2024-11-01T18:13:16.826+00:00"}}"#
            )
            .unwrap();
        }
    }
    out.flush().unwrap();
}

/// Reads the whole file, looking at every row, and returns (rows, failed rows, answer bytes,
/// peak live heap bytes above what was live before).
fn read_measured(path: &Path) -> (usize, usize, usize, usize) {
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let (mut rows, mut failed, mut answer_bytes) = (0, 0, 0);
    for row in PredictionReader::open(path).unwrap() {
        let row = row.unwrap();
        rows += 1;
        match row.text() {
            Some(text) => answer_bytes += text.len(),
            None => failed += usize::from(!row.is_ok()),
        }
    }
    let peak = PEAK.load(Ordering::SeqCst) - before;
    (rows, failed, answer_bytes, peak)
}

struct TempFiles(Vec<PathBuf>);

impl Drop for TempFiles {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = fs::remove_file(path);
        }
    }
}

#[test]
fn reading_100_000_lines_peaks_no_higher_than_reading_1_000() {
    if crate::support::isolation::rerun_alone(
        module_path!(),
        "reading_100_000_lines_peaks_no_higher_than_reading_1_000",
    ) {
        return;
    }
    let dir = std::env::temp_dir();
    let small = dir.join(format!(
        "vertex-batch-memory-1k-{}.jsonl",
        std::process::id()
    ));
    let large = dir.join(format!(
        "vertex-batch-memory-100k-{}.jsonl",
        std::process::id()
    ));
    let _cleanup = TempFiles(vec![small.clone(), large.clone()]);
    write_predictions(&small, 1_000);
    write_predictions(&large, 100_000);

    let (rows, failed, answer_bytes, small_peak) = read_measured(&small);
    assert_eq!((rows, failed, answer_bytes), (1_000, 10, 990 * 13));
    let (rows, failed, answer_bytes, large_peak) = read_measured(&large);
    assert_eq!((rows, failed, answer_bytes), (100_000, 1_000, 99_000 * 13));

    // The reader holds one line and one prediction at a time: a few kilobytes.
    assert!(small_peak > 0, "the counting allocator saw nothing");
    assert!(
        large_peak < small_peak + 64 * 1024,
        "peak live heap grew with the file: {small_peak} bytes for 1,000 lines, {large_peak} for 100,000"
    );

    // The counter does see memory that grows with the file: holding the file as one string.
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let whole = fs::read_to_string(&large).unwrap();
    let whole_peak = PEAK.load(Ordering::SeqCst) - before;
    assert!(whole_peak >= whole.len());
    assert!(whole_peak > 100 * large_peak);
    println!(
        "peak live heap: {small_peak} B reading 1,000 lines, {large_peak} B reading 100,000 lines, \
         {whole_peak} B holding the 100,000-line file ({} B) in memory",
        whole.len()
    );
}

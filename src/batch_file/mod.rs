//! Batch input and output files, typed: write request lines, read predictions.jsonl.
//!
//! A Gemini batch job reads JSONL lines `{"request": {...}}` and writes `predictions.jsonl`,
//! one line per request with the echoed `request`, the `response`, a `status` (empty on success)
//! and `processed_time`. [`BatchFileWriter`] writes the first from typed [`BatchRequest`]s,
//! checked before anything is written; [`PredictionReader`] streams the second as typed
//! [`Prediction`]s in constant memory, reporting a damaged line with its line number (and a
//! line longer than [`MAX_LINE_BYTES`] with the limit, rather than reading it into memory).
//!
//! Nothing here touches the network: upload the input file with your usual tools (or use the
//! emulator's local folder), and download the output directory before reading it.
//!
//! ```
//! use vertex_batch::GenerationConfig;
//! use vertex_batch::batch_file::{BatchFileWriter, BatchRequest, Part, Content, PredictionReader, Summary};
//!
//! // The input file.
//! let mut writer = BatchFileWriter::new(Vec::new());
//! writer.write(
//!     &BatchRequest::new()
//!         .with_user_text("What is 2 + 2?")
//!         .with_generation_config(GenerationConfig::new().with_temperature(0.0)),
//! )?;
//! writer.write(&BatchRequest::new().with_content(Content::user([
//!     Part::text("What is in this picture?"),
//!     Part::file_data("gs://my-bucket/cat.jpg", "image/jpeg"),
//! ])))?;
//! let input = writer.finish()?;
//! assert_eq!(input.iter().filter(|b| **b == b'\n').count(), 2);
//!
//! // What the job wrote back (downloaded from output_info.gcs_output_directory).
//! let output = concat!(
//!     r#"{"request": {"contents": [{"role": "user", "parts": [{"text": "What is 2 + 2?"}]}]}, "#,
//!     r#""response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "4"}]}, "finishReason": "STOP"}]}, "#,
//!     r#""status": "", "processed_time": "2024-11-01T18:13:16.826+00:00"}"#, "\n",
//!     r#"{"request": {"contents": []}, "status": "Bad Request: the image could not be read"}"#, "\n",
//! );
//! for row in PredictionReader::new(output.as_bytes()) {
//!     let row = row?;
//!     match row.error() {
//!         None => assert_eq!(row.text().as_deref(), Some("4")),
//!         Some(status) => assert!(status.starts_with("Bad Request")),
//!     }
//! }
//! let summary = Summary::from_reader(PredictionReader::new(output.as_bytes()))?;
//! assert_eq!((summary.succeeded, summary.failed), (1, 1));
//! # Ok::<(), vertex_batch::Error>(())
//! ```

mod content;
mod prediction;
mod reader;
mod request;
mod summary;
mod writer;

pub use content::{Content, FileData, InlineData, Part};
pub use prediction::{
    Candidate, GenerateContentResponse, Prediction, PromptFeedback, UsageMetadata,
};
#[cfg(any(feature = "emulator", feature = "storage"))]
pub(crate) use reader::{Line, read_line};
pub use reader::{MAX_LINE_BYTES, PredictionReader};
pub use request::BatchRequest;
pub use summary::{FailedRow, Summary};
pub use writer::BatchFileWriter;

/// Whether an object or file name ends in a `predictions*.jsonl` file name, as a Gemini job
/// writes them in its `prediction-model-<timestamp>` folder (`predictions.jsonl`; older jobs and
/// other models split it as `predictions_00001.jsonl`, ...). The one rule the reader, the run's
/// collector and the `results` command use to pick a job's output files.
///
/// ```
/// use vertex_batch::batch_file::is_predictions_file;
///
/// assert!(is_predictions_file("out/prediction-model-2025-12-26T20:29:02.829566Z/predictions.jsonl"));
/// assert!(is_predictions_file("predictions_00002.jsonl"));
/// assert!(!is_predictions_file("out/predictions/errors.jsonl"));
/// assert!(!is_predictions_file("out/predictions.jsonl.tmp"));
/// ```
pub fn is_predictions_file(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or_default();
    file.starts_with("predictions") && file.ends_with(".jsonl")
}

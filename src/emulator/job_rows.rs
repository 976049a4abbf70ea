//! One row of a job as the job leaves it, whatever holds the rows (a `gs://` file's line, a
//! BigQuery table's row): the emulated model's answer or the refusal of a bad request
//! ([`super::answer`]), then the row faults ([`super::row_faults`]: a transient 429 or a
//! permanent 400 in place of the answer, with the service's status text), then the
//! response's `createTime` and a `responseId` unique to the job and row.

use super::answer;
use super::row_faults::{RowFate, RowFaults};
use super::truth::Truth;
use crate::batch_file::Prediction;

/// The status of a row failed with a transient 429, as the service writes it.
const TRANSIENT_STATUS: &str = r#"Too Many Requests: {"error": {"code": 429, "message": "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.", "status": "RESOURCE_EXHAUSTED"}}"#;

/// The status of a row failed with a permanent 400, as the service writes it.
const PERMANENT_STATUS: &str = r#"Bad Request: {"error": {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"}}"#;

/// What every row of one job shares.
pub(crate) struct JobRows<'a> {
    /// The model's version id, in every response.
    pub(crate) model_version: &'a str,
    /// Every row's `processed_time` (RFC 3339).
    pub(crate) processed_time: &'a str,
    /// Every response's `createTime`.
    pub(crate) create_time: &'a str,
    pub(crate) truth: Truth,
    pub(crate) faults: &'a RowFaults,
    /// The job's creation order, which the fault draws and response ids depend on.
    pub(crate) seq: u64,
}

impl JobRows<'_> {
    /// The row for input `line` (`{"request": {...}, ...}`, without its newline), the
    /// `index`-th of the job (from 0).
    pub(crate) fn row(&self, line: &[u8], index: u64) -> Prediction {
        let mut row = answer::row(line, self.model_version, self.processed_time);
        if !self.truth.echo_labels
            && let Some(request) = row.request.as_object_mut()
        {
            request.remove("labels");
        }
        if row.is_ok() {
            match self.faults.fate(self.seq, index) {
                RowFate::Answered => {}
                RowFate::Transient => {
                    row.response = None;
                    row.status = TRANSIENT_STATUS.to_owned();
                }
                RowFate::Permanent => {
                    row.response = None;
                    row.status = PERMANENT_STATUS.to_owned();
                }
            }
        }
        if let Some(response) = &mut row.response {
            response.create_time = Some(self.create_time.to_owned());
            response.response_id = Some(response_id(self.seq, index));
        }
        row
    }

    /// As [`row`](Self::row), for a request given as a value (a table's `request` cell).
    #[cfg(feature = "bigquery")]
    pub(crate) fn row_of_request(&self, request: &serde_json::Value, index: u64) -> Prediction {
        let line = serde_json::json!({ "request": request }).to_string();
        self.row(line.as_bytes(), index)
    }
}

/// A response id that differs for every row of every job, like the service's.
fn response_id(seq: u64, row: u64) -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&seq.to_be_bytes());
    bytes[8..].copy_from_slice(&row.to_be_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

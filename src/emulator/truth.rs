//! The two behaviours of the emulator's output whose public evidence is thin, each of which a
//! test can turn off to see that a client holds either way.
//!
//! - `request.labels` echoed with the request: shown only by client code that reads it back
//!   (BerriAI/litellm pull request #25627, `_get_litellm_batch_custom_id_from_labels`; bifrost),
//!   never by a captured output line. Off: the echoed request has no `labels`.
//! - A field whose JSON type differs between rows failing the whole job's import: the importer
//!   infers one type per key across the file (OpenRouterTeam/docs
//!   `docs/batch-research/google-vertex.md`, "one inferred type per key across the file";
//!   python-aiplatform #4110), but only the array-versus-scalar case was captured. Off: rows
//!   may disagree on a field's type.

/// What the emulator does where the evidence is thin; both on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Truth {
    /// `request.labels` comes back in the echoed request.
    pub(crate) echo_labels: bool,
    /// A field whose type differs between rows fails the job's import.
    pub(crate) refuse_type_conflicts: bool,
}

impl Default for Truth {
    fn default() -> Self {
        Truth {
            echo_labels: true,
            refuse_type_conflicts: true,
        }
    }
}

//! How the emulator ends the jobs it runs.

/// How a job ends once its running time is over. Set for new jobs with
/// [`Emulator::set_outcome`](super::Emulator::set_outcome), or per job with the
/// label `emulator-outcome` = `succeeded`, `failed`, `partially-succeeded` or `expired`.
///
/// ```
/// use vertex_batch::emulator::Outcome;
///
/// let outcome = Outcome::Failed { message: "quota exhausted".into() };
/// assert_ne!(outcome, Outcome::Succeeded);
/// assert_eq!(Outcome::from_label("expired"), Some(Outcome::Expired));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Outcome {
    /// `JOB_STATE_SUCCEEDED`: every row succeeded.
    #[default]
    Succeeded,
    /// `JOB_STATE_FAILED`, with `error.message` = `message` (code INTERNAL).
    Failed {
        /// The job's `error.message`.
        message: String,
    },
    /// `JOB_STATE_PARTIALLY_SUCCEEDED`: one row in ten failed.
    PartiallySucceeded,
    /// `JOB_STATE_EXPIRED`: the job ran out of time before it processed its rows.
    Expired,
}

impl Outcome {
    /// The label value that selects this outcome for one job, the inverse of
    /// [`Outcome::from_label`]. A failed job's message is then the emulator's default.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed { .. } => "failed",
            Outcome::PartiallySucceeded => "partially-succeeded",
            Outcome::Expired => "expired",
        }
    }

    /// Parses a value of the `emulator-outcome` label.
    pub fn from_label(value: &str) -> Option<Self> {
        match value {
            "succeeded" => Some(Outcome::Succeeded),
            "failed" => Some(Outcome::Failed {
                message: DEFAULT_FAILURE.to_string(),
            }),
            "partially-succeeded" => Some(Outcome::PartiallySucceeded),
            "expired" => Some(Outcome::Expired),
            _ => None,
        }
    }
}

/// The job label that picks the outcome of one job.
pub const OUTCOME_LABEL: &str = "emulator-outcome";

const DEFAULT_FAILURE: &str =
    "the emulator was told to fail this job (label emulator-outcome=failed)";

//! A job's state: which states are ends, short names, and the one parser of state names that the
//! command-line tool, the examples and users share.

use std::str::FromStr;

use crate::error::Error;
use crate::v1::JobState;

/// Every state, in the proto's order: the parser's error lists them from here.
const ALL: [JobState; 12] = [
    JobState::Unspecified,
    JobState::Queued,
    JobState::Pending,
    JobState::Running,
    JobState::Succeeded,
    JobState::Failed,
    JobState::Cancelling,
    JobState::Cancelled,
    JobState::Paused,
    JobState::Expired,
    JobState::Updating,
    JobState::PartiallySucceeded,
];

/// Helpers on the generated `JobState`, inherent so that no trait has to be imported.
///
/// A job has ended in SUCCEEDED, FAILED, CANCELLED, EXPIRED and PARTIALLY_SUCCEEDED (the
/// official SDKs each forget one of the last two). PAUSED has not ended: a paused job keeps its
/// progress and goes back to QUEUED when resumed, so a wait goes on through it. CANCELLING and
/// UPDATING are on their way to another state.
///
/// ```
/// use vertex_batch::v1::JobState;
///
/// assert!(JobState::Expired.has_ended());
/// assert!(JobState::PartiallySucceeded.has_ended());
/// assert!(!JobState::PartiallySucceeded.has_succeeded());
/// assert!(!JobState::Paused.has_ended());
/// assert_eq!(JobState::Succeeded.short_name(), "SUCCEEDED");
/// ```
impl JobState {
    /// The job will not change state any more (SUCCEEDED, FAILED, CANCELLED, EXPIRED,
    /// PARTIALLY_SUCCEEDED).
    ///
    /// ```
    /// # use vertex_batch::v1::JobState;
    /// assert!(JobState::Cancelled.has_ended());
    /// assert!(!JobState::Cancelling.has_ended());
    /// ```
    pub fn has_ended(self) -> bool {
        matches!(
            self,
            JobState::Succeeded
                | JobState::Failed
                | JobState::Cancelled
                | JobState::Expired
                | JobState::PartiallySucceeded
        )
    }

    /// The job ended in SUCCEEDED.
    ///
    /// ```
    /// # use vertex_batch::v1::JobState;
    /// assert!(JobState::Succeeded.has_succeeded());
    /// assert!(!JobState::PartiallySucceeded.has_succeeded());
    /// ```
    pub fn has_succeeded(self) -> bool {
        self == JobState::Succeeded
    }

    /// The state's name without the `JOB_STATE_` prefix, e.g. `RUNNING`.
    ///
    /// ```
    /// # use vertex_batch::v1::JobState;
    /// assert_eq!(JobState::PartiallySucceeded.short_name(), "PARTIALLY_SUCCEEDED");
    /// ```
    pub fn short_name(self) -> &'static str {
        self.as_str_name().trim_start_matches("JOB_STATE_")
    }
}

/// Parses a state as people write it: `running`, `RUNNING`, `JOB_STATE_RUNNING`,
/// `partially-succeeded` or `partially_succeeded`. Case does not matter; `-` stands for `_`.
///
/// # Errors
/// [`Error::InvalidInput`] for the field `state`, listing the valid names.
///
/// ```
/// use vertex_batch::v1::JobState;
///
/// assert_eq!("running".parse::<JobState>()?, JobState::Running);
/// assert_eq!("JOB_STATE_RUNNING".parse::<JobState>()?, JobState::Running);
/// assert_eq!("partially-succeeded".parse::<JobState>()?, JobState::PartiallySucceeded);
/// let err = "sleeping".parse::<JobState>().unwrap_err();
/// assert!(err.to_string().contains("running, succeeded, failed"), "{err}");
/// # Ok::<(), vertex_batch::Error>(())
/// ```
impl FromStr for JobState {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let upper = text.trim().to_ascii_uppercase().replace('-', "_");
        let short = upper.strip_prefix("JOB_STATE_").unwrap_or(&upper);
        JobState::from_str_name(&format!("JOB_STATE_{short}")).ok_or_else(|| {
            let names: Vec<String> = ALL
                .iter()
                .map(|state| state.short_name().to_ascii_lowercase().replace('_', "-"))
                .collect();
            Error::invalid(
                "state",
                format!(
                    "`{text}` is not a job state; one of {} (any case, `_` for `-`, with or \
                     without `JOB_STATE_`)",
                    names.join(", ")
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_states_are_exactly_the_five() {
        let ended: Vec<&str> = ALL
            .iter()
            .filter(|s| s.has_ended())
            .map(|s| s.short_name())
            .collect();
        assert_eq!(
            ended,
            [
                "SUCCEEDED",
                "FAILED",
                "CANCELLED",
                "EXPIRED",
                "PARTIALLY_SUCCEEDED"
            ]
        );
        let succeeded: Vec<JobState> = ALL.into_iter().filter(|s| s.has_succeeded()).collect();
        assert_eq!(succeeded, [JobState::Succeeded]);
        assert_eq!(JobState::Paused.short_name(), "PAUSED");
        assert_eq!(JobState::Unspecified.short_name(), "UNSPECIFIED");
    }

    #[test]
    fn every_state_parses_from_each_spelling() {
        for state in ALL {
            let short = state.short_name();
            for written in [
                short.to_owned(),
                short.to_ascii_lowercase(),
                short.to_ascii_lowercase().replace('_', "-"),
                state.as_str_name().to_owned(),
                state.as_str_name().to_ascii_lowercase(),
            ] {
                assert_eq!(written.parse::<JobState>().unwrap(), state, "{written}");
            }
        }
        assert_eq!(
            "partially_succeeded".parse::<JobState>().unwrap(),
            JobState::PartiallySucceeded
        );
        assert_eq!(
            "Partially-Succeeded".parse::<JobState>().unwrap(),
            JobState::PartiallySucceeded
        );
    }

    #[test]
    fn a_bad_state_names_the_field_and_lists_the_valid_names() {
        for bad in [
            "sleeping",
            "",
            "JOB_STATE_",
            "run",
            "running!",
            "JOB STATE RUNNING",
        ] {
            match bad.parse::<JobState>().unwrap_err() {
                Error::InvalidInput { field, reason } => {
                    assert_eq!(field, "state");
                    assert!(
                        reason.contains(&format!("`{bad}` is not a job state")),
                        "{reason}"
                    );
                    assert!(
                        reason.contains(
                            "unspecified, queued, pending, running, succeeded, failed, \
                             cancelling, cancelled, paused, expired, updating, partially-succeeded"
                        ),
                        "{reason}"
                    );
                }
                other => panic!("expected InvalidInput, got {other:?}"),
            }
        }
    }
}

//! [`JobFilter`]: which jobs to list, in the service's filter syntax (AIP-160).

use crate::v1::JobState;

/// Which jobs to list: conditions joined with AND, in the service's filter syntax
/// (`state`, `display_name`, `labels.KEY`), or a filter string of your own.
///
/// ```
/// use vertex_batch::JobFilter;
/// use vertex_batch::v1::JobState;
///
/// let filter = JobFilter::new()
///     .with_state(JobState::Running)
///     .with_display_name("nightly")
///     .with_label("team", "ml");
/// assert_eq!(
///     filter.to_string(),
///     r#"state="JOB_STATE_RUNNING" AND display_name="nightly" AND labels.team="ml""#
/// );
/// assert_eq!(JobFilter::raw("state!=JOB_STATE_FAILED").to_string(), "state!=JOB_STATE_FAILED");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobFilter {
    conditions: Vec<String>,
}

impl JobFilter {
    /// No condition: every job.
    pub fn new() -> Self {
        JobFilter::default()
    }

    /// A filter string passed as it is, e.g. `state="JOB_STATE_SUCCEEDED" OR state="JOB_STATE_FAILED"`.
    pub fn raw(filter: impl Into<String>) -> Self {
        JobFilter {
            conditions: vec![filter.into()],
        }
    }

    /// Jobs in this state.
    pub fn with_state(mut self, state: JobState) -> Self {
        self.conditions
            .push(format!("state=\"{}\"", state.as_str_name()));
        self
    }

    /// Jobs with this display name.
    pub fn with_display_name(mut self, name: &str) -> Self {
        self.conditions
            .push(format!("display_name={}", quoted(name)));
        self
    }

    /// Jobs with this label.
    pub fn with_label(mut self, key: &str, value: &str) -> Self {
        self.conditions
            .push(format!("labels.{key}={}", quoted(value)));
        self
    }

    /// Whether the filter has no condition.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }
}

impl std::fmt::Display for JobFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = if self.conditions.len() > 1 {
            // A raw condition with OR must not change meaning once joined.
            self.conditions
                .iter()
                .map(|c| {
                    if c.contains(" OR ") {
                        format!("({c})")
                    } else {
                        c.clone()
                    }
                })
                .collect()
        } else {
            self.conditions.clone()
        };
        f.write_str(&parts.join(" AND "))
    }
}

/// A string literal of the filter syntax.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

//! How far a job is: its `completion_stats`, read plainly.

use std::fmt;

use crate::v1::BatchPredictionJob;

/// How many of a job's instances are done: [`BatchPredictionJob::progress`].
///
/// ```
/// use vertex_batch::v1;
///
/// let job = v1::BatchPredictionJob {
///     completion_stats: Some(v1::CompletionStats { successful_count: 7, failed_count: 1, incomplete_count: 2, ..Default::default() }),
///     ..Default::default()
/// };
/// assert_eq!(job.progress().to_string(), "7 succeeded, 1 failed, 2 incomplete");
/// // Before the service reports any counts, how many are left is unknown.
/// assert_eq!(v1::BatchPredictionJob::default().progress().incomplete, None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Progress {
    /// Instances predicted successfully.
    pub successful: u64,
    /// Instances that failed.
    pub failed: u64,
    /// Instances not yet processed; `None` when the service does not know (it reports -1).
    pub incomplete: Option<u64>,
}

impl Progress {
    /// Instances processed so far, successfully or not.
    ///
    /// ```
    /// # use vertex_batch::v1;
    /// let job = v1::BatchPredictionJob {
    ///     completion_stats: Some(v1::CompletionStats { successful_count: 7, failed_count: 1, incomplete_count: 2, ..Default::default() }),
    ///     ..Default::default()
    /// };
    /// assert_eq!(job.progress().processed(), 8);
    /// ```
    pub fn processed(&self) -> u64 {
        self.successful.saturating_add(self.failed)
    }

    /// All instances, when the service knows how many are left.
    ///
    /// ```
    /// # use vertex_batch::v1;
    /// let job = v1::BatchPredictionJob {
    ///     completion_stats: Some(v1::CompletionStats { successful_count: 7, failed_count: 1, incomplete_count: 2, ..Default::default() }),
    ///     ..Default::default()
    /// };
    /// assert_eq!(job.progress().total(), Some(10));
    /// ```
    pub fn total(&self) -> Option<u64> {
        self.incomplete.map(|n| n.saturating_add(self.processed()))
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} succeeded, {} failed, ", self.successful, self.failed)?;
        match self.incomplete {
            Some(n) => write!(f, "{n} incomplete"),
            None => f.write_str("unknown incomplete"),
        }
    }
}

impl BatchPredictionJob {
    /// Counts of instances done, failed and left, from `completion_stats` (all zero, and
    /// `incomplete` unknown, before the service reports any).
    ///
    /// ```
    /// # use vertex_batch::v1;
    /// let job = v1::BatchPredictionJob {
    ///     completion_stats: Some(v1::CompletionStats { successful_count: 3, incomplete_count: -1, ..Default::default() }),
    ///     ..Default::default()
    /// };
    /// assert_eq!(job.progress().to_string(), "3 succeeded, 0 failed, unknown incomplete");
    /// ```
    pub fn progress(&self) -> Progress {
        let Some(stats) = &self.completion_stats else {
            return Progress::default();
        };
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Progress {
            successful: count(stats.successful_count),
            failed: count(stats.failed_count),
            incomplete: u64::try_from(stats.incomplete_count).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::CompletionStats;

    #[test]
    fn progress_reads_completion_stats() {
        assert_eq!(
            BatchPredictionJob::default().progress(),
            Progress::default()
        );
        let job = BatchPredictionJob {
            completion_stats: Some(CompletionStats {
                successful_count: 90,
                failed_count: 3,
                incomplete_count: -1,
                successful_forecast_point_count: 0,
            }),
            ..Default::default()
        };
        let progress = job.progress();
        assert_eq!(
            (progress.successful, progress.failed, progress.incomplete),
            (90, 3, None)
        );
        assert_eq!(progress.total(), None);
        assert_eq!(
            progress.to_string(),
            "90 succeeded, 3 failed, unknown incomplete"
        );
    }
}

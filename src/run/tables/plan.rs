//! Shards under the per-job limit, from bucket sizes alone.
//!
//! Every row of a run has a bucket, a hash of its key modulo [`buckets`]; BigQuery counts the
//! rows of each bucket, and shards are consecutive ranges of buckets holding at most the
//! job limit. Buckets hold about a sixteenth of a job each, so the shards come out within a
//! few percent of full, and no row passes through the client to make them.

use crate::error::{Error, Result};

/// Buckets per job's worth of rows.
const BUCKETS_PER_JOB: u64 = 16;

/// The most buckets a run uses (a million: one bucket-size row each is all the client reads).
const MAX_BUCKETS: u64 = 1 << 20;

/// The buckets of a run of `rows` rows at most `per_job` a job: the same in every round and
/// every process of the run (both numbers are in its manifest).
pub(crate) fn buckets(rows: u64, per_job: u64) -> u64 {
    let per_job = per_job.max(1);
    rows.saturating_mul(BUCKETS_PER_JOB)
        .div_ceil(per_job)
        .clamp(1, MAX_BUCKETS)
}

/// One shard: buckets `first..=last`, `rows` rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) first: u64,
    pub(crate) last: u64,
    pub(crate) rows: u64,
}

/// Consecutive ranges of the buckets `sizes` (`(bucket, rows)`, in bucket order, empty
/// buckets left out) of at most `per_job` rows each.
///
/// # Errors
/// A bucket larger than a job (keys whose hashes collide that much cannot be split).
pub(crate) fn shards(sizes: &[(u64, u64)], per_job: u64) -> Result<Vec<Range>> {
    let mut shards: Vec<Range> = Vec::new();
    let mut current: Option<Range> = None;
    for &(bucket, rows) in sizes {
        if rows > per_job {
            return Err(Error::invalid(
                "max_requests_per_job",
                format!(
                    "{per_job}: bucket {bucket} of the run's rows holds {rows} rows, more than \
                     a job takes; raise the limit"
                ),
            ));
        }
        current = Some(match current {
            Some(range) if range.rows + rows <= per_job => Range {
                last: bucket,
                rows: range.rows + rows,
                ..range
            },
            Some(range) => {
                shards.push(range);
                Range {
                    first: bucket,
                    last: bucket,
                    rows,
                }
            }
            None => Range {
                first: bucket,
                last: bucket,
                rows,
            },
        });
    }
    shards.extend(current);
    Ok(shards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_grow_with_the_rows_and_stay_bounded() {
        assert_eq!(buckets(0, 10), 1);
        assert_eq!(buckets(10_000, 4_000), 40);
        assert_eq!(buckets(u64::MAX, 1), MAX_BUCKETS);
    }

    #[test]
    fn shards_are_consecutive_ranges_under_the_limit() {
        let sizes = [(0, 3), (2, 4), (3, 2), (7, 5), (9, 1)];
        let shards = shards(&sizes, 7).unwrap();
        assert_eq!(
            shards,
            [
                Range {
                    first: 0,
                    last: 2,
                    rows: 7
                },
                Range {
                    first: 3,
                    last: 7,
                    rows: 7
                },
                Range {
                    first: 9,
                    last: 9,
                    rows: 1
                },
            ]
        );
        assert!(super::shards(&[(0, 8)], 7).unwrap_err().is_invalid_input());
        assert!(super::shards(&[], 7).unwrap().is_empty());
    }
}

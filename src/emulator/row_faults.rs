//! Row faults for tests of what a batch run does with failed rows: a share of the rows fail
//! with a transient status (429, to be retried), a share with a permanent one (400), and one job
//! can end EXPIRED part way, having exported only its first rows, and a share of the output
//! lines can carry the wrong row ids (another row's `key` and `request.labels`, or none), as
//! users report batch outputs joined to the wrong prompts (python-genai #1909,
//! python-aiplatform #1166, curator #276). The draws are a function of
//! the seed, the job's creation order and the row's index, so a seeded emulator fails the same
//! rows of the same jobs every run.

use std::sync::{Arc, Mutex};

use super::clock::lock;

/// The fault settings, shared by the builder, the handle and every job.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowFaults {
    inner: Arc<Mutex<Settings>>,
}

#[derive(Debug, Clone, Default)]
struct Settings {
    transient_rate: f64,
    permanent_rate: f64,
    seed: u64,
    /// Share of output lines whose row ids are swapped or dropped.
    id_fault_rate: f64,
    /// Taken by the next job created that reads Cloud Storage input.
    expire_next_after: Option<u64>,
}

/// What happens to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowFate {
    /// The model answers.
    Answered,
    /// 429 RESOURCE_EXHAUSTED: a run retries it.
    Transient,
    /// 400 INVALID_ARGUMENT: a run reports it.
    Permanent,
}

impl RowFaults {
    pub(crate) fn new(transient_rate: f64, permanent_rate: f64, seed: u64) -> Self {
        RowFaults {
            inner: Arc::new(Mutex::new(Settings {
                transient_rate,
                permanent_rate,
                seed,
                id_fault_rate: 0.0,
                expire_next_after: None,
            })),
        }
    }

    /// Checks rates given by a user: each in 0..=1, and together at most 1.
    pub(crate) fn check_rates(transient: f64, permanent: f64) -> Result<(), crate::Error> {
        for (field, rate) in [
            ("row_failure_rate", transient),
            ("row_permanent_failure_rate", permanent),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(crate::Error::invalid(
                    field,
                    format!("{rate}: a rate is a share of the rows, from 0 to 1 (0.05 is 5%)"),
                ));
            }
        }
        if transient + permanent > 1.0 {
            return Err(crate::Error::invalid(
                "row_failure_rate",
                format!(
                    "{transient} transient and {permanent} permanent add up to more than every row"
                ),
            ));
        }
        Ok(())
    }

    /// The share of output lines whose row ids are swapped or dropped.
    pub(crate) fn set_id_fault_rate(&self, rate: f64) {
        lock(&self.inner).id_fault_rate = rate;
    }

    /// What happens to the row ids of row `row` of the job created `job_seq`-th.
    pub(crate) fn id_fate(&self, job_seq: u64, row: u64) -> IdFate {
        let settings = lock(&self.inner).clone();
        if settings.id_fault_rate == 0.0 {
            return IdFate::Kept;
        }
        let draw = mix(settings.seed ^ mix(job_seq ^ 0x1d) ^ mix(row.wrapping_add(0x1d5)));
        if unit(draw) >= settings.id_fault_rate {
            return IdFate::Kept;
        }
        match mix(draw) % 4 {
            0 | 1 => IdFate::Swapped,
            2 => IdFate::KeySwapped,
            _ => IdFate::Dropped,
        }
    }

    pub(crate) fn set_rates(&self, transient: f64, permanent: f64) {
        let mut settings = lock(&self.inner);
        settings.transient_rate = transient;
        settings.permanent_rate = permanent;
    }

    /// The next job created that reads Cloud Storage input exports `rows` rows, then ends
    /// EXPIRED.
    pub(crate) fn expire_next_job_after(&self, rows: Option<u64>) {
        lock(&self.inner).expire_next_after = rows;
    }

    /// For a job being created: the row count after which it expires, if it is the one.
    pub(crate) fn take_expiry(&self) -> Option<u64> {
        lock(&self.inner).expire_next_after.take()
    }

    /// The fate of row `row` (0-based, counting non-blank input lines) of the job created
    /// `job_seq`-th.
    pub(crate) fn fate(&self, job_seq: u64, row: u64) -> RowFate {
        let settings = lock(&self.inner).clone();
        if settings.transient_rate == 0.0 && settings.permanent_rate == 0.0 {
            return RowFate::Answered;
        }
        let draw = unit(mix(settings.seed
            ^ mix(job_seq)
            ^ mix(row.wrapping_add(0x51ed))));
        if draw < settings.transient_rate {
            RowFate::Transient
        } else if draw < settings.transient_rate + settings.permanent_rate {
            RowFate::Permanent
        } else {
            RowFate::Answered
        }
    }
}

/// What happens to the row ids (`key`, `request.labels`) of a row's output line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdFate {
    /// As sent.
    Kept,
    /// Swapped with the next row's line: each names the other's row.
    Swapped,
    /// Only the `key` swapped with the next row's: the key and the label disagree.
    KeySwapped,
    /// Both left out.
    Dropped,
}

/// splitmix64's finaliser: a good 64-bit mix of a counter.
pub(super) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A 64-bit value as a number in 0..1.
pub(super) fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_hold_over_many_rows_and_draws_repeat() {
        let faults = RowFaults::new(0.05, 0.01, 7);
        let fates: Vec<_> = (0..100_000).map(|row| faults.fate(1, row)).collect();
        let transient = fates.iter().filter(|f| **f == RowFate::Transient).count();
        let permanent = fates.iter().filter(|f| **f == RowFate::Permanent).count();
        assert!((4_500..5_500).contains(&transient), "{transient}");
        assert!((800..1_200).contains(&permanent), "{permanent}");
        assert_eq!(
            fates,
            (0..100_000)
                .map(|row| faults.fate(1, row))
                .collect::<Vec<_>>()
        );
        // Another job (a retry) draws again.
        assert_ne!(
            fates[..200],
            (0..200).map(|row| faults.fate(2, row)).collect::<Vec<_>>()[..]
        );
    }

    #[test]
    fn bad_rates_are_refused() {
        assert!(RowFaults::check_rates(0.5, 0.4).is_ok());
        assert!(RowFaults::check_rates(-0.1, 0.0).is_err());
        assert!(RowFaults::check_rates(0.7, 0.4).is_err());
        assert!(RowFaults::check_rates(f64::NAN, 0.0).is_err());
    }
}

//! Storage faults to test clients by: a share of requests (any kind) answered 429 or 503 with
//! Google's JSON error, and a share of downloads that send part of their body and then drop
//! the connection. Draws are a function of the seed ([`with_seed`](crate::emulator::EmulatorBuilder::with_seed))
//! and the request's arrival order; every request and every fault is counted
//! ([`StorageFaultCounts`]). The counters live with the emulator's state, so an emulator
//! restarted with it ([`with_state`](crate::emulator::EmulatorBuilder::with_state)) goes on
//! counting.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::super::clock::lock;
use super::super::row_faults::{mix, unit};

/// What the emulator's storage endpoint received and the faults it injected, from
/// [`Emulator::storage_faults`](crate::emulator::Emulator::storage_faults).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), vertex_batch::Error> {
/// let emu = vertex_batch::emulator::Emulator::builder()
///     .with_storage_failure_rate(0.1)
///     .with_storage_drop_rate(0.05)
///     .with_seed(7)
///     .start()
///     .await?;
/// let counts = emu.storage_faults();
/// assert_eq!(counts.requests, 0);
/// assert_eq!(counts.failed(), 0);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StorageFaultCounts {
    /// Requests received, faulted or not.
    pub requests: u64,
    /// Requests answered 429 (`rateLimitExceeded`) by the failure rate.
    pub throttled: u64,
    /// Requests answered 503 (`backendError`) by the failure rate.
    pub unavailable: u64,
    /// Downloads whose connection was dropped part way through the body.
    pub dropped: u64,
}

impl StorageFaultCounts {
    /// Requests answered 429 or 503 by the failure rate.
    pub fn failed(&self) -> u64 {
        self.throttled + self.unavailable
    }

    /// Every fault injected: failed requests and dropped downloads.
    pub fn total(&self) -> u64 {
        self.failed() + self.dropped
    }
}

/// An injected failure's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    TooManyRequests,
    Unavailable,
}

/// The fault settings and counters of one storage endpoint.
#[derive(Debug)]
pub(crate) struct StorageFaults {
    rates: Mutex<Rates>,
    requests: AtomicU64,
    throttled: AtomicU64,
    unavailable: AtomicU64,
    dropped: AtomicU64,
    /// Downloads drawn so far (their own sequence, so drops do not depend on other requests).
    downloads: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Rates {
    failure: f64,
    drop: f64,
    seed: u64,
}

impl StorageFaults {
    pub(crate) fn new(failure_rate: f64, drop_rate: f64, seed: u64) -> Self {
        StorageFaults {
            rates: Mutex::new(Rates {
                failure: failure_rate,
                drop: drop_rate,
                seed,
            }),
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            unavailable: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            downloads: AtomicU64::new(0),
        }
    }

    /// Checks rates given by a user: each a share from 0 to 1.
    pub(crate) fn check_rates(failure: f64, drop: f64) -> Result<(), crate::Error> {
        for (field, rate, what) in [
            ("storage_failure_rate", failure, "storage requests"),
            ("storage_drop_rate", drop, "downloads"),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(crate::Error::invalid(
                    field,
                    format!("{rate}: a rate is a share of the {what}, from 0 to 1 (0.1 is 10%)"),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn set_rates(&self, failure: f64, drop: f64) {
        let mut rates = lock(&self.rates);
        rates.failure = failure;
        rates.drop = drop;
    }

    /// The rates and seed of an emulator starting (the counts go on).
    pub(crate) fn configure(&self, failure: f64, drop: f64, seed: u64) {
        *lock(&self.rates) = Rates {
            failure,
            drop,
            seed,
        };
    }

    /// Counts a request, and whether to fail it (half 429, half 503).
    pub(crate) fn on_request(&self) -> Option<Failure> {
        let seq = self.requests.fetch_add(1, Ordering::Relaxed);
        let Rates {
            failure: rate,
            seed,
            ..
        } = *lock(&self.rates);
        if rate == 0.0 {
            return None;
        }
        let bits = mix(seed ^ mix(seq.wrapping_add(0x5707_a6e5)));
        if unit(bits) >= rate {
            return None;
        }
        Some(if bits & 1 == 0 {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            Failure::TooManyRequests
        } else {
            self.unavailable.fetch_add(1, Ordering::Relaxed);
            Failure::Unavailable
        })
    }

    /// For a download about to send `len` bytes: how many to send before dropping the
    /// connection, when this one is to be dropped.
    pub(crate) fn on_download(&self, len: u64) -> Option<u64> {
        let seq = self.downloads.fetch_add(1, Ordering::Relaxed);
        let Rates {
            drop: rate, seed, ..
        } = *lock(&self.rates);
        // A body of one byte has no part to send.
        if rate == 0.0 || len < 2 {
            return None;
        }
        let bits = mix(seed ^ mix(seq.wrapping_add(0xd209)));
        if unit(bits) >= rate {
            return None;
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        // Somewhere in the body: at least one byte, never all of them.
        Some(1 + (bits >> 1) % (len - 1))
    }

    pub(crate) fn counts(&self) -> StorageFaultCounts {
        StorageFaultCounts {
            requests: self.requests.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            unavailable: self.unavailable.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_hold_and_draws_repeat_for_a_seed() {
        let draws = |seed| {
            let faults = StorageFaults::new(0.1, 0.5, seed);
            let failures: Vec<_> = (0..10_000).map(|_| faults.on_request()).collect();
            let drops: Vec<_> = (0..10_000).map(|_| faults.on_download(100)).collect();
            (failures, drops, faults.counts())
        };
        let (failures, drops, counts) = draws(3);
        assert_eq!(counts.requests, 10_000);
        assert!((800..1_200).contains(&counts.failed()), "{counts:?}");
        assert!(counts.throttled > 0 && counts.unavailable > 0, "{counts:?}");
        assert!((4_500..5_500).contains(&counts.dropped), "{counts:?}");
        assert!(drops.iter().flatten().all(|&kept| (1..100).contains(&kept)));
        assert_eq!((failures, drops), {
            let (f, d, _) = draws(3);
            (f, d)
        });
        let none = StorageFaults::new(0.0, 0.0, 3);
        assert_eq!(none.on_request(), None);
        assert_eq!(none.on_download(10), None);
        assert_eq!(StorageFaults::new(0.0, 1.0, 3).on_download(1), None);
        assert!(StorageFaults::check_rates(1.5, 0.0).is_err());
        assert!(StorageFaults::check_rates(0.0, -0.1).is_err());
    }
}

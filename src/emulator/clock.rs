//! The emulator's clock: real time, or a manual clock that moves only when a test says so.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Where "now" comes from. Job states are computed from it on every read, so a manual clock
/// needs no background task: advancing it is all it takes for jobs to move on.
#[derive(Debug)]
pub(crate) enum Clock {
    /// The system clock.
    Real,
    /// A fixed instant (the real time when the emulator was made) plus what tests advanced.
    Manual {
        start: SystemTime,
        advanced: Mutex<Duration>,
    },
}

impl Clock {
    pub(crate) fn manual() -> Self {
        Clock::Manual {
            start: SystemTime::now(),
            advanced: Mutex::new(Duration::ZERO),
        }
    }

    pub(crate) fn now(&self) -> SystemTime {
        match self {
            Clock::Real => SystemTime::now(),
            Clock::Manual { start, advanced } => {
                start.checked_add(*lock(advanced)).unwrap_or(*start)
            }
        }
    }

    /// Moves a manual clock forward; returns false for the real clock, which cannot be moved.
    pub(crate) fn advance(&self, by: Duration) -> bool {
        match self {
            Clock::Real => false,
            Clock::Manual { advanced, .. } => {
                // Saturating: a manual clock stops at a few thousand years on, where every
                // phase (at most MAX_PHASE) can still be added to it.
                let mut advanced = lock(advanced);
                *advanced = advanced
                    .saturating_add(by)
                    .min(4 * super::lifecycle::MAX_PHASE);
                true
            }
        }
    }
}

/// Locks a mutex, going on with the data if a panicking thread poisoned it: every value the
/// emulator keeps behind a lock is valid after any single update.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

//! The one rule for a delay that grows, shared by the retry backoff and the polling interval:
//! a multiplier of at least 1, and growth capped at a maximum.

use std::time::Duration;

/// A multiplier as the builders take it: below 1.0, NaN or infinite counts as 1.0 (a delay
/// that never grows), so no setting makes a delay shrink or overflow.
pub(crate) fn multiplier(multiplier: f64) -> f64 {
    if multiplier.is_finite() {
        multiplier.max(1.0)
    } else {
        1.0
    }
}

/// `delay × factor`, at most `max` (also when the product is too large for a `Duration`).
pub(crate) fn grown(delay: Duration, factor: f64, max: Duration) -> Duration {
    Duration::try_from_secs_f64(delay.as_secs_f64() * factor).map_or(max, |grown| grown.min(max))
}

//! Display names: the service's limit, and the default given to a job that has none.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// The service's limit on a display name, in characters.
pub(super) const MAX_DISPLAY_NAME_CHARS: usize = 128;

/// Checks a user's display name: not blank, at most 128 characters.
pub(super) fn validate_display_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid(
            "display_name",
            "is blank; give a name you will recognise in the console and in list filters, \
             or leave it unset for a generated one",
        ));
    }
    let chars = name.chars().count();
    if chars > MAX_DISPLAY_NAME_CHARS {
        return Err(Error::invalid(
            "display_name",
            format!("has {chars} characters; at most {MAX_DISPLAY_NAME_CHARS} are allowed"),
        ));
    }
    Ok(())
}

/// `vertex-batch-<yyyymmdd-hhmmss>-<4 hex>`: sorts by creation time (UTC) in listings, and the
/// random suffix tells apart jobs created in the same second.
pub(super) fn default_display_name() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    format!(
        "vertex-batch-{year:04}{month:02}{day:02}-{:02}{:02}{:02}-{:04x}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        random_u16(now.subsec_nanos())
    )
}

/// 16 random bits without a random-number crate: std's `RandomState` is seeded from the OS
/// per process and its hasher mixes in a per-call counter and the time.
fn random_u16(nanos: u32) -> u16 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(nanos);
    // Truncation intended: any 16 bits of the hash are as good as any other.
    hasher.finish() as u16
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_722), (2023, 12, 31));
        assert_eq!(civil_from_days(20_088), (2024, 12, 31));
    }

    #[test]
    fn default_names_have_the_documented_shape() {
        let name = default_display_name();
        let rest = name.strip_prefix("vertex-batch-").unwrap();
        let parts: Vec<&str> = rest.split('-').collect();
        assert_eq!(parts.len(), 3, "{name}");
        assert_eq!(parts[0].len(), 8);
        assert!(parts[0].starts_with("20"));
        assert_eq!(parts[1].len(), 6);
        assert!(
            parts[0]
                .chars()
                .chain(parts[1].chars())
                .all(|c| c.is_ascii_digit())
        );
        assert_eq!(parts[2].len(), 4);
        assert!(parts[2].chars().all(|c| c.is_ascii_hexdigit()));
        validate_display_name(&name).unwrap();
        // The suffix tells apart names made in the same second.
        let suffixes: std::collections::HashSet<String> = (0..50)
            .filter_map(|_| default_display_name().rsplit('-').next().map(str::to_owned))
            .collect();
        assert!(suffixes.len() > 1);
    }

    #[test]
    fn display_names_are_checked() {
        validate_display_name("my-job").unwrap();
        validate_display_name(&"é".repeat(128)).unwrap();
        for bad in ["", "   ", &"x".repeat(129)] {
            let err = validate_display_name(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("invalid display_name:"),
                "{err}"
            );
        }
    }
}

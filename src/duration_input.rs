//! Durations a person types as a whole number of minutes or hours (the admin settings),
//! turned into a `time::Duration` without overflow.
//!
//! `time::Duration::hours(n)` panics when `n` hours do not fit in an `i64` of seconds,
//! and `settings set --approval-hours 9223372036854775807` (or the same number over IPC)
//! used to end the program that way. Here such values saturate instead, so they reach
//! the setting's own range check (`approval::set_validity`: one minute to 30 days,
//! `operators::set_idle_timeout`: one minute to 8 hours) and are refused there in plain
//! words, with the range named. This module decides no range itself: each setter owns
//! its bounds, so they are written in one place.

use time::Duration;

/// The unit a setting is typed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Minutes,
    Hours,
}

impl Unit {
    fn seconds(self) -> i64 {
        match self {
            Unit::Minutes => 60,
            Unit::Hours => 3_600,
        }
    }
}

/// `value` minutes or hours. Values past what a duration can hold saturate at the
/// longest (or most negative) duration, which every setter's range check refuses.
pub fn whole(value: i64, unit: Unit) -> Duration {
    Duration::seconds(value.saturating_mul(unit.seconds()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_values_convert_exactly() {
        assert_eq!(whole(24, Unit::Hours), Duration::hours(24));
        assert_eq!(whole(10, Unit::Minutes), Duration::minutes(10));
        assert_eq!(whole(-1, Unit::Hours), Duration::hours(-1));
        assert_eq!(whole(0, Unit::Minutes), Duration::ZERO);
    }

    #[test]
    fn huge_values_saturate_instead_of_panicking() {
        assert_eq!(whole(i64::MAX, Unit::Hours), Duration::seconds(i64::MAX));
        assert_eq!(whole(i64::MIN, Unit::Minutes), Duration::seconds(i64::MIN));
        assert!(whole(i64::MAX / 60 + 1, Unit::Minutes) > Duration::days(30));
    }
}

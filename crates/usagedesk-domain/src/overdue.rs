//! When an air-gapped instance is overdue: it has not reported through a verified usage data
//! file (imported on a manager's computer, or accepted by the cloud) for more than
//! [`OVERDUE_DAYS`], or never. One rule for the cache's paged queries, the customer views,
//! the CLI and the app.

use chrono::{DateTime, Duration, Utc};

/// Days without a verified usage data file after which an air-gapped instance is overdue.
pub const OVERDUE_DAYS: i64 = 31;

/// How long an air-gapped instance may go without a verified usage data file.
pub fn overdue_after() -> Duration {
    Duration::days(OVERDUE_DAYS)
}

/// The time before which an instance's last verified exchange makes it overdue at `now`
/// (what [`is_overdue`] means, for queries that filter in SQL).
pub fn overdue_cutoff(now: DateTime<Utc>) -> DateTime<Utc> {
    now - overdue_after()
}

/// Whether an instance is overdue at `now`, given whether it is air-gapped and the times of
/// its verified exchanges (any that are known; the latest counts).
pub fn is_overdue(
    airgapped: bool,
    exchanges: impl IntoIterator<Item = Option<DateTime<Utc>>>,
    now: DateTime<Utc>,
) -> bool {
    let last = exchanges.into_iter().flatten().max();
    airgapped && last.is_none_or(|t| now - t > overdue_after())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 7, day, 12, 0, 0).unwrap()
    }

    #[test]
    fn overdue_after_more_than_31_days_or_never_and_only_when_air_gapped() {
        let now = at(31) + Duration::days(31);
        assert!(is_overdue(true, [None, None], now), "never reported");
        assert!(
            !is_overdue(false, [None], now),
            "online instances report by themselves"
        );
        assert!(
            !is_overdue(true, [Some(at(31))], now),
            "exactly 31 days is not more than 31"
        );
        assert!(is_overdue(true, [Some(at(31) - Duration::seconds(1))], now));
        assert!(
            !is_overdue(true, [Some(at(1)), Some(at(31))], now),
            "the latest exchange counts"
        );
        assert_eq!(
            overdue_cutoff(now),
            at(31),
            "the cutoff is the boundary itself"
        );
    }
}

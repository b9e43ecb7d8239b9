//! The Attention list and its reminders (`docs/attention.md`), from the local cache:
//!
//! - an air-gapped instance is **overdue** with its usage data file
//!   (`usagedesk_domain::overdue`);
//! - a license **expires within 30 days** ([`EXPIRING_DAYS`]);
//! - a license went **over its seats** of a plan in the last completed month
//!   (`docs/entitlements.md`).
//!
//! The cache selects, counts and pages the items in SQL (`usagedesk_cache::attention`); this
//! crate sets the conditions' bounds from the time passed in, says what each item is, since
//! when and what to do next, pages across kinds, and decides which new occurrences a
//! reminder notifies. The CLI and the app both call it.

mod item;
mod list;
mod remind;

pub use item::AttentionItem;
pub use list::{
    counts, each_item, page, slices, AttentionCounts, AttentionPage, MAX_ATTENTION_PAGE,
};
pub use remind::{check_reminders, Notice, ReminderCheck, MAX_NOTICES};
pub use usagedesk_cache::{AttentionBounds, AttentionKind};

use chrono::{DateTime, Duration, Utc};
use usagedesk_domain::overdue::overdue_cutoff;
use usagedesk_domain::YearMonth;

/// A license is expiring from this many days before its expiry until it expires.
pub const EXPIRING_DAYS: i64 = 30;

/// The conditions' bounds at `now`: the overdue cut-off, the expiry window `(now, now + 30
/// days]`, and the last completed month (of `now`'s UTC date).
pub fn bounds(now: DateTime<Utc>) -> AttentionBounds {
    AttentionBounds {
        overdue_before: overdue_cutoff(now),
        now,
        expiring_until: now + Duration::days(EXPIRING_DAYS),
        month: YearMonth::last_completed(now.date_naive()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn bounds_follow_the_definitions() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 30, 0).unwrap();
        let b = bounds(now);
        assert_eq!(
            b.overdue_before,
            now - Duration::days(31),
            "31 days, the overdue rule"
        );
        assert_eq!(
            b.expiring_until,
            Utc.with_ymd_and_hms(2026, 3, 31, 0, 30, 0).unwrap()
        );
        assert_eq!(
            b.month,
            "2026-02".parse().unwrap(),
            "on the 1st, the month before is the last completed one"
        );
    }
}

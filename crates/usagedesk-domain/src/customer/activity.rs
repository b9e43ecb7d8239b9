//! Activity, and small helpers for the app and the CLI.

use crate::customer::License;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::timeline::later;
use crate::customer::INACTIVE_AFTER;

/// Whether an instance still reports, and how old its last check-in is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Activity {
    /// No check-in for 24 hours or more. Its last status is still shown, with `stale_for`.
    pub inactive: bool,
    /// Since the last check-in; never negative.
    #[serde(rename = "stale_for_secs", with = "crate::customer::secs")]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub stale_for: Duration,
}

/// An instance is inactive when it has not checked in for [`INACTIVE_AFTER`] (24 hours) or
/// more; exactly then its [`StatusTimeline`](crate::customer::StatusTimeline) runs out of data. A
/// check-in stamped after `now` (clock skew) is 0 old.
pub fn activity(last_check_in: DateTime<Utc>, now: DateTime<Utc>) -> Activity {
    let stale_for = (now - last_check_in).max(Duration::zero());
    Activity {
        inactive: stale_for >= INACTIVE_AFTER,
        stale_for,
    }
}

/// The short form of an instance id shown in lists: its first 7 characters (whole
/// characters, not bytes), or all of it if shorter.
pub fn short_id(instance_id: &str) -> &str {
    match instance_id.char_indices().nth(7) {
        Some((end, _)) => &instance_id[..end],
        None => instance_id,
    }
}

/// Whether a license is expired at `now`: it has an expiry, and it is `now` or earlier.
pub fn is_expired(license: &License, now: DateTime<Utc>) -> bool {
    license.expires_at.is_some_and(|at| at <= now)
}

/// Whether a license expires within `days` days of `now`: it has an expiry in
/// `(now, now + days]`. An expired license is not "expiring" (see [`is_expired`]); one that
/// does not expire never is.
pub fn expires_within(license: &License, now: DateTime<Utc>, days: u32) -> bool {
    let horizon = later(now, Duration::days(i64::from(days)));
    license
        .expires_at
        .is_some_and(|at| now < at && at <= horizon)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::customer::{InstanceStatus, LicenseFeatures, LicenseType};

    use super::*;
    use crate::customer::test_support::{report, t};
    use crate::customer::StatusTimeline;

    const NOW: &str = "2024-05-15T12:00:00Z";

    #[test]
    fn active_until_24_hours_without_a_check_in() {
        let a = activity(t("2024-05-14T12:00:01Z"), t(NOW));
        assert_eq!(
            a,
            Activity {
                inactive: false,
                stale_for: Duration::hours(24) - Duration::seconds(1)
            },
            "one second short of 24 h"
        );
        let a = activity(t("2024-05-14T12:00:00Z"), t(NOW));
        assert_eq!(
            a,
            Activity {
                inactive: true,
                stale_for: Duration::hours(24)
            },
            "exactly 24 h"
        );
        let a = activity(t("2024-05-12T12:00:00Z"), t(NOW));
        assert_eq!(
            a,
            Activity {
                inactive: true,
                stale_for: Duration::days(3)
            }
        );
    }

    #[test]
    fn a_check_in_after_now_is_not_stale() {
        let a = activity(t("2024-05-15T12:05:00Z"), t(NOW));
        assert_eq!(
            a,
            Activity {
                inactive: false,
                stale_for: Duration::zero()
            }
        );
    }

    #[test]
    fn inactive_exactly_when_the_timeline_runs_out_of_data() {
        let r = report(
            "i-1",
            InstanceStatus::Ready,
            "2024-05-01T00:00:00Z",
            "2024-05-14T12:00:00Z",
        );
        let tl = StatusTimeline::from_report(&r, &[]);
        for now in [
            "2024-05-15T11:59:59Z",
            "2024-05-15T12:00:00Z",
            "2024-05-20T00:00:00Z",
        ] {
            let now = t(now);
            assert_eq!(
                activity(r.last_check_in, now).inactive,
                tl.status_at(now).is_none(),
                "at {now}"
            );
        }
    }

    #[test]
    fn short_ids() {
        assert_eq!(short_id("2bQyU1X8kdWv1hZzbGm6"), "2bQyU1X");
        assert_eq!(short_id("abcdefg"), "abcdefg", "exactly 7");
        assert_eq!(short_id("abc"), "abc", "shorter: all of it");
        assert_eq!(short_id(""), "");
        assert_eq!(
            short_id("ééééééééé"),
            "ééééééé",
            "7 characters, 14 bytes: never a split char"
        );
    }

    fn license(expires_at: Option<&str>) -> License {
        License {
            id: "lic-1".to_owned(),
            account_id: "acme".to_owned(),
            license_type: LicenseType::Trial,
            channel: "Stable".to_owned(),
            created_at: t("2024-01-01T00:00:00Z"),
            expires_at: expires_at.map(t),
            features: LicenseFeatures::default(),
            seats: BTreeMap::new(),
        }
    }

    #[test]
    fn expiring_within_n_days() {
        let now = t(NOW);
        assert!(!expires_within(&license(None), now, 30), "never expires");
        assert!(
            expires_within(&license(Some("2024-05-25T12:00:00Z")), now, 30),
            "in 10 days"
        );
        assert!(
            expires_within(&license(Some("2024-06-14T12:00:00Z")), now, 30),
            "in exactly 30 days"
        );
        assert!(
            !expires_within(&license(Some("2024-06-14T12:00:01Z")), now, 30),
            "a second more"
        );
        assert!(
            !expires_within(&license(Some("2024-05-15T12:00:00Z")), now, 30),
            "expires now: expired"
        );
        assert!(
            !expires_within(&license(Some("2024-05-01T00:00:00Z")), now, 30),
            "already expired"
        );
        assert!(
            !expires_within(&license(Some("2024-05-15T13:00:00Z")), now, 0),
            "0 days: nothing"
        );
    }

    #[test]
    fn expired() {
        let now = t(NOW);
        assert!(!is_expired(&license(None), now));
        assert!(
            is_expired(&license(Some(NOW)), now),
            "expires at now: expired from then"
        );
        assert!(is_expired(&license(Some("2024-05-01T00:00:00Z")), now));
        assert!(!is_expired(&license(Some("2024-05-15T12:00:01Z")), now));
    }

    #[test]
    fn activity_serialized_as_seconds() {
        let a = activity(t("2024-05-15T10:00:00Z"), t(NOW));
        assert_eq!(
            serde_json::to_value(a).unwrap(),
            serde_json::json!({ "inactive": false, "stale_for_secs": 7200 })
        );
    }
}

//! Time to install (seed `001`, "Time to Install").

use crate::customer::License;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::StatusTimeline;

/// The time to install shown for a customer: that of the instance that most recently reached
/// its *first* Ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TimeToInstall {
    pub instance_id: String,
    /// The instance's first event (its first check-in, or an earlier event).
    pub first_seen_at: DateTime<Utc>,
    /// When the instance first reached Ready.
    pub first_ready_at: DateTime<Utc>,
    /// License time to install: license created → the instance's first Ready.
    #[serde(rename = "license_secs", with = "crate::customer::secs")]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub license: Duration,
    /// Instance time to install: the instance's first event → its first Ready.
    #[serde(rename = "instance_secs", with = "crate::customer::secs")]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub instance: Duration,
}

/// License time to install: from the license's creation to the instance's first Ready;
/// `None` if the instance was never Ready. Zero, not negative, when the license was created
/// after the instance was first Ready (a license issued again for a running instance).
pub fn license_time_to_install(
    license_created: DateTime<Utc>,
    timeline: &StatusTimeline,
) -> Option<Duration> {
    let ready = timeline.first_ready_at()?;
    Some((ready - license_created).max(Duration::zero()))
}

/// Instance time to install: from the instance's first event (its first check-in, or an
/// earlier event) to its first Ready; `None` if it was never Ready.
pub fn instance_time_to_install(timeline: &StatusTimeline) -> Option<Duration> {
    Some(timeline.first_ready_at()? - timeline.first_seen())
}

/// A customer's time to install, given the timelines of the license's instances: that of the
/// instance whose first Ready is the latest (a later *return* to Ready does not count; ties go
/// to the smallest instance id). `None` when no instance was ever Ready: "No Ready
/// Instances".
pub fn time_to_install<'a>(
    license: &License,
    instances: impl IntoIterator<Item = &'a StatusTimeline>,
) -> Option<TimeToInstall> {
    let (first_ready_at, timeline) = instances
        .into_iter()
        .filter_map(|tl| tl.first_ready_at().map(|at| (at, tl)))
        .max_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| b.1.instance_id().cmp(a.1.instance_id()))
        })?;
    Some(TimeToInstall {
        instance_id: timeline.instance_id().to_owned(),
        first_seen_at: timeline.first_seen(),
        first_ready_at,
        license: license_time_to_install(license.created_at, timeline)?,
        instance: instance_time_to_install(timeline)?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::customer::InstanceStatus::*;
    use crate::customer::{LicenseFeatures, LicenseType};

    use super::*;
    use crate::customer::test_support::{report, status, t};

    fn license(created: &str) -> License {
        License {
            id: "lic-1".to_owned(),
            account_id: "acme".to_owned(),
            license_type: LicenseType::Prod,
            channel: "Stable".to_owned(),
            created_at: t(created),
            expires_at: None,
            features: LicenseFeatures::default(),
            seats: BTreeMap::new(),
        }
    }

    /// The seed's example, today being 2024-06-10.
    /// Instance A: first check-in 08:30 Updating, first Ready at 9:00.
    /// Instance B: first check-in 07:00 Missing, first Ready at 8:00, Degraded at 8:30, Ready
    /// again at 10:00.
    fn seed_instances() -> (StatusTimeline, StatusTimeline) {
        let a = StatusTimeline::from_report(
            &report(
                "inst-a",
                Ready,
                "2024-06-10T08:30:00Z",
                "2024-06-10T11:00:00Z",
            ),
            &[
                status("inst-a", "2024-06-10T08:30:00Z", None, "updating"),
                status("inst-a", "2024-06-10T09:00:00Z", Some("updating"), "ready"),
            ],
        );
        let b = StatusTimeline::from_report(
            &report(
                "inst-b",
                Ready,
                "2024-06-10T07:00:00Z",
                "2024-06-10T11:00:00Z",
            ),
            &[
                status("inst-b", "2024-06-10T07:00:00Z", None, "missing"),
                status("inst-b", "2024-06-10T08:00:00Z", Some("missing"), "ready"),
                status("inst-b", "2024-06-10T08:30:00Z", Some("ready"), "degraded"),
                status("inst-b", "2024-06-10T10:00:00Z", Some("degraded"), "ready"),
            ],
        );
        (a, b)
    }

    #[test]
    fn the_seed_s_example_shows_instance_a() {
        let (a, b) = seed_instances();
        let lic = license("2024-06-08T12:00:00Z");
        let expected = TimeToInstall {
            instance_id: "inst-a".to_owned(),
            first_seen_at: t("2024-06-10T08:30:00Z"),
            first_ready_at: t("2024-06-10T09:00:00Z"),
            // June 8 12:00 → June 10 09:00.
            license: Duration::hours(45),
            // 08:30 → 09:00.
            instance: Duration::minutes(30),
        };
        assert_eq!(
            time_to_install(&lic, [&a, &b]),
            Some(expected.clone()),
            "A's first Ready (9:00) is later than B's (8:00); B's return to Ready at 10:00 \
             is not a first Ready"
        );
        assert_eq!(
            time_to_install(&lic, [&b, &a]),
            Some(expected),
            "whatever the order"
        );
    }

    #[test]
    fn the_seed_s_instance_b_alone() {
        let (_, b) = seed_instances();
        let lic = license("2024-06-08T12:00:00Z");
        let tti = time_to_install(&lic, [&b]).unwrap();
        assert_eq!(
            tti.first_ready_at,
            t("2024-06-10T08:00:00Z"),
            "its first Ready, not 10:00"
        );
        assert_eq!(tti.license, Duration::hours(44));
        assert_eq!(tti.instance, Duration::hours(1), "07:00 → 08:00");
    }

    #[test]
    fn no_ready_instances() {
        let lic = license("2024-06-08T12:00:00Z");
        let never = StatusTimeline::from_report(
            &report(
                "inst-c",
                Degraded,
                "2024-06-10T07:00:00Z",
                "2024-06-10T11:00:00Z",
            ),
            &[status(
                "inst-c",
                "2024-06-10T08:00:00Z",
                Some("updating"),
                "degraded",
            )],
        );
        assert_eq!(
            time_to_install(&lic, [&never]),
            None,
            "\"No Ready Instances\""
        );
        assert_eq!(time_to_install(&lic, []), None, "no instance at all");
        assert_eq!(license_time_to_install(lic.created_at, &never), None);
        assert_eq!(instance_time_to_install(&never), None);
    }

    #[test]
    fn ready_at_the_first_check_in_is_zero_instance_time() {
        let lic = license("2024-06-01T00:00:00Z");
        let tl = StatusTimeline::from_report(
            &report(
                "inst-d",
                Ready,
                "2024-06-03T06:00:00Z",
                "2024-06-03T10:00:00Z",
            ),
            &[],
        );
        assert_eq!(instance_time_to_install(&tl), Some(Duration::zero()));
        assert_eq!(
            license_time_to_install(lic.created_at, &tl),
            Some(Duration::hours(54)),
            "2 days 6 h"
        );
    }

    #[test]
    fn a_license_created_after_the_first_ready_is_zero_license_time() {
        let lic = license("2024-06-05T00:00:00Z");
        let tl = StatusTimeline::from_report(
            &report(
                "inst-d",
                Ready,
                "2024-06-03T06:00:00Z",
                "2024-06-06T10:00:00Z",
            ),
            &[],
        );
        assert_eq!(
            license_time_to_install(lic.created_at, &tl),
            Some(Duration::zero())
        );
    }

    #[test]
    fn a_tie_goes_to_the_smallest_instance_id() {
        let lic = license("2024-06-01T00:00:00Z");
        let at = |id: &str| {
            StatusTimeline::from_report(
                &report(id, Ready, "2024-06-03T06:00:00Z", "2024-06-03T10:00:00Z"),
                &[],
            )
        };
        let (x, y) = (at("inst-y"), at("inst-x"));
        assert_eq!(
            time_to_install(&lic, [&x, &y]).unwrap().instance_id,
            "inst-x"
        );
        assert_eq!(
            time_to_install(&lic, [&y, &x]).unwrap().instance_id,
            "inst-x"
        );
    }

    #[test]
    fn instance_time_starts_at_an_event_before_the_first_check_in() {
        let tl = StatusTimeline::from_report(
            &report(
                "inst-e",
                Ready,
                "2024-06-03T06:00:00Z",
                "2024-06-03T10:00:00Z",
            ),
            &[
                status("inst-e", "2024-06-03T05:00:00Z", None, "updating"),
                status("inst-e", "2024-06-03T07:30:00Z", Some("updating"), "ready"),
            ],
        );
        assert_eq!(
            instance_time_to_install(&tl),
            Some(Duration::minutes(150)),
            "05:00 → 07:30"
        );
    }

    #[test]
    fn serialized_as_seconds() {
        let (a, _) = seed_instances();
        let tti = time_to_install(&license("2024-06-08T12:00:00Z"), [&a]).unwrap();
        let json = serde_json::to_value(&tti).unwrap();
        assert_eq!(json["license_secs"], 45 * 3600);
        assert_eq!(json["instance_secs"], 30 * 60);
        assert_eq!(json["first_ready_at"], "2024-06-10T09:00:00Z");
        assert_eq!(serde_json::from_value::<TimeToInstall>(json).unwrap(), tti);
    }
}

//! An instance's aggregate status, and how a status counts for uptime.

use crate::customer::InstanceStatus;
use serde::{Deserialize, Serialize};

/// The aggregate status of an instance from the states of its resources (a check-in's
/// `resources`), by the first matching rule:
///
/// 1. no resource reported → Missing;
/// 2. any resource Unavailable → Unavailable;
/// 3. any Degraded → Degraded;
/// 4. any Updating → Updating;
/// 5. all Ready → Ready.
///
/// The list leaves one case open: some resources Missing and every other one Ready (no rule
/// from 2 to 4 matches, and not all are Ready). That is **Missing**: a resource that was not
/// created yet, or was deleted, means the application is not all there, and it is the status
/// the rules give when nothing at all is known. It counts as Down for uptime, as Unavailable
/// would. A Missing resource does not outrank a Degraded or Updating one: the rules' order
/// is kept.
pub fn aggregate_status(resources: impl IntoIterator<Item = InstanceStatus>) -> InstanceStatus {
    let (mut any, mut degraded, mut updating, mut missing) = (false, false, false, false);
    for s in resources {
        any = true;
        match s {
            InstanceStatus::Unavailable => return InstanceStatus::Unavailable,
            InstanceStatus::Degraded => degraded = true,
            InstanceStatus::Updating => updating = true,
            InstanceStatus::Missing => missing = true,
            InstanceStatus::Ready => {}
        }
    }
    if !any {
        InstanceStatus::Missing
    } else if degraded {
        InstanceStatus::Degraded
    } else if updating {
        InstanceStatus::Updating
    } else if missing {
        InstanceStatus::Missing
    } else {
        InstanceStatus::Ready
    }
}

/// Whether a status counts as Up for the uptime ratio: Ready, Updating and Degraded are Up;
/// Missing and Unavailable are Down.
pub fn counts_as_up(status: InstanceStatus) -> bool {
    matches!(
        status,
        InstanceStatus::Ready | InstanceStatus::Updating | InstanceStatus::Degraded
    )
}

/// A band of the uptime graph. The ratio counts [`Band::Up`] and [`Band::Degraded`] as up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Band {
    /// Ready or Updating.
    Up,
    /// Degraded: up for the ratio, but shown apart.
    Degraded,
    /// Missing or Unavailable.
    Down,
    /// No status known: before the first check-in, or after 24 hours without one.
    NoData,
}

impl Band {
    /// The band of a status, `None` meaning no data.
    pub fn of(status: Option<InstanceStatus>) -> Band {
        match status {
            None => Band::NoData,
            Some(InstanceStatus::Ready | InstanceStatus::Updating) => Band::Up,
            Some(InstanceStatus::Degraded) => Band::Degraded,
            Some(InstanceStatus::Missing | InstanceStatus::Unavailable) => Band::Down,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::customer::{CheckIn, ClusterDetails};
    use InstanceStatus::*;

    use super::*;

    #[test]
    fn nothing_reported_is_missing() {
        assert_eq!(
            aggregate_status([]),
            Missing,
            "rule 1: no resource reported"
        );
    }

    #[test]
    fn any_unavailable_wins_over_everything() {
        assert_eq!(
            aggregate_status([Ready, Degraded, Updating, Missing, Unavailable]),
            Unavailable,
            "rule 2 comes before Degraded, Updating and the Missing fallback, wherever the \
             Unavailable resource is"
        );
        assert_eq!(aggregate_status([Unavailable]), Unavailable);
    }

    #[test]
    fn degraded_wins_over_updating_and_ready() {
        assert_eq!(
            aggregate_status([Updating, Ready, Degraded]),
            Degraded,
            "rule 3 comes before rule 4"
        );
    }

    #[test]
    fn updating_wins_over_ready() {
        assert_eq!(
            aggregate_status([Ready, Updating, Ready]),
            Updating,
            "rule 4"
        );
    }

    #[test]
    fn all_ready_is_ready() {
        assert_eq!(aggregate_status([Ready]), Ready, "rule 5, one resource");
        assert_eq!(
            aggregate_status([Ready, Ready, Ready]),
            Ready,
            "rule 5, several"
        );
    }

    #[test]
    fn a_missing_resource_among_ready_ones_is_missing() {
        assert_eq!(
            aggregate_status([Ready, Missing, Ready]),
            Missing,
            "no rule from 2 to 5 matches: the documented fallback is Missing"
        );
        assert_eq!(
            aggregate_status([Missing]),
            Missing,
            "a lone Missing resource"
        );
    }

    #[test]
    fn a_missing_resource_does_not_outrank_degraded_or_updating() {
        assert_eq!(
            aggregate_status([Missing, Degraded]),
            Degraded,
            "rule 3 matches before the fallback"
        );
        assert_eq!(
            aggregate_status([Missing, Updating]),
            Updating,
            "rule 4 matches before the fallback"
        );
    }

    #[test]
    fn works_on_a_check_in_s_resources() {
        let check_in = CheckIn {
            resources: BTreeMap::from([
                ("deployment/api".to_owned(), Ready),
                ("statefulset/db".to_owned(), Updating),
            ]),
            app_version: "2.0.0".to_owned(),
            cluster: ClusterDetails::default(),
        };
        assert_eq!(
            aggregate_status(check_in.resources.values().copied()),
            Updating
        );
    }

    #[test]
    fn up_down_and_bands() {
        assert!(counts_as_up(Ready) && counts_as_up(Updating));
        assert!(counts_as_up(Degraded), "Degraded is Up for the ratio");
        assert!(!counts_as_up(Missing) && !counts_as_up(Unavailable), "Down");
        assert_eq!(Band::of(Some(Ready)), Band::Up);
        assert_eq!(Band::of(Some(Updating)), Band::Up);
        assert_eq!(
            Band::of(Some(Degraded)),
            Band::Degraded,
            "its own band in the graph"
        );
        assert_eq!(Band::of(Some(Missing)), Band::Down);
        assert_eq!(Band::of(Some(Unavailable)), Band::Down);
        assert_eq!(
            Band::of(None),
            Band::NoData,
            "no data is neither up nor down"
        );
    }
}

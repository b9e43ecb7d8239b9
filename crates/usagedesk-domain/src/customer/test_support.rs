//! Fixtures of the rules' unit tests.

use crate::customer::{ClusterDetails, InstanceEvent, InstanceReport, InstanceStatus};
use chrono::{DateTime, Utc};

/// A time from RFC 3339.
pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn report(
    id: &str,
    status: InstanceStatus,
    first_check_in: &str,
    last_check_in: &str,
) -> InstanceReport {
    InstanceReport {
        instance_id: id.to_owned(),
        status,
        app_version: "1.0.0".to_owned(),
        cluster: ClusterDetails::default(),
        first_check_in: t(first_check_in),
        last_check_in: t(last_check_in),
    }
}

/// A status change event.
pub fn status(id: &str, at: &str, previous: Option<&str>, new: &str) -> InstanceEvent {
    event(id, at, "status", previous, new)
}

pub fn event(id: &str, at: &str, field: &str, previous: Option<&str>, new: &str) -> InstanceEvent {
    InstanceEvent {
        instance_id: id.to_owned(),
        field: field.to_owned(),
        previous: previous.map(str::to_owned),
        new: new.to_owned(),
        received_at: t(at),
    }
}

//! Customer reporting: instances' check-ins, their reports and events.

use chrono::{DateTime, Utc};
use usagedesk_domain::customer::{ClusterDetails, InstanceEvent, InstanceReport, InstanceStatus};

use super::{StoreError, TokenScope};

/// A verified, validated check-in to record (`POST /api/v1/instances/{id}/check-in`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInWrite {
    pub instance_id: String,
    /// The aggregate status of the reported resources.
    pub status: InstanceStatus,
    pub app_version: String,
    pub cluster: ClusterDetails,
    /// The time the instance signed the check-in with; must be later than the last one's.
    pub signed_at: DateTime<Utc>,
    /// The instance's pinned key the signature was verified with (`ed25519:…`).
    pub signed_with: String,
    /// The cloud's clock: the check-in time and the events' `received_at`.
    pub now: DateTime<Utc>,
}

/// What a check-in changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInOutcome {
    /// The instance's report after the check-in.
    pub report: InstanceReport,
    /// The events it recorded: one per field whose value changed.
    pub events: Vec<InstanceEvent>,
}

/// An instance's last recorded check-in, as the service needs it to judge the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastCheckIn {
    pub report: InstanceReport,
    /// The time its instance signed it (`None`: the report came from a load, not a check-in).
    pub signed_at: Option<DateTime<Utc>>,
}

/// A check-in as the service decided it: the new report, the events of what changed, and the
/// state it was judged against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInRecord {
    pub report: InstanceReport,
    pub events: Vec<InstanceEvent>,
    /// Kept with the report; the next check-in must be signed later.
    pub signed_at: DateTime<Utc>,
    /// The pinned key the check-in was verified with: nothing is written when the instance's
    /// key is no longer that one (reset, or reset and enrolled again, meanwhile).
    pub signed_with: String,
    /// What [`Customers::last_check_in`] returned when the service decided: the write is
    /// refused as [`CheckInWritten::Stale`] when the stored report is no longer that one.
    pub judged_against: Option<LastCheckIn>,
}

impl CheckInRecord {
    /// Refuses the write (nothing written) when the instance's pinned key, read in the writing
    /// transaction, is no longer the one the check-in was verified with.
    pub fn still_pinned(&self, pinned: Option<&str>) -> Result<(), StoreError> {
        let instance = self.report.instance_id.clone();
        match pinned {
            Some(key) if key == self.signed_with => Ok(()),
            Some(_) => Err(super::Conflict::OtherKeyPinned { instance }.into()),
            None => Err(super::Conflict::KeyReset { instance }.into()),
        }
    }
}

/// What [`Customers::write_check_in`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckInWritten {
    Written,
    /// Another check-in of the instance was written after the service read its state:
    /// nothing was written; judge again.
    Stale,
}

/// Instance reports and events.
pub trait Customers {
    /// The instance's report and the signing time of its last check-in; `None` when it has no
    /// report yet.
    fn last_check_in(&self, instance_id: &str) -> Result<Option<LastCheckIn>, StoreError>;

    /// In one transaction: unless the stored report changed since `judged_against`
    /// ([`CheckInWritten::Stale`]), replaces the report, appends the events and moves the
    /// report and the events to the feed's head. [`StoreError::Conflict`] (nothing written)
    /// when the instance is gone ([`Conflict::InstanceRemoved`](super::Conflict)), its pinned
    /// key is not `signed_with` any more (`KeyReset` when it has none, `OtherKeyPinned`), or
    /// an event of the same field and time is stored already (`SameMillisecond`).
    fn write_check_in(&self, record: &CheckInRecord) -> Result<CheckInWritten, StoreError>;

    /// The instance's report, when it has one and `scope` may see its account.
    fn instance_report(
        &self,
        scope: &TokenScope,
        instance_id: &str,
    ) -> Result<Option<InstanceReport>, StoreError>;

    /// The instance's events, oldest first, when `scope` may see its account.
    fn instance_events(
        &self,
        scope: &TokenScope,
        instance_id: &str,
    ) -> Result<Vec<InstanceEvent>, StoreError>;
}

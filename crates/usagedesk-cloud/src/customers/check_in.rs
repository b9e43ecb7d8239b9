//! `POST /api/v1/instances/{id}/check-in`: an instance's agent reports its status, version
//! and cluster (`docs/agent.md`, "Check-ins"). No token: the request is signed by the
//! instance's pinned key.
//!
//! The signature is Ed25519 over
//!
//! ```text
//! usagedesk-check-in-v1\n{instance id}\n{X-Usagedesk-Timestamp value}\n{body bytes}
//! ```
//!
//! sent as `X-Usagedesk-Signature: ed25519 <standard base64 of the 64 signature bytes>`, with
//! `X-Usagedesk-Timestamp` an RFC 3339 time within 5 minutes of the cloud's clock and later
//! than the instance's previous check-in (a replay is refused).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use usagedesk_airgap::PublicKey;
use usagedesk_domain::customer::{CheckIn, InstanceEvent, InstanceReport};

use super::rules::{
    check_cluster, check_text, field_values, time_text, truncate_ms, TRACKED_FIELDS,
};
use crate::airgap::instances::{self as registered, Asker};
use crate::airgap::signed_request;
pub use crate::airgap::signed_request::{Signature, MAX_SKEW, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::airgap::Refusal;
use crate::storage::{
    CheckInOutcome, CheckInRecord, CheckInWrite, CheckInWritten, Conflict, Customers, LastCheckIn,
    Store, StoreError,
};

/// The first line of the signed message (domain separation from every other signature the
/// instance key makes).
pub const SIGNING_CONTEXT: &str = "usagedesk-check-in-v1";
/// The largest check-in body (bytes).
pub const MAX_CHECK_IN_BYTES: usize = 64 * 1024;
/// The most resources one check-in may report.
pub const MAX_RESOURCES: usize = 1_000;
/// The longest resource name (bytes): a Kubernetes `kind/namespace/name` fits.
pub const MAX_RESOURCE_NAME_LEN: usize = 512;

/// The cloud's answer to a check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckInReceipt {
    /// The instance's report after the check-in (its `status` is the aggregate).
    pub report: InstanceReport,
    /// The events the check-in recorded: one per field whose value changed.
    pub events: Vec<InstanceEvent>,
}

/// The message an instance signs for a check-in.
pub fn signed_message(instance_id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    signed_request::signed_message(SIGNING_CONTEXT, instance_id, timestamp, body)
}

/// Checks what a check-in reports: resource names and count, the app version, the cluster.
pub fn validate(c: &CheckIn) -> Result<(), String> {
    if c.resources.len() > MAX_RESOURCES {
        return Err(format!(
            "{} resources were reported; a check-in reports at most {MAX_RESOURCES}",
            c.resources.len()
        ));
    }
    for name in c.resources.keys() {
        if name.is_empty()
            || name.len() > MAX_RESOURCE_NAME_LEN
            || name.trim() != name
            || name.chars().any(char::is_control)
        {
            return Err(format!(
                "resource name '{}' must be 1 to {MAX_RESOURCE_NAME_LEN} bytes without \
                 surrounding spaces or control characters",
                name.chars().take(80).collect::<String>().escape_debug()
            ));
        }
    }
    check_text("app_version", &c.app_version, true)?;
    check_cluster(&c.cluster).map_err(|e| format!("cluster: {e}"))
}

/// Verifies and records a check-in of `instance_id` received at `now`.
pub fn receive(
    storage: &dyn Store,
    now: DateTime<Utc>,
    instance_id: &str,
    headers: Signature<'_>,
    body: &[u8],
) -> Result<CheckInReceipt, Refusal> {
    if body.len() > MAX_CHECK_IN_BYTES {
        return Err(Refusal::TooLarge(format!(
            "the check-in is {} bytes; it may be at most {MAX_CHECK_IN_BYTES}: report fewer \
             resources",
            body.len()
        )));
    }
    let instance = registered::find(storage, Asker::Instance, instance_id)?;
    let Some(pinned) = instance.public_key.as_deref() else {
        return Err(Refusal::Forbidden(format!(
            "instance '{instance_id}' has no registered key yet, so its check-ins cannot be \
             verified: run `usagedesk-agent push` once (its first online contact enrolls the \
             instance's key with its license file), or ask the vendor to register the key in \
             instances.csv"
        )));
    };
    let key: PublicKey = pinned.parse().map_err(|e| {
        Refusal::Store(crate::storage::StoreError::other(format!(
            "the pinned key of instance '{instance_id}' is unreadable: {e}"
        )))
    })?;
    let signed_at = signed_request::verify(
        SIGNING_CONTEXT,
        "check-in",
        &key,
        now,
        instance_id,
        headers,
        body,
    )?;
    let check_in: CheckIn = serde_json::from_slice(body).map_err(|e| {
        Refusal::Invalid(format!(
            "the check-in is not valid: {e}; send {{\"resources\": {{name: state}}, \
             \"app_version\": …, \"cluster\": {{…}}}}"
        ))
    })?;
    validate(&check_in).map_err(|e| Refusal::Invalid(format!("the check-in is not valid: {e}")))?;
    let outcome = record(
        storage,
        &CheckInWrite {
            instance_id: instance.id,
            // The rule is usagedesk_domain::customer's, the one the app explains.
            status: usagedesk_domain::customer::aggregate_status(
                check_in.resources.values().copied(),
            ),
            app_version: check_in.app_version,
            cluster: check_in.cluster,
            signed_at,
            signed_with: pinned.to_owned(),
            now,
        },
    )?;
    Ok(CheckInReceipt {
        report: outcome.report,
        events: outcome.events,
    })
}

/// How often a check-in is judged again when another one of its instance was written between
/// reading the instance's state and writing.
const CHECK_IN_ATTEMPTS: usize = 4;

/// Records a verified, validated check-in: refuses it ([`StoreError::Conflict`]) unless it is
/// signed later than the last recorded one; makes an event for every tracked field whose
/// value changed (on the instance's first check-in: its status and app version, where its
/// history starts); replaces the report. Times are kept to the millisecond.
pub fn record(store: &dyn Customers, c: &CheckInWrite) -> Result<CheckInOutcome, StoreError> {
    for _ in 0..CHECK_IN_ATTEMPTS {
        let last = store.last_check_in(&c.instance_id)?;
        let (report, events, signed_at) = judge(c, last.as_ref())?;
        let written = store.write_check_in(&CheckInRecord {
            report: report.clone(),
            events: events.clone(),
            signed_at,
            signed_with: c.signed_with.clone(),
            judged_against: last,
        })?;
        if written == CheckInWritten::Written {
            return Ok(CheckInOutcome { report, events });
        }
    }
    Err(StoreError::Unavailable(format!(
        "instance '{}' is checking in from several places at once; check in again",
        c.instance_id
    )))
}

/// The report a check-in makes over `last`, the events of what it changed and its signing
/// time, or why it is refused.
fn judge(
    c: &CheckInWrite,
    last: Option<&LastCheckIn>,
) -> Result<(InstanceReport, Vec<InstanceEvent>, DateTime<Utc>), StoreError> {
    let now = truncate_ms(c.now);
    let signed_at = truncate_ms(c.signed_at);
    if let Some(previous) = last.and_then(|l| l.signed_at) {
        if signed_at <= previous {
            return Err(StoreError::Conflict(Conflict::Refused(format!(
                "this check-in is signed at {}, not later than the last one the cloud recorded \
                 ({}): a check-in is accepted once; send a new one",
                time_text(&signed_at),
                time_text(&previous)
            ))));
        }
    }
    let report = InstanceReport {
        instance_id: c.instance_id.clone(),
        status: c.status,
        app_version: c.app_version.clone(),
        cluster: c.cluster.clone(),
        first_check_in: last.map_or(now, |l| l.report.first_check_in.min(now)),
        last_check_in: now,
    };
    let new_values = field_values(report.status, &report.app_version, &report.cluster);
    let event = |field: &str, previous: Option<String>, new: String| InstanceEvent {
        instance_id: c.instance_id.clone(),
        field: field.to_owned(),
        previous,
        new,
        received_at: now,
    };
    let events = match last {
        Some(before) => {
            let b = &before.report;
            let old_values = field_values(b.status, &b.app_version, &b.cluster);
            TRACKED_FIELDS
                .iter()
                .zip(old_values)
                .zip(new_values)
                .filter(|((_, old), new)| old != new)
                .map(|((field, old), new)| event(field, (!old.is_empty()).then_some(old), new))
                .collect()
        }
        // First check-in: the report holds the starting values; the status and the app
        // version start their history (time to install counts from here).
        None => TRACKED_FIELDS
            .iter()
            .zip(new_values)
            .take(2)
            .map(|(field, new)| event(field, None, new))
            .collect(),
    };
    Ok((report, events, signed_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_message_has_its_context_and_parts_on_lines() {
        assert_eq!(
            signed_message("inst-1", "2026-03-01T09:00:00.000Z", b"{}"),
            b"usagedesk-check-in-v1\ninst-1\n2026-03-01T09:00:00.000Z\n{}".to_vec()
        );
    }
}

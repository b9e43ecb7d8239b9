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

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use usagedesk_airgap::PublicKey;
use usagedesk_domain::customer::{CheckIn, InstanceEvent, InstanceReport};

use super::rules::{check_cluster, check_text};
use crate::airgap::instances::{self as registered, Asker};
use crate::airgap::Refusal;
use crate::storage::{CheckInWrite, Storage};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-usagedesk-signature";
/// The header carrying the time the instance signed at.
pub const TIMESTAMP_HEADER: &str = "x-usagedesk-timestamp";
/// The first line of the signed message (domain separation from every other signature the
/// instance key makes).
pub const SIGNING_CONTEXT: &str = "usagedesk-check-in-v1";
/// The largest check-in body (bytes).
pub const MAX_CHECK_IN_BYTES: usize = 64 * 1024;
/// The most resources one check-in may report.
pub const MAX_RESOURCES: usize = 1_000;
/// The longest resource name (bytes): a Kubernetes `kind/namespace/name` fits.
pub const MAX_RESOURCE_NAME_LEN: usize = 512;
/// How far the signed time may be from the cloud's clock, either way.
pub const MAX_SKEW: Duration = Duration::minutes(5);

/// The cloud's answer to a check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInReceipt {
    /// The instance's report after the check-in (its `status` is the aggregate).
    pub report: InstanceReport,
    /// The events the check-in recorded: one per field whose value changed.
    pub events: Vec<InstanceEvent>,
}

/// The message an instance signs for a check-in.
pub fn signed_message(instance_id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(
        SIGNING_CONTEXT.len() + instance_id.len() + timestamp.len() + body.len() + 3,
    );
    m.extend_from_slice(SIGNING_CONTEXT.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(instance_id.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(timestamp.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(body);
    m
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

/// The headers of a check-in request, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct Signature<'a> {
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Verifies and records a check-in of `instance_id` received at `now`.
pub fn receive(
    storage: &dyn Storage,
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
            "instance '{instance_id}' has no pinned key yet, so its check-ins cannot be \
             verified: run `usagedesk-agent push` once (the first online contact pins the \
             instance's key), or ask the vendor to register the key in instances.csv"
        )));
    };
    let key: PublicKey = pinned.parse().map_err(|e| {
        Refusal::Store(crate::storage::StoreError::Worker(format!(
            "the pinned key of instance '{instance_id}' is unreadable: {e}"
        )))
    })?;
    let signed_at = verify(&key, now, instance_id, headers, body)?;
    let check_in: CheckIn = serde_json::from_slice(body).map_err(|e| {
        Refusal::Invalid(format!(
            "the check-in is not valid: {e}; send {{\"resources\": {{name: state}}, \
             \"app_version\": …, \"cluster\": {{…}}}}"
        ))
    })?;
    validate(&check_in).map_err(|e| Refusal::Invalid(format!("the check-in is not valid: {e}")))?;
    let outcome = storage.record_check_in(&CheckInWrite {
        instance_id: instance.id,
        // The rule is usagedesk-reporting's, the one the app explains.
        status: usagedesk_reporting::aggregate_status(check_in.resources.values().copied()),
        app_version: check_in.app_version,
        cluster: check_in.cluster,
        signed_at,
        now,
    })?;
    Ok(CheckInReceipt {
        report: outcome.report,
        events: outcome.events,
    })
}

/// Checks the headers: the time within [`MAX_SKEW`] of `now`, the signature by `key`.
/// Returns the signed time.
fn verify(
    key: &PublicKey,
    now: DateTime<Utc>,
    instance_id: &str,
    headers: Signature<'_>,
    body: &[u8],
) -> Result<DateTime<Utc>, Refusal> {
    let unauthorized = |m: String| Refusal::Unauthorized(m);
    let timestamp = headers.timestamp.ok_or_else(|| {
        unauthorized(format!(
            "the check-in has no {TIMESTAMP_HEADER} header: sign it as docs/agent.md describes \
             (usagedesk-agent check-in does)"
        ))
    })?;
    let signature = headers.signature.ok_or_else(|| {
        unauthorized(format!(
            "the check-in has no {SIGNATURE_HEADER} header: sign it with the instance's key as \
             docs/agent.md describes (usagedesk-agent check-in does)"
        ))
    })?;
    let signed_at = DateTime::parse_from_rfc3339(timestamp)
        .map_err(|_| {
            // The header's value is not repeated: it could be anything the client holds.
            unauthorized(format!(
                "{TIMESTAMP_HEADER} is not an RFC 3339 time such as 2026-03-01T09:00:00.000Z: \
                 sign the check-in as docs/agent.md describes"
            ))
        })?
        .with_timezone(&Utc);
    let skew = signed_at - now;
    if skew.abs() > MAX_SKEW {
        let (amount, side) = if skew > Duration::zero() {
            (skew, "ahead of")
        } else {
            (-skew, "behind")
        };
        return Err(unauthorized(format!(
            "the check-in was signed at {}, {} minutes {side} the cloud's clock ({}); at most 5 \
             minutes are allowed: set the instance's clock right (NTP) and check in again",
            signed_at.format("%Y-%m-%d %H:%M:%S UTC"),
            amount.num_minutes(),
            now.format("%Y-%m-%d %H:%M:%S UTC")
        )));
    }
    let bytes = signature
        .strip_prefix("ed25519 ")
        .and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .ok_or_else(|| {
            unauthorized(format!(
                "{SIGNATURE_HEADER} must be 'ed25519 ' and the 64 signature bytes in base64"
            ))
        })?;
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&key.to_bytes()).map_err(|_| {
        Refusal::Store(crate::storage::StoreError::Worker(format!(
            "the pinned key of instance '{instance_id}' is not an Ed25519 key"
        )))
    })?;
    let message = signed_message(instance_id, timestamp, body);
    verifying
        .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&bytes))
        .map_err(|_| {
            unauthorized(format!(
                "the check-in's signature does not verify with the key pinned for instance \
                 '{instance_id}' ({key}): it was altered in transit, or signed by another key \
                 (a reinstalled instance needs its new key registered by the vendor)"
            ))
        })?;
    Ok(signed_at)
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

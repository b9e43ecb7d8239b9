//! Requests an instance signs with its own key: check-ins, and online sync key requests.
//!
//! The signature is Ed25519 over
//!
//! ```text
//! {context}\n{instance id}\n{X-Usagedesk-Timestamp value}\n{body bytes}
//! ```
//!
//! sent as `X-Usagedesk-Signature: ed25519 <standard base64 of the 64 signature bytes>`, with
//! `X-Usagedesk-Timestamp` an RFC 3339 time within 5 minutes of the cloud's clock. The context
//! (`usagedesk-check-in-v1`, `usagedesk-sync-key-request-v1`) keeps one kind of request's
//! signature from passing for another's; the instance id binds it to the URL.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use usagedesk_airgap::PublicKey;

use super::Refusal;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-usagedesk-signature";
/// The header carrying the time the instance signed at.
pub const TIMESTAMP_HEADER: &str = "x-usagedesk-timestamp";
/// How far the signed time may be from the cloud's clock, either way.
pub const MAX_SKEW: Duration = Duration::minutes(5);

/// The headers of a signed request, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct Signature<'a> {
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// The message an instance signs.
pub fn signed_message(context: &str, instance_id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut m =
        Vec::with_capacity(context.len() + instance_id.len() + timestamp.len() + body.len() + 3);
    for part in [context, instance_id, timestamp] {
        m.extend_from_slice(part.as_bytes());
        m.push(b'\n');
    }
    m.extend_from_slice(body);
    m
}

/// Checks the headers of a request (`what`, e.g. "check-in"): the time within [`MAX_SKEW`]
/// of `now`, the signature by `key` over the message of `context`. Returns the signed time.
/// Refusals are `401` and never name the key.
pub fn verify(
    context: &str,
    what: &str,
    key: &PublicKey,
    now: DateTime<Utc>,
    instance_id: &str,
    headers: Signature<'_>,
    body: &[u8],
) -> Result<DateTime<Utc>, Refusal> {
    let unauthorized = |m: String| Refusal::Unauthorized(m);
    let timestamp = headers.timestamp.ok_or_else(|| {
        unauthorized(format!(
            "the {what} has no {TIMESTAMP_HEADER} header: sign it with the instance's key as \
             docs/agent.md describes (usagedesk-agent does)"
        ))
    })?;
    let signature = headers.signature.ok_or_else(|| {
        unauthorized(format!(
            "the {what} has no {SIGNATURE_HEADER} header: sign it with the instance's key as \
             docs/agent.md describes (usagedesk-agent does)"
        ))
    })?;
    let signed_at = DateTime::parse_from_rfc3339(timestamp)
        .map_err(|_| {
            // The header's value is not repeated: it could be anything the client holds.
            unauthorized(format!(
                "{TIMESTAMP_HEADER} is not an RFC 3339 time such as 2026-03-01T09:00:00.000Z: \
                 sign the {what} as docs/agent.md describes"
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
            "the {what} was signed at {}, {} minutes {side} the cloud's clock ({}); at most 5 \
             minutes are allowed: set the instance's clock right (NTP) and try again",
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
        Refusal::Store(crate::storage::StoreError::other(format!(
            "a key of instance '{instance_id}' is not an Ed25519 key"
        )))
    })?;
    let message = signed_message(context, instance_id, timestamp, body);
    verifying
        .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&bytes))
        .map_err(|_| {
            unauthorized(format!(
                "the {what}'s signature does not verify with the instance's key: it was altered \
                 in transit, or signed by another key (a reinstalled instance needs its key \
                 reset by the vendor and its license file set up again)"
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
            signed_message("ctx-v1", "inst-1", "2026-03-01T09:00:00.000Z", b"{}"),
            b"ctx-v1\ninst-1\n2026-03-01T09:00:00.000Z\n{}".to_vec()
        );
    }
}

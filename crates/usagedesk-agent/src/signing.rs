//! How an instance signs its requests to the cloud: `{context}\n{instance id}\n{timestamp}\n
//! {body}` signed with the instance key, sent in two headers (`docs/agent.md`, "Check-ins").

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::state::State;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-usagedesk-signature";
/// The header carrying the time of signing.
pub const TIMESTAMP_HEADER: &str = "x-usagedesk-timestamp";
/// The first line of what the instance signs for a sync key request.
pub const SYNC_KEY_REQUEST_CONTEXT: &str = "usagedesk-sync-key-request-v1";

/// The message an instance signs for a request of kind `context`:
/// `{context}\n{instance id}\n{timestamp}\n{body}`.
pub fn signed_message_for(
    context: &str,
    instance_id: &str,
    timestamp: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + instance_id.len() + timestamp.len() + 48);
    for part in [
        context.as_bytes(),
        instance_id.as_bytes(),
        timestamp.as_bytes(),
    ] {
        m.extend_from_slice(part);
        m.push(b'\n');
    }
    m.extend_from_slice(body);
    m
}

/// The timestamp header's text for `now`: RFC 3339 UTC with milliseconds.
pub fn timestamp_text(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl State {
    /// Signs `body` of a request of kind `context` (e.g. `usagedesk-check-in-v1`) for the time
    /// `now`: the values of the timestamp and signature headers.
    pub(crate) fn sign_request(
        &self,
        context: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> (String, String) {
        let timestamp = timestamp_text(now);
        let key = ed25519_dalek::SigningKey::from_bytes(&self.key.to_bytes());
        let message = signed_message_for(context, &self.identity.instance_id, &timestamp, body);
        let signature = ed25519_dalek::Signer::sign(&key, &message);
        (
            timestamp,
            format!(
                "ed25519 {}",
                base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
            ),
        )
    }
}

//! What a check-in sends: the product's status (from a status file or flags), signed by the
//! instance key, and the cloud's receipt.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use usagedesk_domain::customer::{CheckIn, InstanceEvent, InstanceReport, InstanceStatus};

use crate::cloud::CloudClient;
use crate::error::{AgentError, Result};
use crate::fsutil::read_limited;
use crate::signing::{signed_message_for, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::state::State;

/// The first line of the signed message.
pub const SIGNING_CONTEXT: &str = "usagedesk-check-in-v1";
/// The largest status file read (the cloud accepts check-ins up to 64 KiB).
pub const MAX_STATUS_FILE_BYTES: u64 = 64 * 1024;
/// The cloud's answer to a check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInReceipt {
    /// The instance's report after the check-in; its `status` is the aggregate the cloud
    /// computed from the resources.
    pub report: InstanceReport,
    /// The events the check-in recorded: one per field whose value changed.
    pub events: Vec<InstanceEvent>,
}

/// The message an instance signs for a check-in.
pub fn signed_message(instance_id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    signed_message_for(SIGNING_CONTEXT, instance_id, timestamp, body)
}

/// Parses `name=state,name=state` (states: missing, unavailable, degraded, ready, updating;
/// empty text: no resources).
pub fn parse_resources(text: &str) -> Result<BTreeMap<String, InstanceStatus>> {
    let bad = |reason: String| AgentError::InvalidArgument {
        what: "resources",
        value: text.to_owned(),
        reason,
    };
    let mut out = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, state) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("`{part}` is not name=state (e.g. web=ready)")))?;
        let (name, state) = (name.trim(), state.trim());
        if name.is_empty() {
            return Err(bad(format!("`{part}` names no resource")));
        }
        let state: InstanceStatus = state
            .parse()
            .map_err(|e: usagedesk_domain::ParseError| bad(e.0))?;
        if out.insert(name.to_owned(), state).is_some() {
            return Err(bad(format!("resource `{name}` is given twice")));
        }
    }
    Ok(out)
}

/// Reads a status file: a [`CheckIn`] as JSON, at most 64 KiB. An empty `agent_version` is
/// filled with this agent's version.
pub fn read_status_file(path: &Path) -> Result<CheckIn> {
    let bytes = read_limited(path, MAX_STATUS_FILE_BYTES, "a status file")?;
    let mut check_in: CheckIn =
        serde_json::from_slice(&bytes).map_err(|e| AgentError::StatusFile {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
    fill_agent_version(&mut check_in);
    Ok(check_in)
}

/// Sets the cluster's `agent_version` to this agent's version when it is empty.
pub fn fill_agent_version(check_in: &mut CheckIn) {
    if check_in.cluster.agent_version.is_empty() {
        check_in.cluster.agent_version = env!("CARGO_PKG_VERSION").to_owned();
    }
}

impl State {
    /// Signs `body` (a check-in's JSON) for the time `now`: the two headers' values.
    pub(crate) fn sign_check_in(&self, body: &[u8], now: DateTime<Utc>) -> (String, String) {
        self.sign_request(SIGNING_CONTEXT, body, now)
    }

    /// Sends one check-in, signed at `now`.
    pub(crate) async fn check_in(
        &self,
        client: &CloudClient,
        check_in: &CheckIn,
        now: DateTime<Utc>,
    ) -> Result<CheckInReceipt> {
        let body = serde_json::to_vec(check_in).map_err(|e| AgentError::Protocol {
            url: client.base_url().to_owned(),
            step: "check-in",
            reason: format!("the check-in cannot be written as JSON: {e}"),
        })?;
        let (timestamp, signature) = self.sign_check_in(&body, now);
        let url = client.instance_url(&self.identity.instance_id, "check-in");
        client
            .post_bytes(
                url,
                body,
                &[(TIMESTAMP_HEADER, timestamp), (SIGNATURE_HEADER, signature)],
                "check-in",
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::timestamp_text;

    #[test]
    fn resources_parse_as_name_equals_state() {
        let r = parse_resources("web=ready, db=Degraded,queue=updating").unwrap();
        assert_eq!(r["web"], InstanceStatus::Ready);
        assert_eq!(r["db"], InstanceStatus::Degraded);
        assert_eq!(r.len(), 3);
        assert!(parse_resources("").unwrap().is_empty());
        for (bad, why) in [
            ("web", "not name=state"),
            ("=ready", "names no resource"),
            ("web=sleepy", "none of"),
            ("web=ready,web=degraded", "twice"),
        ] {
            let e = parse_resources(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn the_signed_message_matches_the_documented_layout() {
        assert_eq!(
            signed_message("inst-1", "2026-03-01T09:00:00.000Z", b"{}"),
            b"usagedesk-check-in-v1\ninst-1\n2026-03-01T09:00:00.000Z\n{}".to_vec()
        );
        let t = DateTime::parse_from_rfc3339("2026-03-01T10:00:00.5+01:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(timestamp_text(t), "2026-03-01T09:00:00.500Z");
    }
}

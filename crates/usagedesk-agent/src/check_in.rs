//! Check-ins (online mode): the instance tells the cloud its status, app version and cluster,
//! signed with its own key (`docs/agent.md`, "Check-ins").
//!
//! `POST {url}/api/v1/instances/{id}/check-in` with a [`CheckIn`] as the JSON body and two
//! headers:
//!
//! - `X-Usagedesk-Timestamp`: the time of signing, RFC 3339 UTC with milliseconds;
//! - `X-Usagedesk-Signature`: `ed25519 ` and the standard base64 of the Ed25519 signature of
//!   `usagedesk-check-in-v1\n{instance id}\n{timestamp}\n{body bytes}`.
//!
//! [`run_check_ins`] is the loop of `usagedesk-agent run`: a check-in on start, whenever what
//! the product reports changes, and every 4 hours; the clock and the sleeping are passed in.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use usagedesk_domain::customer::{CheckIn, InstanceEvent, InstanceReport, InstanceStatus};
use usagedesk_domain::Clock;

use crate::agent::Agent;
use crate::error::{AgentError, Result};
use crate::fsutil::read_limited;
use crate::online::CloudClient;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-usagedesk-signature";
/// The header carrying the time of signing.
pub const TIMESTAMP_HEADER: &str = "x-usagedesk-timestamp";
/// The first line of the signed message.
pub const SIGNING_CONTEXT: &str = "usagedesk-check-in-v1";
/// The largest status file read (the cloud accepts check-ins up to 64 KiB).
pub const MAX_STATUS_FILE_BYTES: u64 = 64 * 1024;
/// How often the loop checks in when nothing changes.
pub const CHECK_IN_INTERVAL: Duration = Duration::hours(4);

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
    crate::online::signed_message_for(SIGNING_CONTEXT, instance_id, timestamp, body)
}

/// The timestamp header's text for `now`: RFC 3339 UTC with milliseconds.
pub fn timestamp_text(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Millis, true)
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

impl Agent {
    /// Signs `body` (a check-in's JSON) for the time `now`: the two headers' values.
    pub fn sign_check_in(&self, body: &[u8], now: DateTime<Utc>) -> (String, String) {
        self.sign_request(SIGNING_CONTEXT, body, now)
    }

    /// Sends one check-in, signed at `now`.
    pub async fn check_in(
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

// ---- The loop ----

/// Why the loop checks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The loop started (until the first check-in succeeds).
    Start,
    /// What the product reports changed since the last check-in.
    Changed,
    /// The interval passed since the last check-in.
    Interval,
}

/// What the loop tells its caller.
#[derive(Debug)]
pub enum LoopEvent<'a> {
    /// A check-in was accepted.
    Sent {
        at: DateTime<Utc>,
        trigger: Trigger,
        receipt: &'a CheckInReceipt,
    },
    /// A check-in failed; the loop tries again after `retry_in`.
    Failed {
        at: DateTime<Utc>,
        trigger: Trigger,
        error: &'a AgentError,
        retry_in: Duration,
    },
    /// The status could not be read (reported once until it changes); no check-in is sent
    /// until it can be.
    StatusUnreadable {
        at: DateTime<Utc>,
        error: &'a AgentError,
    },
}

/// The loop's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopOptions {
    /// A check-in at least this often (4 hours).
    pub interval: Duration,
    /// How often the status is read to notice changes.
    pub poll: Duration,
    /// The first wait after a failed check-in; doubled after each failure up to `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
}

impl Default for LoopOptions {
    fn default() -> Self {
        Self {
            interval: CHECK_IN_INTERVAL,
            poll: Duration::seconds(15),
            retry_min: Duration::seconds(30),
            retry_max: Duration::minutes(15),
        }
    }
}

/// Sends check-ins (the cloud, or a stand-in in tests).
pub trait CheckInSender {
    fn send(
        &mut self,
        check_in: &CheckIn,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<CheckInReceipt>>;
}

/// Waits (the real time, or a test's clock). Returns `false` to stop the loop.
pub trait Sleeper {
    fn sleep(&mut self, duration: Duration) -> impl Future<Output = bool>;
}

/// An agent and the cloud: the real [`CheckInSender`].
pub struct OnlineCheckIns<'a> {
    pub agent: &'a Agent,
    pub client: &'a CloudClient,
}

impl CheckInSender for OnlineCheckIns<'_> {
    async fn send(&mut self, check_in: &CheckIn, now: DateTime<Utc>) -> Result<CheckInReceipt> {
        self.agent.check_in(self.client, check_in, now).await
    }
}

/// Checks in on start, whenever the status `read_status` returns differs from the last one
/// sent (status, version or cluster), and when `options.interval` passed since the last
/// accepted check-in. The status is read every `options.poll`; a failed check-in is tried
/// again after a growing wait (the interval still counts from the last accepted one). Runs
/// until `sleeper` says stop.
pub async fn run_check_ins<S, Z, R, O>(
    sender: &mut S,
    sleeper: &mut Z,
    clock: &dyn Clock,
    mut read_status: R,
    options: &LoopOptions,
    mut observe: O,
) where
    S: CheckInSender,
    Z: Sleeper,
    R: FnMut() -> Result<CheckIn>,
    O: FnMut(LoopEvent<'_>),
{
    let mut last_sent: Option<(DateTime<Utc>, CheckIn)> = None;
    let mut retry: Option<(DateTime<Utc>, Duration)> = None;
    let mut last_error: Option<String> = None;
    loop {
        let now = clock.now();
        let mut wait = options.poll;
        match read_status() {
            Err(error) => {
                let text = error.to_string();
                if last_error.as_deref() != Some(text.as_str()) {
                    observe(LoopEvent::StatusUnreadable {
                        at: now,
                        error: &error,
                    });
                    last_error = Some(text);
                }
            }
            Ok(current) => {
                last_error = None;
                let trigger = match &last_sent {
                    None => Some(Trigger::Start),
                    Some((_, sent)) if *sent != current => Some(Trigger::Changed),
                    Some((at, _)) if now - *at >= options.interval => Some(Trigger::Interval),
                    Some(_) => None,
                };
                let due = retry.is_none_or(|(at, _)| now >= at);
                match trigger {
                    Some(trigger) if due => match sender.send(&current, now).await {
                        Ok(receipt) => {
                            observe(LoopEvent::Sent {
                                at: now,
                                trigger,
                                receipt: &receipt,
                            });
                            last_sent = Some((now, current));
                            retry = None;
                        }
                        Err(error) => {
                            let backoff = match retry {
                                None => options.retry_min,
                                Some((_, b)) => (b * 2).min(options.retry_max),
                            };
                            observe(LoopEvent::Failed {
                                at: now,
                                trigger,
                                error: &error,
                                retry_in: backoff,
                            });
                            retry = Some((now + backoff, backoff));
                        }
                    },
                    _ => {}
                }
            }
        }
        // Wake for the next poll, or earlier when a retry or the interval falls due.
        if let Some((at, _)) = retry {
            wait = wait.min(at - now);
        }
        if let Some((at, _)) = &last_sent {
            wait = wait.min(*at + options.interval - now);
        }
        let wait = wait.max(Duration::milliseconds(1));
        if !sleeper.sleep(wait).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

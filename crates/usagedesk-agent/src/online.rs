//! Online mode: the same exchange over HTTP, the cloud acting as the manager.
//!
//! 1. `POST {url}/api/v1/instances/{id}/sync-key` with [`OnlineSyncKeyRequest`] →
//!    [`OnlineSyncKeyResponse`]: a sync key, verified exactly like one carried by hand;
//! 2. `POST {url}/api/v1/instances/{id}/usage-data` with [`OnlineUsageData`] (the answer) →
//!    [`AirgapAccepted`], whose verification key is applied exactly like `airgap confirm`;
//! 3. again while records remain (a file holds at most 4 MiB).

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use usagedesk_domain::airgap_api::{
    AirgapAccepted, OnlineSyncKeyRequest, OnlineSyncKeyResponse, OnlineUsageData,
};
use usagedesk_domain::Clock;

use base64::Engine;
use chrono::{DateTime, Utc};

use crate::agent::Agent;
use crate::check_in::{timestamp_text, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::error::{AgentError, Result};
use crate::exchange::{Confirmation, Export, Via};

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

/// Largest response read: a sync key or a verification key is at most 16 KiB of armor.
const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// At most this many rounds in one push (each carries up to ~20,000 records).
const MAX_ROUNDS: usize = 10_000;

/// The cloud's online exchange endpoints.
#[derive(Debug, Clone)]
pub struct CloudClient {
    http: reqwest::Client,
    base: Url,
}

/// One round of a push: the file sent, and the cloud's confirmation of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushRound {
    pub export: Export,
    /// The cloud had accepted the same file before.
    pub replay: bool,
    pub confirmation: Confirmation,
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PushSummary {
    pub rounds: Vec<PushRound>,
    /// Records still waiting after the push (recorded meanwhile, or refused by the cloud).
    pub waiting: u64,
}

impl PushSummary {
    /// Records sent, over all rounds.
    pub fn records_sent(&self) -> u64 {
        self.rounds.iter().map(|r| r.export.records).sum()
    }

    /// The confirmed mark after the push, when any round ran.
    pub fn confirmed_mark(&self) -> Option<u64> {
        self.rounds.last().map(|r| r.confirmation.confirmed_mark)
    }
}

/// Checks a cloud URL: http or https, a host, no query or fragment; a trailing slash added.
pub fn parse_cloud_url(url: &str) -> Result<Url> {
    let bad = |reason: String| AgentError::BadUrl {
        url: url.to_owned(),
        reason,
    };
    let mut u = Url::parse(url.trim()).map_err(|e| bad(format!("{e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad(format!(
            "it must start with https:// (or http://), not {}://",
            u.scheme()
        )));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host name".into()));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(bad("it must not have a query (?…) or fragment (#…)".into()));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad("it must not carry a user name or password".into()));
    }
    if !u.path().ends_with('/') {
        let p = format!("{}/", u.path());
        u.set_path(&p);
    }
    Ok(u)
}

/// The error body every UsageDesk API error carries (`usagedesk_domain::api::ErrorBody`),
/// read with the code as text so that a code this build does not know still shows.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

impl CloudClient {
    /// A client for the cloud at `base_url`, with connect and request timeouts.
    pub fn new(base_url: &str) -> Result<Self> {
        let base = parse_cloud_url(base_url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("usagedesk-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AgentError::BadUrl {
                url: base_url.to_owned(),
                reason: format!("cannot set up HTTP: {e}"),
            })?;
        Ok(Self { http, base })
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// `{base}api/v1/instances/{instance_id}/{what}`, the id as one escaped path segment.
    pub(crate) fn instance_url(&self, instance_id: &str, what: &str) -> Url {
        let mut u = self.base.clone();
        if let Ok(mut segments) = u.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(["api", "v1", "instances", instance_id, what]);
        }
        u
    }

    /// Asks the cloud for a sync key for `agent`'s instance (`POST …/sync-key`), signed by
    /// its key at `now`, with its enrollment (the cloud takes the key on first contact only if
    /// the enrollment proves it, and ignores it afterwards).
    pub async fn request_sync_key(&self, agent: &Agent, now: DateTime<Utc>) -> Result<String> {
        let license = agent.license()?;
        let request = OnlineSyncKeyRequest {
            public_key: agent.public_key().to_string(),
            enrollment: Some(license.enrollment.to_json()),
        };
        let body = serde_json::to_vec(&request).map_err(|e| AgentError::Protocol {
            url: self.base.to_string(),
            step: "sync key request",
            reason: format!("the request cannot be written as JSON: {e}"),
        })?;
        let (timestamp, signature) = agent.sign_request(SYNC_KEY_REQUEST_CONTEXT, &body, now);
        let url = self.instance_url(agent.instance_id(), "sync-key");
        let r: OnlineSyncKeyResponse = self
            .post_bytes(
                url,
                body,
                &[(TIMESTAMP_HEADER, timestamp), (SIGNATURE_HEADER, signature)],
                "sync key request",
            )
            .await?;
        Ok(r.sync_key)
    }

    /// Sends a usage data file answering a sync key from the cloud (`POST …/usage-data`).
    pub async fn send_usage_data(
        &self,
        instance_id: &str,
        usage_data: &str,
    ) -> Result<AirgapAccepted> {
        let url = self.instance_url(instance_id, "usage-data");
        let body = OnlineUsageData {
            usage_data: usage_data.to_owned(),
        };
        self.post(url, &body, "usage data").await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        url: Url,
        body: &B,
        step: &'static str,
    ) -> Result<T> {
        let bytes = serde_json::to_vec(body).map_err(|e| AgentError::Protocol {
            url: self.base.to_string(),
            step,
            reason: format!("the request cannot be written as JSON: {e}"),
        })?;
        self.post_bytes(url, bytes, &[], step).await
    }

    /// POSTs `body` (JSON) with extra `headers`; reads the JSON answer or the API's error.
    pub(crate) async fn post_bytes<T: DeserializeOwned>(
        &self,
        url: Url,
        body: Vec<u8>,
        headers: &[(&'static str, String)],
        step: &'static str,
    ) -> Result<T> {
        let shown = self.base.to_string();
        let transport = |e: reqwest::Error| {
            let mut reason = if e.is_timeout() {
                "no answer in time".to_owned()
            } else {
                e.to_string()
            };
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                reason = s.to_string();
                source = s.source();
            }
            AgentError::Unreachable {
                url: shown.clone(),
                reason,
            }
        };
        let mut request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut resp = request.send().await.map_err(transport)?;
        let status = resp.status();
        let protocol = |reason: String| AgentError::Protocol {
            url: shown.clone(),
            step,
            reason,
        };
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(protocol("the response is too large".into()));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(protocol("the response is too large".into()));
            }
            bytes.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| protocol(format!("HTTP {status} with an unexpected body: {e}")));
        }
        Err(cloud_error(step, status, &bytes))
    }
}

/// A refusal from the cloud: its `ErrorBody` message, or the start of whatever it sent.
fn cloud_error(step: &'static str, status: StatusCode, bytes: &[u8]) -> AgentError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => AgentError::Cloud {
            step,
            status: status.as_u16(),
            code: body.error.code,
            message: body.error.message,
        },
        Err(_) => {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]);
            let text = text.trim();
            AgentError::Cloud {
                step,
                status: status.as_u16(),
                code: status
                    .canonical_reason()
                    .unwrap_or("error")
                    .to_lowercase()
                    .replace(' ', "_"),
                message: if text.is_empty() {
                    "the cloud gave no reason".into()
                } else {
                    text.to_owned()
                },
            }
        }
    }
}

impl Agent {
    /// Signs `body` of a request of kind `context` (e.g. `usagedesk-check-in-v1`) for the time
    /// `now`: the values of the timestamp and signature headers.
    pub fn sign_request(&self, context: &str, body: &[u8], now: DateTime<Utc>) -> (String, String) {
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

    /// Answers the sync key the cloud sent (like [`Agent::export_for`], marked as online).
    pub fn export_online(&mut self, sync_key: &[u8], now: DateTime<Utc>) -> Result<Export> {
        self.export(sync_key, now, Via::Online)
    }

    /// The exchange with the cloud: asks for a sync key, answers it, applies the cloud's
    /// verification key; again while records remain. Every file is checked as in the
    /// air-gapped exchange: the cloud is trusted only through the vendor key.
    pub async fn push(&mut self, client: &CloudClient, clock: &dyn Clock) -> Result<PushSummary> {
        self.license()?;
        let instance_id = self.identity.instance_id.clone();
        let mut summary = PushSummary::default();
        for _ in 0..MAX_ROUNDS {
            let sync_key = client.request_sync_key(self, clock.now()).await?;
            let export = self.export_online(sync_key.as_bytes(), clock.now())?;
            let accepted = client.send_usage_data(&instance_id, &export.text).await?;
            let confirmation = self.confirm(accepted.verification_key.as_bytes(), clock.now())?;
            let progressed = confirmation.accepted_mark > export.above_mark;
            let remaining = export.remaining_records;
            summary.rounds.push(PushRound {
                export,
                replay: accepted.replay,
                confirmation,
            });
            if remaining == 0 {
                break;
            }
            if !progressed {
                return Err(AgentError::NoProgress {
                    mark: summary.rounds.last().map_or(0, |r| r.export.above_mark),
                    remaining,
                });
            }
        }
        summary.waiting = self.pending_count()?;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_are_accepted() {
        for ok in ["https://cloud.example", "http://127.0.0.1:8080/base"] {
            assert!(parse_cloud_url(ok).unwrap().path().ends_with('/'), "{ok}");
        }
        for (bad, why) in [
            ("ftp://cloud.example", "must start with https://"),
            ("file:///etc/passwd", "must start with https://"),
            ("cloud.example", "relative URL"),
            ("https://cloud.example/?x=1", "query"),
            ("https://user:pw@cloud.example", "user name"),
        ] {
            let e = parse_cloud_url(bad).unwrap_err();
            assert_eq!(e.code(), "bad_url");
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn instance_ids_are_one_escaped_path_segment() {
        // An id may hold `/`, `?` or spaces: it must not change the path.
        let c = CloudClient::new("https://cloud.example/base").unwrap();
        assert_eq!(
            c.instance_url("inst/1 ?x", "sync-key").as_str(),
            "https://cloud.example/base/api/v1/instances/inst%2F1%20%3Fx/sync-key"
        );
        let c = CloudClient::new("https://cloud.example").unwrap();
        assert_eq!(
            c.instance_url("inst-1", "usage-data").as_str(),
            "https://cloud.example/api/v1/instances/inst-1/usage-data"
        );
    }

    #[test]
    fn cloud_errors_show_the_message_of_the_domain_error_body() {
        // The cloud writes `usagedesk_domain::api::ErrorBody`; the agent must read it.
        let body = usagedesk_domain::api::ErrorBody {
            error: usagedesk_domain::api::ErrorDetail {
                code: usagedesk_domain::api::ErrorCode::Forbidden,
                message: "instance inst-1 is pinned to another key".into(),
            },
        };
        let bytes = serde_json::to_vec(&body).unwrap();
        let e = cloud_error("usage data", StatusCode::FORBIDDEN, &bytes);
        assert_eq!(
            e.to_string(),
            "the cloud refused the usage data (HTTP 403, forbidden): instance inst-1 is pinned \
             to another key"
        );
        // A code this build does not know, and a body that is no JSON, still show.
        let e = cloud_error(
            "sync key request",
            StatusCode::CONFLICT,
            br#"{"error":{"code":"instance_retired","message":"ask the vendor"}}"#,
        );
        assert!(
            e.to_string().contains("instance_retired): ask the vendor"),
            "{e}"
        );
        let e = cloud_error(
            "sync key request",
            StatusCode::BAD_GATEWAY,
            b"<html>bad gateway</html>",
        );
        assert!(
            e.to_string().contains("HTTP 502, bad_gateway): <html>"),
            "{e}"
        );
    }
}

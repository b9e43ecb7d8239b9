//! The HTTP client of the cloud's instance endpoints (`{url}/api/v1/instances/{id}/…`):
//! bounded answers, and the API's error bodies turned into [`AgentError::Cloud`].

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{AgentError, Result};

/// Largest response read: a sync key or a verification key is at most 16 KiB of armor.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The cloud's online exchange endpoints.
#[derive(Debug, Clone)]
pub struct CloudClient {
    http: reqwest::Client,
    base: Url,
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

    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
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

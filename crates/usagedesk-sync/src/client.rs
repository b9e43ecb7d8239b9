//! The HTTP client of the manager API.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use usagedesk_domain::airgap_api::{
    AirgapAccepted, AirgapUpload, CertificateRequest, CertificateResponse, VendorKey,
};
use usagedesk_domain::api::{
    ChangePage, ErrorBody, MonthlyUsageSummary, VersionInfo, WhoAmI, SERVICE_NAME,
};
use usagedesk_domain::feed_codec::PageHead;
use usagedesk_domain::{feed_codec, Scope, YearMonth, API_VERSION};

use crate::{RetryPolicy, SyncError};

/// A page of the change feed as received: its head read, its changes not yet decoded.
#[derive(Debug)]
pub struct RawPage {
    pub head: PageHead,
    body: Vec<u8>,
    compact: bool,
}

impl RawPage {
    /// The bytes received.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// Decodes the whole page (checked as a whole: the head alone proves nothing).
    pub fn decode(self) -> Result<ChangePage, SyncError> {
        if self.compact {
            feed_codec::decode_page(&self.body).map_err(|e| SyncError::Protocol(e.to_string()))
        } else {
            serde_json::from_slice(&self.body).map_err(|e| SyncError::Protocol(e.to_string()))
        }
    }
}

/// The fields of a JSON page a client needs before decoding it (the rest is skipped).
#[derive(serde::Deserialize)]
struct JsonHead {
    next_cursor: String,
    has_more: bool,
    #[serde(default)]
    remaining: Option<u64>,
    /// Counted, not kept.
    changes: Vec<serde::de::IgnoredAny>,
}

/// Largest response body read (bytes): a full page of 20,000 changes is far below this.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// A `Retry-After` longer than this is not waited out inside one call: the error goes back
/// to the caller, which tries again later (the outbox keeps the time).
const MAX_INLINE_WAIT: Duration = Duration::from_secs(15);

/// How a client may reach its cloud.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientOptions {
    /// Allow `http://` to a host other than this computer (the token then crosses the network
    /// unencrypted). Off: remote clouds must be `https://`.
    pub allow_insecure_http: bool,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: String,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is never printed.
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// `url` with any `user:password@` masked, for messages.
fn shown(url: &str) -> String {
    let url = url.trim();
    let Some(scheme_end) = url.find("://") else {
        return url.chars().take(200).collect();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let shown = match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}://[redacted]@{}", &url[..scheme_end], &rest[at + 1..]),
        None => url.to_string(),
    };
    shown.chars().take(200).collect()
}

/// Whether `host` is this computer: `localhost` or a loopback address.
fn is_loopback(u: &Url) -> bool {
    let Some(host) = u.host_str() else {
        return false;
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks and normalises a cloud URL: `https://` (`http://` only to this computer, or with
/// `allow_insecure_http`), a host, no user name or password, no query; a trailing slash added.
pub fn parse_base_url(url: &str, options: ClientOptions) -> Result<Url, SyncError> {
    let bad = |reason: &str| SyncError::BadUrl {
        url: shown(url),
        reason: reason.to_string(),
    };
    let mut u = Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad("it must start with https://"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad(
            "it has a user name or password in it (user:password@); remove them: the cloud \
             takes only the API token, which is kept in the keyring",
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host name"));
    }
    if u.scheme() == "http" && !is_loopback(&u) && !options.allow_insecure_http {
        return Err(bad(
            "plain http:// would send the token unencrypted; use https://, or (only on a network \
             you trust) allow it explicitly with --allow-insecure-http",
        ));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(bad("it must not have a query or fragment"));
    }
    if !u.path().ends_with('/') {
        let p = format!("{}/", u.path());
        u.set_path(&p);
    }
    Ok(u)
}

impl Client {
    /// A client of the cloud at `base_url` ([`parse_base_url`] with the default options).
    pub fn new(base_url: &str, token: &str) -> Result<Self, SyncError> {
        Self::new_with(base_url, token, ClientOptions::default())
    }

    pub fn new_with(
        base_url: &str,
        token: &str,
        options: ClientOptions,
    ) -> Result<Self, SyncError> {
        let base = parse_base_url(base_url, options)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("usagedesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::Protocol(e.to_string()))?;
        Ok(Self {
            http,
            base,
            token: token.trim().to_string(),
            retry: RetryPolicy::default(),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    fn url(&self, path: &str) -> Result<Url, SyncError> {
        self.base.join(path).map_err(|e| SyncError::BadUrl {
            url: format!("{}{path}", self.base),
            reason: e.to_string(),
        })
    }

    /// GETs `path` (relative to the base URL) and decodes JSON, retrying transient failures.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        auth: bool,
    ) -> Result<T, SyncError> {
        let url = self.url(path)?;
        self.with_retries(|| {
            let mut req = self.http.get(url.clone()).query(query);
            if auth {
                req = req.bearer_auth(&self.token);
            }
            self.send_once(req)
        })
        .await
    }

    /// POSTs `body` as JSON to `path` with the token and decodes the JSON answer, retrying
    /// transient failures (the endpoints posted to are idempotent).
    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, SyncError> {
        let url = self.url(path)?;
        self.with_retries(|| {
            self.send_once(
                self.http
                    .post(url.clone())
                    .bearer_auth(&self.token)
                    .json(body),
            )
        })
        .await
    }

    async fn with_retries<T, F, Fut>(&self, mut attempt_once: F) -> Result<T, SyncError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, SyncError>>,
    {
        let mut attempt = 1;
        loop {
            match attempt_once().await {
                Err(e)
                    if e.is_transient()
                        && attempt < self.retry.attempts
                        && e.retry_after().is_none_or(|w| w <= MAX_INLINE_WAIT) =>
                {
                    tracing::warn!(
                        "{e}; retrying (attempt {} of {})",
                        attempt + 1,
                        self.retry.attempts
                    );
                    // Never sooner than the cloud asked.
                    let pause = self
                        .retry
                        .delay(attempt)
                        .max(e.retry_after().unwrap_or_default());
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn send_once<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, SyncError> {
        let (_, bytes) = self.fetch(req).await?;
        serde_json::from_slice(&bytes).map_err(|e| SyncError::Protocol(e.to_string()))
    }

    /// Sends `req`; on success the answer's content type and body, otherwise the error the
    /// body names.
    async fn fetch(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(Option<String>, Vec<u8>), SyncError> {
        let mut resp = req.send().await.map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(24 * 3600)));
        let too_large = || {
            SyncError::Protocol(format!(
                "the answer is larger than {} MB, more than any answer of the API",
                MAX_RESPONSE_BYTES >> 20
            ))
        };
        if resp
            .content_length()
            .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
        {
            return Err(too_large());
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // Read piece by piece, so a body without (or with a false) length stops at the limit.
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport_error(e))? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return Ok((content_type, bytes));
        }
        let body: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        let (code, message) = match body {
            Some(b) => (Some(b.error.code), b.error.message),
            None => (
                None,
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
            ),
        };
        if status == StatusCode::UNAUTHORIZED {
            return Err(SyncError::Unauthorized { message });
        }
        Err(SyncError::Api {
            status: status.as_u16(),
            code,
            message,
            retry_after,
        })
    }

    fn transport_error(&self, e: reqwest::Error) -> SyncError {
        let url = self.base.to_string();
        // Messages name the base URL only, never a request's URL (its query included).
        let e = e.without_url();
        if e.is_timeout() {
            SyncError::Timeout { url }
        } else if e.is_connect() || e.is_request() || e.is_body() {
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                reason = s.to_string();
                source = s.source();
            }
            SyncError::Unreachable { url, reason }
        } else {
            SyncError::Protocol(e.to_string())
        }
    }

    /// Checks that the URL is a UsageDesk cloud speaking our API version.
    pub async fn check_version(&self) -> Result<VersionInfo, SyncError> {
        let v: VersionInfo = self
            .get("api/v1/version", &[], false)
            .await
            .map_err(|e| match e {
                // A busy or rate-limiting cloud is still the cloud: say so, not "not UsageDesk".
                e if e.is_transient() => e,
                SyncError::Api { .. } | SyncError::Protocol(_) => SyncError::NotUsageDesk {
                    url: self.base.to_string(),
                },
                other => other,
            })?;
        if v.service != SERVICE_NAME {
            return Err(SyncError::NotUsageDesk {
                url: self.base.to_string(),
            });
        }
        if v.api_version != API_VERSION {
            return Err(SyncError::VersionMismatch {
                server: v.api_version,
                client: API_VERSION,
            });
        }
        Ok(v)
    }

    /// Who the token belongs to; fails with [`SyncError::Unauthorized`] for a bad token.
    pub async fn whoami(&self) -> Result<WhoAmI, SyncError> {
        self.get("api/v1/me", &[], true).await
    }

    /// A page of the change feed, in the compact encoding when the cloud offers it
    /// (`docs/feed-encoding.md`), else JSON.
    pub async fn changes(
        &self,
        cursor: Option<&str>,
        limit: usize,
        count: bool,
    ) -> Result<ChangePage, SyncError> {
        self.changes_raw(cursor, limit, count).await?.decode()
    }

    /// A page of the change feed as received, with its [`PageHead`] read: a sync fetches
    /// ahead with the cursor while earlier pages are still applied, and decodes each page
    /// ([`RawPage::decode`]) only when it comes next.
    pub async fn changes_raw(
        &self,
        cursor: Option<&str>,
        limit: usize,
        count: bool,
    ) -> Result<RawPage, SyncError> {
        let mut q = vec![("limit", limit.to_string())];
        if let Some(c) = cursor {
            q.push(("cursor", c.to_string()));
        }
        if count {
            q.push(("count", "true".into()));
        }
        let url = self.url("api/v1/changes")?;
        // The newest version of the compact encoding; a cloud that knows only version 1
        // answers version 1 (its plans then count users registered), one without the
        // encoding answers JSON.
        let accept = format!(
            "{}; version={}, application/json;q=0.5",
            feed_codec::MEDIA_TYPE,
            feed_codec::VERSION
        );
        self.with_retries(|| async {
            let req = self
                .http
                .get(url.clone())
                .query(&q)
                .bearer_auth(&self.token)
                .header(reqwest::header::ACCEPT, &accept);
            let (content_type, bytes) = self.fetch(req).await?;
            let compact = content_type
                .as_deref()
                .and_then(|t| t.split(';').next())
                .is_some_and(|t| t.trim() == feed_codec::MEDIA_TYPE);
            let head = if compact {
                feed_codec::decode_head(&bytes).map_err(|e| SyncError::Protocol(e.to_string()))?
            } else {
                let h: JsonHead = serde_json::from_slice(&bytes)
                    .map_err(|e| SyncError::Protocol(e.to_string()))?;
                PageHead {
                    next_cursor: h.next_cursor,
                    has_more: h.has_more,
                    remaining: h.remaining,
                    changes: h.changes.len() as u64,
                }
            };
            Ok(RawPage {
                head,
                body: bytes,
                compact,
            })
        })
        .await
    }

    pub async fn monthly_usage_summary(
        &self,
        account: &str,
        from: YearMonth,
        to: YearMonth,
        scope: Scope,
    ) -> Result<MonthlyUsageSummary, SyncError> {
        let mut url = self.url("api/v1/accounts/")?;
        url.path_segments_mut()
            .map_err(|_| SyncError::Protocol("base URL cannot have paths".into()))?
            .pop_if_empty()
            .push(account)
            .push("monthly-usage-summary");
        let rel = url.path().trim_start_matches(self.base.path()).to_string();
        self.get(
            &rel,
            &[
                ("from", from.to_string()),
                ("to", to.to_string()),
                ("scope", scope.to_string()),
            ],
            true,
        )
        .await
    }

    /// The vendor's root public key (no token needed).
    pub async fn vendor_key(&self) -> Result<VendorKey, SyncError> {
        self.get("api/v1/airgap/vendor-key", &[], false).await
    }

    /// Certifies this manager's delegated public key for the token's scope.
    pub async fn airgap_certificate(
        &self,
        req: &CertificateRequest,
    ) -> Result<CertificateResponse, SyncError> {
        self.post("api/v1/airgap/certificate", req).await
    }

    /// Hands a usage data file imported here (and the sync key it answers) to the cloud,
    /// which verifies both again before it ingests anything.
    pub async fn upload_airgap(&self, upload: &AirgapUpload) -> Result<AirgapAccepted, SyncError> {
        self.post("api/v1/airgap/imports", upload).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict(url: &str) -> Result<Url, SyncError> {
        parse_base_url(url, ClientOptions::default())
    }

    #[test]
    fn urls_are_checked_and_normalised() {
        assert_eq!(
            strict("http://127.0.0.1:8787").unwrap().as_str(),
            "http://127.0.0.1:8787/"
        );
        assert_eq!(
            strict("https://x.example/base").unwrap().as_str(),
            "https://x.example/base/"
        );
        for local in [
            "http://localhost:8787",
            "http://[::1]:8787",
            "http://127.1.2.3",
        ] {
            assert!(strict(local).is_ok(), "{local}: this computer may use http");
        }
        for bad in [
            "",
            "localhost:8787",
            "ftp://x.example",
            "https://x.example/?a=1",
            "not a url",
        ] {
            assert!(
                matches!(strict(bad), Err(SyncError::BadUrl { .. })),
                "{bad} must be refused"
            );
        }
    }

    #[test]
    fn remote_http_needs_an_explicit_allowance() {
        let e = strict("http://cloud.example").unwrap_err().to_string();
        assert!(
            e.contains("https://") && e.contains("--allow-insecure-http"),
            "{e}"
        );
        let allowed = ClientOptions {
            allow_insecure_http: true,
        };
        assert!(parse_base_url("http://cloud.example", allowed).is_ok());
        assert!(parse_base_url("http://10.0.0.5:8787", allowed).is_ok());
    }

    #[test]
    fn credentials_in_the_url_are_refused_and_never_shown() {
        for url in [
            "https://bob:hunter2@cloud.example",
            "https://bob@cloud.example/",
            "http://bob:hunter2@127.0.0.1:8787",
            "https://:hunter2@cloud.example",
        ] {
            let e = strict(url).unwrap_err().to_string();
            assert!(e.contains("user name or password"), "{url}: {e}");
            assert!(!e.contains("hunter2") && !e.contains("bob"), "{url}: {e}");
        }
        let unparsable = strict("https://bob:hun ter2@cl oud")
            .unwrap_err()
            .to_string();
        assert!(!unparsable.contains("hun ter2"), "{unparsable}");
    }

    #[test]
    fn the_token_is_not_printed() {
        let c = Client::new("http://127.0.0.1:1", "udk_secret").unwrap();
        assert!(!format!("{c:?}").contains("udk_secret"));
    }
}

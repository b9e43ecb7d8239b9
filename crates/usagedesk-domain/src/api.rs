//! Wire types of the manager and ingest API (`/api/v1`), shared by server and clients.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{Account, AccountMonthUsage, Plan, Scope, UsageCounts, YearMonth};

/// Largest request body the service accepts (bytes).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Largest number of snapshots in one ingest request.
pub const MAX_INGEST_SNAPSHOTS: usize = 10_000;
/// Page size bounds of the change feed.
pub const DEFAULT_PAGE_SIZE: usize = 5_000;
pub const MAX_PAGE_SIZE: usize = 20_000;
/// Largest month range of one summary request.
pub const MAX_SUMMARY_MONTHS: usize = 60;

/// `GET /api/v1/version` (no authentication).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionInfo {
    /// The service name, so a client can tell it reached UsageDesk and not something else.
    pub service: String,
    pub api_version: u32,
    pub server_version: String,
}

pub const SERVICE_NAME: &str = "usagedesk-cloud";

/// `GET /api/v1/me`: who the bearer token is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhoAmI {
    pub account_id: String,
    pub account_name: String,
    pub token_name: String,
    pub plans: Vec<Plan>,
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// An account was created or changed.
    Account(Account),
    /// A month-end row was created or changed.
    MonthUsage(MonthUsage),
    /// The account and its whole subtree left the token's view (deleted or moved away).
    Tombstone { account_id: String },
    /// An instance was registered or changed (its mark, key or last report).
    Instance(crate::Instance),
    /// A license was created or changed.
    License(crate::customer::License),
    /// An instance's latest check-in (status, version, cluster).
    InstanceReport(crate::customer::InstanceReport),
    /// A reported field of an instance changed.
    InstanceEvent(crate::customer::InstanceEvent),
    /// An install attempt was created or progressed.
    InstallAttempt(crate::customer::InstallAttempt),
}

/// The month-end value of one account for one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonthUsage {
    pub account_id: String,
    pub month: YearMonth,
    pub plan: String,
    /// The date of the daily snapshot the month-end value comes from.
    pub snapshot_date: NaiveDate,
    #[serde(flatten)]
    pub counts: UsageCounts,
}

/// `GET /api/v1/changes?cursor=C&limit=N&count=true`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangePage {
    pub changes: Vec<Change>,
    /// Pass back as `cursor` for the next page. Opaque.
    pub next_cursor: String,
    pub has_more: bool,
    /// Changes left after the given cursor, including this page (only with `count=true`).
    /// The service counts within the next so many positions of its feed (`serve
    /// --max-feed-count`, 200,000 by default), so on a longer feed this is a lower bound: when
    /// the next page could use it up and `has_more` is true, ask for a count again.
    pub remaining: Option<u64>,
    pub plans: Vec<Plan>,
    pub server_time: DateTime<Utc>,
}

/// `GET /api/v1/accounts/{id}/monthly-usage-summary?from=&to=&scope=`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonthlyUsageSummary {
    pub account_id: String,
    pub scope: Scope,
    pub from: YearMonth,
    pub to: YearMonth,
    pub plans: Vec<Plan>,
    /// One row per (account in scope, month): accounts in tree order, then by month.
    pub rows: Vec<AccountMonthUsage>,
}

/// A daily usage snapshot as an instance reports it. Counts are signed on the wire so that a
/// negative count gets a precise error instead of a generic parse failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DailySnapshot {
    pub account_id: String,
    pub date: NaiveDate,
    pub plan: String,
    pub users_registered: i64,
    pub users_with_token: i64,
    pub users_with_activity: i64,
}

/// `POST /api/v1/usage`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    pub snapshots: Vec<DailySnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestResponse {
    pub accepted: usize,
    /// Month-end rows that changed because of this request.
    pub months_changed: usize,
}

/// Machine-readable error codes. Clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 401: no token, or a token this cloud does not know.
    Unauthorized,
    /// 401: the token was revoked by the vendor's administrator; a new one is needed.
    TokenRevoked,
    /// 401: the token's validity ended; a new one is needed.
    TokenExpired,
    Forbidden,
    /// 403: the sync key's signing certificate was issued to a token that is now revoked.
    CertificateRevoked,
    NotFound,
    BadRequest,
    InvalidInput,
    PayloadTooLarge,
    /// 410: the cursor belongs to another dataset, or lies beyond the feed (a restored
    /// backup): start a full sync.
    CursorExpired,
    /// 408: the request (its body) did not arrive in time.
    RequestTimeout,
    /// 429 with `Retry-After`: too many requests from this address or for this instance.
    RateLimited,
    /// 503 with `Retry-After`: the service is at its concurrency limit or took too long.
    Busy,
    Internal,
    /// A code this build does not know (a newer service): go by the HTTP status.
    #[serde(other)]
    Unknown,
}

/// Every error response has this body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// A human sentence that says what went wrong and what to do.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccountStatus;

    #[test]
    fn changes_are_tagged_by_kind() {
        let c = Change::Account(Account {
            id: "a".into(),
            name: "A, Inc.".into(),
            parent_id: None,
            status: AccountStatus::Active,
            created_at: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        });
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["kind"], "account");
        assert_eq!(json["created_at"], "2024-01-02");
        let back: Change = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);

        let m = Change::MonthUsage(MonthUsage {
            account_id: "a".into(),
            month: "2024-01".parse().unwrap(),
            plan: "basic".into(),
            snapshot_date: NaiveDate::from_ymd_opt(2024, 1, 31).unwrap(),
            counts: UsageCounts::new(3, 2, 1),
        });
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(
            json["users_with_token"], 2,
            "counts are flattened into the row"
        );
        assert_eq!(serde_json::from_value::<Change>(json).unwrap(), m);
    }

    #[test]
    fn error_codes_are_snake_case_and_unknown_ones_still_parse() {
        let body: ErrorBody = serde_json::from_str(
            r#"{"error":{"code":"token_revoked","message":"ask for a new token"}}"#,
        )
        .unwrap();
        assert_eq!(body.error.code, ErrorCode::TokenRevoked);
        let newer: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"something_new","message":"m"}}"#).unwrap();
        assert_eq!(newer.error.code, ErrorCode::Unknown);
        assert_eq!(
            serde_json::to_value(ErrorCode::RateLimited).unwrap(),
            "rate_limited"
        );
    }

    #[test]
    fn ingest_refuses_unknown_fields() {
        let body = r#"{"snapshots":[{"account_id":"a","date":"2024-01-01","plan":"basic",
            "users_registered":1,"users_with_token":1,"users_with_activity":1,"extra":1}]}"#;
        assert!(serde_json::from_str::<IngestRequest>(body).is_err());
    }
}

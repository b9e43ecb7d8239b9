//! Endpoint handlers. Each one authenticates, validates, then calls storage on the blocking pool.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use usagedesk_domain::api::{
    ChangePage, IngestRequest, IngestResponse, MonthlyUsageSummary, VersionInfo, WhoAmI,
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_SUMMARY_MONTHS, SERVICE_NAME,
};
use usagedesk_domain::{Account, Scope, YearMonth, API_VERSION};

use super::error::ApiError;
use super::extract::{Caller, JsonBody, QueryParams};
use super::AppState;
use crate::storage::{TokenKind, TokenScope};
use crate::{ingest, summary};

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await?
}

pub async fn version() -> Json<VersionInfo> {
    Json(VersionInfo {
        service: SERVICE_NAME.into(),
        api_version: API_VERSION,
        server_version: env!("CARGO_PKG_VERSION").into(),
    })
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; the API lives under /api/v1")
}

pub async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        usagedesk_domain::api::ErrorCode::BadRequest,
        format!("this endpoint does not take {method}; the README lists each endpoint's method"),
    )
}

pub async fn me(State(s): State<AppState>, caller: Caller) -> Result<Json<WhoAmI>, ApiError> {
    let grant = caller.require(TokenKind::Manager)?.clone();
    blocking(move || {
        let (account_id, account_name) = match &grant.scope {
            TokenScope::All => ("*".to_string(), "All accounts".to_string()),
            TokenScope::Subtree(id) => {
                let a = s
                    .storage
                    .account(&grant.scope, id)?
                    .ok_or_else(|| ApiError::not_found("the token's account no longer exists"))?;
                (a.id, a.name)
            }
        };
        Ok(Json(WhoAmI {
            account_id,
            account_name,
            token_name: grant.name,
            plans: s.storage.plans()?.0,
        }))
    })
    .await
}

#[derive(Deserialize)]
pub struct ChangesQuery {
    cursor: Option<String>,
    limit: Option<usize>,
    #[serde(default)]
    count: bool,
}

pub async fn changes(
    State(s): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams<ChangesQuery>,
) -> Result<Json<ChangePage>, ApiError> {
    let grant = caller.require(TokenKind::Manager)?.clone();
    let limit = q.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let server_time = s.clock.now();
    blocking(move || {
        let page = s
            .storage
            .changes(&grant.scope, q.cursor.as_deref(), limit, q.count)?;
        Ok(Json(ChangePage {
            changes: page.changes,
            next_cursor: page.next_cursor,
            has_more: page.has_more,
            remaining: page.remaining,
            plans: s.storage.plans()?.0,
            server_time,
        }))
    })
    .await
}

pub async fn account(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Account>, ApiError> {
    let grant = caller.require(TokenKind::Manager)?.clone();
    blocking(move || {
        s.storage
            .account(&grant.scope, &id)?
            .map(Json)
            .ok_or_else(|| {
                ApiError::not_found(format!("no account '{id}' is visible to this token"))
            })
    })
    .await
}

#[derive(Deserialize)]
pub struct SummaryQuery {
    from: String,
    to: String,
    #[serde(default)]
    scope: Option<String>,
}

pub async fn summary(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<SummaryQuery>,
) -> Result<Json<MonthlyUsageSummary>, ApiError> {
    let grant = caller.require(TokenKind::Manager)?.clone();
    let from: YearMonth = q
        .from
        .parse()
        .map_err(|e: usagedesk_domain::ParseError| ApiError::bad_request(format!("from: {e}")))?;
    let to: YearMonth =
        q.to.parse()
            .map_err(|e: usagedesk_domain::ParseError| ApiError::bad_request(format!("to: {e}")))?;
    let scope: Scope = match q.scope.as_deref() {
        None => Scope::Own,
        Some(v) => v
            .parse()
            .map_err(|e: usagedesk_domain::ParseError| ApiError::bad_request(e.0))?,
    };
    if from > to {
        return Err(ApiError::bad_request(format!(
            "from ({from}) is after to ({to})"
        )));
    }
    let today = s.clock.today();
    if !to.is_completed(today) {
        return Err(ApiError::bad_request(format!(
            "{to} is not a completed month yet; the latest completed month is {}",
            YearMonth::last_completed(today)
        )));
    }
    if from.through(to).count() > MAX_SUMMARY_MONTHS {
        return Err(ApiError::bad_request(format!(
            "ask for at most {MAX_SUMMARY_MONTHS} months at a time"
        )));
    }
    blocking(move || {
        if s.storage.account(&grant.scope, &id)?.is_none() {
            return Err(ApiError::not_found(format!(
                "no account '{id}' is visible to this token"
            )));
        }
        let catalog = s.storage.plans()?;
        let subtree = s.storage.subtree(&id)?;
        let rows = s.storage.subtree_month_rows(&id, from, to)?;
        Ok(Json(MonthlyUsageSummary {
            rows: summary::summarize(&subtree, &rows, &catalog, scope, from, to),
            account_id: id,
            scope,
            from,
            to,
            plans: catalog.0,
        }))
    })
    .await
}

pub async fn ingest(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<IngestRequest>,
) -> Result<Json<IngestResponse>, ApiError> {
    let grant = caller.require(TokenKind::Ingest)?.clone();
    let today = s.clock.today();
    blocking(move || {
        let rows = ingest::validate(s.storage.as_ref(), &grant.scope, &req.snapshots, today)?;
        Ok(Json(s.storage.ingest(&rows)?))
    })
    .await
}

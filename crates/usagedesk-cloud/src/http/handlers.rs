//! Endpoint handlers. Each one authenticates, validates, then calls storage on the blocking pool.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use usagedesk_domain::api::ErrorBody;
use usagedesk_domain::api::{
    ChangePage, IngestRequest, IngestResponse, MonthlyUsageSummary, VersionInfo, WhoAmI,
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_SUMMARY_MONTHS, SERVICE_NAME,
};
use usagedesk_domain::{feed_codec, Account, Scope, YearMonth, API_VERSION};
use utoipa::IntoParams;

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

/// The service and the API version it speaks; no token.
#[utoipa::path(get, path = "/api/v1/version", tag = "service",
    responses((status = 200, description = "The service's name and versions", body = VersionInfo)))]
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

/// Who the token is: its account (`*` for every account), its name, the plan catalog.
#[utoipa::path(get, path = "/api/v1/me", tag = "manager", security(("token" = [])),
    responses(
        (status = 200, description = "The token's account and name", body = WhoAmI),
        (status = 404, description = "The token's account no longer exists", body = ErrorBody),
    ))]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// The `next_cursor` of the previous page; none for the first page.
    cursor: Option<String>,
    /// Changes per page.
    #[param(minimum = 1, maximum = 20_000, default = 5_000)]
    limit: Option<usize>,
    /// Also count the changes left after `cursor` (`remaining`).
    #[serde(default)]
    #[param(default = false)]
    count: bool,
}

/// The compact encoding's version the client asked for (`docs/feed-encoding.md`): the
/// highest `version=N` this build writes among the `Accept` entries naming the media type,
/// 1 for an entry without one; `None` when no entry names it.
fn wants_compact(headers: &HeaderMap) -> Option<u8> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| {
            let mut parts = t.split(';');
            if parts.next().unwrap_or("").trim() != feed_codec::MEDIA_TYPE {
                return None;
            }
            let asked = parts
                .filter_map(|p| p.trim().strip_prefix("version="))
                .filter_map(|v| v.trim().parse::<u8>().ok())
                .find(|v| feed_codec::VERSIONS.contains(v));
            Some(asked.unwrap_or(1))
        })
        .max()
}

/// One page of the change feed of the accounts the token sees.
#[utoipa::path(get, path = "/api/v1/changes", tag = "manager", security(("token" = [])),
    params(ChangesQuery),
    responses(
        (status = 200, description = "A page of changes and the cursor of the next: JSON, or the \
            compact encoding of docs/feed-encoding.md (`Content-Type: \
            application/x-usagedesk-changes; version=N`) when the request's `Accept` names it \
            (version 1, or 2 when asked with `version=2`)",
            content(
                (ChangePage = "application/json"),
                (String = "application/x-usagedesk-changes"),
            )),
        (status = 400, description = "A bad `limit` or cursor", body = ErrorBody),
        (status = 410, description = "The cursor belongs to another dataset or lies beyond the feed: start a full sync", body = ErrorBody),
    ))]
pub async fn changes(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    QueryParams(q): QueryParams<ChangesQuery>,
) -> Result<Response, ApiError> {
    let grant = caller.require(TokenKind::Manager)?.clone();
    let limit = q.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let server_time = s.clock.now();
    let compact = wants_compact(&headers);
    blocking(move || {
        let page = s
            .storage
            .changes(&grant.scope, q.cursor.as_deref(), limit, q.count)?;
        let page = ChangePage {
            changes: page.changes,
            next_cursor: page.next_cursor,
            has_more: page.has_more,
            remaining: page.remaining,
            plans: s.storage.plans()?.0,
            server_time,
        };
        let Some(version) = compact else {
            return Ok(Json(page).into_response());
        };
        // Encoded here, on the blocking pool, like the read.
        let body = feed_codec::encode_page_version(&page, version);
        Ok((
            [(
                header::CONTENT_TYPE,
                format!("{}; version={version}", feed_codec::MEDIA_TYPE),
            )],
            body,
        )
            .into_response())
    })
    .await
}

/// One account the token sees.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "manager", security(("token" = [])),
    params(("id" = String, Path, description = "The account's id")),
    responses(
        (status = 200, description = "The account", body = Account),
        (status = 404, description = "No such account in the token's view", body = ErrorBody),
    ))]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// The first month.
    #[param(value_type = YearMonth)]
    from: String,
    /// The last month, a completed one; at most 60 months after `from`.
    #[param(value_type = YearMonth)]
    to: String,
    /// The account only (`self`, the default), with its children, or its whole subtree.
    #[serde(default)]
    #[param(value_type = Option<Scope>)]
    scope: Option<String>,
}

/// Month-end usage of an account (and its children or subtree) with subtree totals per plan.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/monthly-usage-summary", tag = "manager",
    security(("token" = [])),
    params(("id" = String, Path, description = "The account's id"), SummaryQuery),
    responses(
        (status = 200, description = "One row per account in scope and month", body = MonthlyUsageSummary),
        (status = 400, description = "Bad months or scope, a month not completed yet, or more than 60 months", body = ErrorBody),
        (status = 404, description = "No such account in the token's view", body = ErrorBody),
    ))]
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

/// Daily usage snapshots, as an instance (or its relay) reports them; an ingest token.
#[utoipa::path(post, path = "/api/v1/usage", tag = "ingest", security(("token" = [])),
    request_body = IngestRequest,
    responses(
        (status = 200, description = "The snapshots were stored", body = IngestResponse),
        (status = 409, description = "The snapshots conflict with what is stored", body = ErrorBody),
        (status = 422, description = "A snapshot is not valid (unknown account or plan, negative count, future date, too many)", body = ErrorBody),
    ))]
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

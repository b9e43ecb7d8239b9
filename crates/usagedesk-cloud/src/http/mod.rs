//! The HTTP surface of the cloud service: `/api/v1`.

mod airgap;
mod customers;
mod error;
mod extract;
mod guard;
mod handlers;
mod rate;
mod redact;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use tower_http::trace::TraceLayer;
use usagedesk_domain::api::MAX_BODY_BYTES;
use usagedesk_domain::Clock;

pub use airgap::{max_upload_body_bytes, MAX_SMALL_BODY_BYTES};
pub use error::ApiError;
pub use guard::canonical as canonical_addr;
pub use redact::redact_secrets;

use crate::limits::Limits;
use crate::storage::Storage;

#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub limits: Arc<Limits>,
    guards: Arc<guard::Guards>,
}

impl AppState {
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>, limits: Arc<Limits>) -> Self {
        Self {
            guards: Arc::new(guard::Guards::new(&limits)),
            storage,
            clock,
            limits,
        }
    }
}

/// The routes, behind (outermost first) the request log, the rate limits, and the
/// concurrency limit with the body and request deadlines.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/version", get(handlers::version))
        .route("/api/v1/me", get(handlers::me))
        .route("/api/v1/changes", get(handlers::changes))
        .route("/api/v1/accounts/{id}", get(handlers::account))
        .route(
            "/api/v1/accounts/{id}/monthly-usage-summary",
            get(handlers::summary),
        )
        .route("/api/v1/usage", post(handlers::ingest))
        .route("/api/v1/airgap/vendor-key", get(airgap::vendor_key))
        .route(
            "/api/v1/airgap/certificate",
            post(airgap::certificate).layer(DefaultBodyLimit::max(airgap::MAX_SMALL_BODY_BYTES)),
        )
        .route(
            "/api/v1/airgap/imports",
            post(airgap::import).layer(DefaultBodyLimit::max(airgap::max_upload_body_bytes())),
        )
        .route(
            "/api/v1/instances/{id}/sync-key",
            post(airgap::online_sync_key)
                .layer(DefaultBodyLimit::max(airgap::MAX_SMALL_BODY_BYTES)),
        )
        .route(
            "/api/v1/instances/{id}/usage-data",
            post(airgap::online_usage_data)
                .layer(DefaultBodyLimit::max(airgap::max_upload_body_bytes())),
        )
        .route(
            "/api/v1/instances/{id}/check-in",
            post(customers::check_in).layer(DefaultBodyLimit::max(
                crate::customers::check_in::MAX_CHECK_IN_BYTES,
            )),
        )
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(from_fn_with_state(state.clone(), guard::admit))
        .layer(from_fn_with_state(state.clone(), guard::rate_limit))
        .layer(
            // The path only (a query is never logged), with anything secret-looking masked.
            TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
                tracing::debug_span!(
                    "request",
                    method = %req.method(),
                    path = %redact_secrets(req.uri().path())
                )
            }),
        )
        .with_state(state)
}

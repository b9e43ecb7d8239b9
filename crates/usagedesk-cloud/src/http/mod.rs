//! The HTTP surface of the cloud service: `/api/v1`.

mod airgap;
mod customers;
mod error;
mod extract;
mod guard;
mod handlers;
mod openapi;
mod rate;
mod redact;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::Router;
use tower_http::trace::TraceLayer;
use usagedesk_domain::api::MAX_BODY_BYTES;
use usagedesk_domain::Clock;

pub use airgap::{max_upload_body_bytes, MAX_SMALL_BODY_BYTES};
pub use error::ApiError;
pub use guard::canonical as canonical_addr;
pub use openapi::{openapi, DOCUMENT_PATH};
pub use redact::redact_secrets;

use crate::limits::Limits;
use crate::storage::Store;

#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub limits: Arc<Limits>,
    guards: Arc<guard::Guards>,
}

impl AppState {
    pub fn new(storage: Arc<dyn Store>, clock: Arc<dyn Clock>, limits: Arc<Limits>) -> Self {
        Self {
            guards: Arc::new(guard::Guards::new(&limits)),
            storage,
            clock,
            limits,
        }
    }
}

/// The routes (every one documented: `openapi.rs`), behind (outermost first) the request
/// log, the rate limits of this process, the concurrency limit with the body and request
/// deadlines, and the rate limits shared through the database.
pub fn router(state: AppState) -> Router {
    let (routes, _) = openapi::documented().split_for_parts();
    routes
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(from_fn_with_state(state.clone(), guard::shared_rate_limit))
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

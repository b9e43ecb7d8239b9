//! The customer-reporting endpoints: the instances' signed check-ins.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use usagedesk_domain::api::ErrorBody;
use usagedesk_domain::customer::CheckIn;

use super::error::ApiError;
use super::extract::SignedRequest;
use super::handlers::blocking;
use super::AppState;
use crate::customers::check_in::{self, CheckInReceipt, MAX_CHECK_IN_BYTES};

/// An instance's check-in (resource states, versions, cluster); no token: signed by the
/// instance's pinned key over `usagedesk-check-in-v1`, the id, the timestamp and the body
/// (docs/agent.md).
#[utoipa::path(post, path = "/api/v1/instances/{id}/check-in", tag = "instances",
    params(
        ("id" = String, Path, description = "The instance's id"),
        ("x-usagedesk-timestamp" = String, Header, description = "When the instance signed the check-in (RFC 3339), within 5 minutes of the cloud's clock"),
        ("x-usagedesk-signature" = String, Header, description = "`ed25519 <base64 signature>`"),
    ),
    request_body = CheckIn,
    responses(
        (status = 200, description = "The instance's report and the events the check-in recorded", body = CheckInReceipt),
        (status = 400, description = "The body could not be read", body = ErrorBody),
        (status = 401, description = "The signature or timestamp is missing, wrong or too far from the cloud's clock", body = ErrorBody),
        (status = 403, description = "The instance has no pinned key yet", body = ErrorBody),
        (status = 404, description = "No such instance", body = ErrorBody),
        (status = 409, description = "The check-in conflicts with what is stored", body = ErrorBody),
        (status = 413, description = "The check-in is larger than 64 KiB", body = ErrorBody),
        (status = 422, description = "The check-in is not valid", body = ErrorBody),
    ))]
pub async fn check_in(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CheckInReceipt>, ApiError> {
    let req = SignedRequest::read(&headers, body, || {
        format!(
            "the check-in is larger than {MAX_CHECK_IN_BYTES} bytes, the limit for a check-in: \
             report fewer resources"
        )
    })?;
    let now = s.clock.now();
    blocking(move || {
        Ok(Json(check_in::receive(
            s.storage.as_ref(),
            now,
            &id,
            req.signature(),
            &req.body,
        )?))
    })
    .await
}

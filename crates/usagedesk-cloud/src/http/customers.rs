//! The customer-reporting endpoints: the instances' signed check-ins.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use usagedesk_domain::api::ErrorCode;

use super::error::ApiError;
use super::handlers::blocking;
use super::AppState;
use crate::customers::check_in::{
    self, CheckInReceipt, Signature, MAX_CHECK_IN_BYTES, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};

/// `POST /api/v1/instances/{id}/check-in` (no token: signed by the instance's pinned key).
pub async fn check_in(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CheckInReceipt>, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                format!(
                    "the check-in is larger than {MAX_CHECK_IN_BYTES} bytes, the limit for a \
                     check-in: report fewer resources"
                ),
            )
        } else {
            ApiError::bad_request(format!("the body could not be read: {e}"))
        }
    })?;
    let header = |name: &str| -> Option<String> {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let timestamp = header(TIMESTAMP_HEADER);
    let signature = header(SIGNATURE_HEADER);
    let now = s.clock.now();
    blocking(move || {
        Ok(Json(check_in::receive(
            s.storage.as_ref(),
            now,
            &id,
            Signature {
                timestamp: timestamp.as_deref(),
                signature: signature.as_deref(),
            },
            &body,
        )?))
    })
    .await
}

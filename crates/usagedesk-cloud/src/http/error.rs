//! Every error leaves the service as `{"error":{"code":…,"message":…}}` with a 4xx/5xx status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use usagedesk_domain::api::{ErrorBody, ErrorCode, ErrorDetail};

use super::redact::redact_secrets;
use crate::airgap::Refusal;
use crate::ingest::IngestError;
use crate::storage::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Sent as `Retry-After` (whole seconds).
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidInput,
            message,
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, what)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Messages are written without secrets; this catches any that slipped through.
        let message = redact_secrets(&self.message).into_owned();
        if self.status.is_server_error() && self.code != ErrorCode::Busy {
            tracing::error!(code = ?self.code, "{message}");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message,
            },
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(after) = self.retry_after {
            let secs = super::rate::retry_after_secs(after);
            if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::CursorExpired | StoreError::CursorAhead => {
                Self::new(StatusCode::GONE, ErrorCode::CursorExpired, e.to_string())
            }
            StoreError::Unavailable(m) => {
                tracing::warn!("{m}");
                let mut busy = Self::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Busy, m);
                busy.retry_after = Some(std::time::Duration::from_secs(2));
                busy
            }
            StoreError::BadCursor(_) => Self::bad_request(e.to_string()),
            StoreError::NotFound(m) => Self::not_found(m),
            StoreError::Invalid(m) => Self::invalid(m),
            StoreError::Conflict(c) => {
                Self::new(StatusCode::CONFLICT, ErrorCode::InvalidInput, c.to_string())
            }
            other => {
                tracing::error!("storage: {other}");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal,
                    "the service failed to read its database; try again, and tell the operator if it persists",
                )
            }
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(e: Refusal) -> Self {
        match e {
            Refusal::NotFound(m) => Self::not_found(m),
            Refusal::Invalid(m) => Self::invalid(m),
            Refusal::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, m),
            Refusal::Unauthorized(m) => {
                Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, m)
            }
            Refusal::Conflict(m) => Self::new(StatusCode::CONFLICT, ErrorCode::InvalidInput, m),
            Refusal::TooLarge(m) => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, m)
            }
            Refusal::Revoked(m) => {
                Self::new(StatusCode::FORBIDDEN, ErrorCode::CertificateRevoked, m)
            }
            Refusal::Store(s) => s.into(),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Invalid(m) => Self::invalid(m),
            IngestError::Store(s) => s.into(),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        tracing::error!("worker task failed: {e}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error; try again",
        )
    }
}

//! Request extractors: bearer-token authentication and JSON bodies with JSON errors.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use usagedesk_domain::api::{ErrorCode, MAX_BODY_BYTES};

use super::error::ApiError;
use super::redact::without_quoted_values;
use super::AppState;
use crate::storage::{TokenGrant, TokenKind, TokenState};
use crate::tokens::{self, MAX_TOKEN_LEN};

/// A caller authenticated by `Authorization: Bearer <token>`.
pub struct Caller(pub TokenGrant);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized =
            |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, m);
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("no token: send 'Authorization: Bearer <token>'"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN)
            .ok_or_else(|| unauthorized("the Authorization header must be 'Bearer <token>'"))?;
        let hash = tokens::hash(token);
        let storage = state.storage.clone();
        let grant = tokio::task::spawn_blocking(move || storage.authenticate(hash)).await??;
        let Some(grant) = grant else {
            return Err(unauthorized(
                "this cloud does not know the token: check that it was copied whole, or ask \
                 your administrator for a new one",
            ));
        };
        let day = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
        match grant.state(state.clock.now()) {
            TokenState::Active => Ok(Caller(grant)),
            TokenState::Revoked => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::TokenRevoked,
                format!(
                    "the token {} ('{}') was revoked on {}: ask your administrator for a new \
                     token",
                    grant.id,
                    grant.name,
                    grant.revoked_at.as_ref().map(day).unwrap_or_default()
                ),
            )),
            TokenState::Expired => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::TokenExpired,
                format!(
                    "the token {} ('{}') expired on {}: ask your administrator for a new token",
                    grant.id,
                    grant.name,
                    grant.expires_at.as_ref().map(day).unwrap_or_default()
                ),
            )),
        }
    }
}

impl Caller {
    pub fn require(&self, kind: TokenKind) -> Result<&TokenGrant, ApiError> {
        if self.0.kind == kind {
            Ok(&self.0)
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                format!(
                    "this is a {} token; this endpoint needs a {} token",
                    self.0.kind.as_str(),
                    kind.as_str()
                ),
            ))
        }
    }
}

/// `axum::Json` with errors in the service's JSON error format.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(JsonRejection::BytesRejection(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    format!("the body is larger than {MAX_BODY_BYTES} bytes; split it into smaller requests"),
                ))
            }
            Err(JsonRejection::BytesRejection(_)) => Err(ApiError::bad_request(
                "the body could not be read to its end; send the request again",
            )),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::bad_request("send the body as JSON with 'Content-Type: application/json'"))
            }
            // The deserializer's message quotes the values it refused: they stay out.
            Err(e) => Err(ApiError::bad_request(format!(
                "the body is not valid: {}",
                without_quoted_values(&e.body_text())
            ))),
        }
    }
}

/// `axum::extract::Query` with errors in the service's JSON error format.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Self(v))
            .map_err(|e: QueryRejection| {
                ApiError::bad_request(format!(
                    "bad query parameters: {}",
                    without_quoted_values(&e.body_text())
                ))
            })
    }
}

/// The body and the signature headers of a request an instance signs with its key, owned so
/// that they can go to the blocking pool. `limit_text` completes "the request is larger than
/// N bytes, …" when the body is over the route's limit.
pub struct SignedRequest {
    pub body: axum::body::Bytes,
    timestamp: Option<String>,
    signature: Option<String>,
}

impl SignedRequest {
    pub fn read(
        headers: &axum::http::HeaderMap,
        body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
        limit_text: impl FnOnce() -> String,
    ) -> Result<Self, ApiError> {
        let body = body.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    limit_text(),
                )
            } else {
                ApiError::bad_request(format!("the body could not be read: {e}"))
            }
        })?;
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Ok(Self {
            body,
            timestamp: header(crate::airgap::signed_request::TIMESTAMP_HEADER),
            signature: header(crate::airgap::signed_request::SIGNATURE_HEADER),
        })
    }

    /// The signature headers as the verifier reads them.
    pub fn signature(&self) -> crate::airgap::signed_request::Signature<'_> {
        crate::airgap::signed_request::Signature {
            timestamp: self.timestamp.as_deref(),
            signature: self.signature.as_deref(),
        }
    }
}

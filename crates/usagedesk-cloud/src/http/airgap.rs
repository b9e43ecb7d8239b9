//! The air-gapped exchange's endpoints (`docs/airgap-format.md`, "Online endpoints").

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use rand::rngs::OsRng;
use usagedesk_airgap::FileKind;
use usagedesk_domain::airgap_api::{
    AirgapAccepted, AirgapUpload, CertificateRequest, CertificateResponse, OnlineSyncKeyRequest,
    OnlineSyncKeyResponse, OnlineUsageData, VendorKey,
};
use usagedesk_domain::api::{ErrorBody, ErrorCode};

use super::error::ApiError;
use super::extract::SignedRequest;
use super::extract::{Caller, JsonBody};
use super::handlers::blocking;
use super::AppState;
use crate::airgap::{imports, keys, online, Now};
use crate::storage::TokenKind;

/// The largest body of a request carrying a sync key and a usage data file: both at their
/// size limit, every byte escaped in JSON (`\n`, `\"`), and room for the rest.
pub fn max_upload_body_bytes() -> usize {
    2 * (FileKind::UsageData.max_bytes() + FileKind::SyncKey.max_bytes()) + 4096
}
/// The largest body of the small requests (a key and a subject).
pub const MAX_SMALL_BODY_BYTES: usize = 16 * 1024;

/// What to do about an upload over the body limit.
const UPLOAD_REMEDY: &str = "a usage data file is at most 4194304 bytes and the agent keeps its \
    files under that limit; ask the customer to export the usage data file again";
/// What to do about a small request over its limit.
const SMALL_REMEDY: &str = "send only the fields the API documents";

/// The body, with a 413 that says what the limit is for and what to do.
fn body<T>(
    b: Result<JsonBody<T>, ApiError>,
    limit: usize,
    what: &str,
    remedy: &str,
) -> Result<T, ApiError> {
    match b {
        Ok(JsonBody(v)) => Ok(v),
        Err(e) if e.status == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("the request is larger than {limit} bytes, the limit for {what}: {remedy}"),
        )),
        Err(e) => Err(e),
    }
}

fn now(s: &AppState) -> Now {
    Now {
        now: s.clock.now(),
        today: s.clock.today(),
    }
}

/// The vendor root public key that signs every delegation certificate; no token.
#[utoipa::path(get, path = "/api/v1/airgap/vendor-key", tag = "airgap",
    responses((status = 200, description = "The vendor root public key", body = VendorKey)))]
pub async fn vendor_key(State(s): State<AppState>) -> Result<Json<VendorKey>, ApiError> {
    blocking(move || Ok(Json(keys::vendor_key(s.storage.as_ref())?))).await
}

/// Certifies a manager's delegated key for the token's scope (to sign sync keys offline).
#[utoipa::path(post, path = "/api/v1/airgap/certificate", tag = "airgap", security(("token" = [])),
    request_body = CertificateRequest,
    responses(
        (status = 200, description = "The delegation certificate", body = CertificateResponse),
        (status = 422, description = "The key or the subject is not valid", body = ErrorBody),
    ))]
pub async fn certificate(
    State(s): State<AppState>,
    caller: Caller,
    req: Result<JsonBody<CertificateRequest>, ApiError>,
) -> Result<Json<CertificateResponse>, ApiError> {
    let grant = caller.require(TokenKind::Manager)?.clone();
    let req = body(
        req,
        MAX_SMALL_BODY_BYTES,
        "a certificate request",
        SMALL_REMEDY,
    )?;
    let clock = now(&s);
    blocking(move || {
        Ok(Json(keys::certify_manager(
            s.storage.as_ref(),
            &grant,
            &req,
            clock.now,
        )?))
    })
    .await
}

/// A usage data file a manager imported, with the sync key it answers.
#[utoipa::path(post, path = "/api/v1/airgap/imports", tag = "airgap", security(("token" = [])),
    request_body = AirgapUpload,
    responses(
        (status = 200, description = "What the cloud made of the file", body = AirgapAccepted),
        (status = 404, description = "The file's instance is not registered", body = ErrorBody),
        (status = 409, description = "The file conflicts with what the instance reported before", body = ErrorBody),
        (status = 422, description = "A file is forged, cut short, expired, or not this manager's", body = ErrorBody),
    ))]
pub async fn import(
    State(s): State<AppState>,
    caller: Caller,
    req: Result<JsonBody<AirgapUpload>, ApiError>,
) -> Result<Json<AirgapAccepted>, ApiError> {
    let grant = caller.require(TokenKind::Manager)?.clone();
    let req = body(req, max_upload_body_bytes(), "an upload", UPLOAD_REMEDY)?;
    let clock = now(&s);
    blocking(move || {
        Ok(Json(imports::upload(
            s.storage.as_ref(),
            clock,
            &grant,
            &req,
            &mut OsRng,
        )?))
    })
    .await
}

/// A sync key for an online instance (the agent's online mode). No token: the request is
/// signed by the instance's key, and a first contact carries the enrollment its license file
/// makes (`docs/airgap-format.md`, "Online endpoints"; read by `online::issue_sync_key`).
#[utoipa::path(post, path = "/api/v1/instances/{id}/sync-key", tag = "instances",
    params(
        ("id" = String, Path, description = "The instance's id"),
        ("x-usagedesk-timestamp" = String, Header, description = "When the instance signed the request (RFC 3339), within 5 minutes of the cloud's clock"),
        ("x-usagedesk-signature" = String, Header, description = "`ed25519 <base64 signature>` of `usagedesk-sync-key-request-v1\\n{id}\\n{timestamp}\\n{body}` by the instance's key"),
    ),
    request_body = OnlineSyncKeyRequest,
    responses(
        (status = 200, description = "An armored sync key", body = OnlineSyncKeyResponse),
        (status = 401, description = "The signature or timestamp is missing, wrong or too far from the cloud's clock", body = ErrorBody),
        (status = 403, description = "The instance is air-gapped, or a first contact without a valid enrollment", body = ErrorBody),
        (status = 404, description = "No such instance", body = ErrorBody),
        (status = 409, description = "Another key was pinned for the instance at the same time", body = ErrorBody),
        (status = 422, description = "The public key or the enrollment is not valid", body = ErrorBody),
    ))]
pub async fn online_sync_key(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    req: Result<Bytes, BytesRejection>,
) -> Result<Json<OnlineSyncKeyResponse>, ApiError> {
    let req = SignedRequest::read(&headers, req, || {
        format!(
            "the request is larger than {MAX_SMALL_BODY_BYTES} bytes, the limit for a sync key \
             request: {SMALL_REMEDY}"
        )
    })?;
    let clock = now(&s);
    blocking(move || {
        Ok(Json(online::issue_sync_key(
            s.storage.as_ref(),
            clock,
            &id,
            req.signature(),
            &req.body,
            &mut OsRng,
        )?))
    })
    .await
}

/// A usage data file answering an online sync key; no token: signed by the instance's key.
#[utoipa::path(post, path = "/api/v1/instances/{id}/usage-data", tag = "instances",
    params(("id" = String, Path, description = "The instance's id")),
    request_body = OnlineUsageData,
    responses(
        (status = 200, description = "What the cloud made of the file", body = AirgapAccepted),
        (status = 403, description = "The file is not signed by the instance's pinned key", body = ErrorBody),
        (status = 404, description = "No such instance", body = ErrorBody),
        (status = 409, description = "The file conflicts with what the instance reported before", body = ErrorBody),
        (status = 422, description = "The file is forged, cut short, expired or answers another sync key", body = ErrorBody),
    ))]
pub async fn online_usage_data(
    State(s): State<AppState>,
    Path(id): Path<String>,
    req: Result<JsonBody<OnlineUsageData>, ApiError>,
) -> Result<Json<AirgapAccepted>, ApiError> {
    let req = body(
        req,
        max_upload_body_bytes(),
        "a usage data upload",
        UPLOAD_REMEDY,
    )?;
    let clock = now(&s);
    blocking(move || {
        Ok(Json(online::receive(
            s.storage.as_ref(),
            clock,
            &id,
            &req,
            &mut OsRng,
        )?))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upload_remedy_names_the_real_limit() {
        assert!(UPLOAD_REMEDY.contains(&FileKind::UsageData.max_bytes().to_string()));
        assert!(max_upload_body_bytes() > 2 * FileKind::UsageData.max_bytes());
    }
}

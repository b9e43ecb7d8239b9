//! The OpenAPI 3.1 document of `/api/v1`, served at `GET /api/v1/openapi.json` without a token.
//!
//! The routes and the document come from one list, [`documented`]: each entry is a handler
//! with a `#[utoipa::path]` attribute (method, path, parameters, answers), and the wire types'
//! schemas come from their `ToSchema` derives. To add an endpoint, give its handler the
//! attribute and add `.routes(routes!(handler))` to [`documented`]. The answers any request
//! may get (rate limits, deadlines, authentication, body limits) are added to every operation
//! here, by [`add_common_responses`].

use std::sync::OnceLock;

use axum::extract::DefaultBodyLimit;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use usagedesk_domain::api::ErrorBody;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder};
use utoipa::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::{airgap, customers, handlers, AppState};

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";

/// The name of the bearer-token security scheme the operations refer to.
const TOKEN_SCHEME: &str = "token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "UsageDesk cloud API",
        description = "The manager API (accounts, change feed, usage summaries, air-gapped \
            exchange), the ingest endpoint, and the endpoints customer instances call. Every \
            error answer is `{\"error\": {\"code\", \"message\"}}`; clients branch on `code`. \
            See docs/api.md.",
        license(name = "Proprietary")
    ),
    tags(
        (name = "service", description = "About the service; no token"),
        (name = "manager", description = "The manager API; a manager token"),
        (name = "ingest", description = "Usage snapshots from the vendor's relay; an ingest token"),
        (name = "airgap", description = "The air-gapped exchange (docs/airgap-format.md)"),
        (name = "instances", description = "Called by customer instances; no token, the instance's key"),
    ),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// Every documented route, each with its own body limit where it differs from the default.
pub(super) fn documented() -> OpenApiRouter<AppState> {
    let small = DefaultBodyLimit::max(airgap::MAX_SMALL_BODY_BYTES);
    let upload = DefaultBodyLimit::max(airgap::max_upload_body_bytes());
    let check_in = DefaultBodyLimit::max(crate::customers::check_in::MAX_CHECK_IN_BYTES);
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(document))
        .routes(routes!(handlers::version))
        .routes(routes!(handlers::me))
        .routes(routes!(handlers::changes))
        .routes(routes!(handlers::account))
        .routes(routes!(handlers::summary))
        .routes(routes!(handlers::ingest))
        .routes(routes!(airgap::vendor_key))
        .routes(routes!(airgap::certificate).layer(small))
        .routes(routes!(airgap::import).layer(upload))
        .routes(routes!(airgap::online_sync_key).layer(small))
        .routes(routes!(airgap::online_usage_data).layer(upload))
        .routes(routes!(customers::check_in).layer(check_in))
}

/// The document: every route of [`documented`] with the answers common to all.
pub fn openapi() -> Document {
    let mut doc = documented().into_openapi();
    add_common_responses(&mut doc);
    doc
}

/// The document as served, built once.
fn document_json() -> &'static [u8] {
    static JSON: OnceLock<Vec<u8>> = OnceLock::new();
    JSON.get_or_init(|| {
        // Maps and strings built by the code, not input: this cannot fail (and the tests
        // fetch the document).
        serde_json::to_vec(&openapi()).expect("the OpenAPI document serializes")
    })
}

/// This document; no token (it holds no data, and clients generate code from it).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "service",
    responses((status = 200, description = "This document (OpenAPI 3.1)",
        content_type = "application/json", body = Object)))]
pub async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], document_json())
}

fn error(description: &str) -> Response {
    error_with(description, false)
}

/// An error answer, with `Retry-After` when `retry` is set.
fn error_with(description: &str, retry: bool) -> Response {
    let mut r = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    if retry {
        r = r.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                ))
                .description(Some("Seconds to wait before trying again"))
                .build(),
        );
    }
    r.build()
}

fn add(op: &mut Operation, status: &str, response: Response) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert(RefOr::T(response));
}

/// The answers of the layers every request passes (`guard.rs`), of authentication for the
/// operations that take a token, and of the JSON body extractor for those that take a body;
/// plus the bearer-token scheme.
fn add_common_responses(doc: &mut Document) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        TOKEN_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "A token from `usagedesk-cloud token create`: a manager token (scoped to \
                     an account's subtree or to every account) or an ingest token",
                ))
                .build(),
        ),
    );
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            if secured {
                add(
                    op,
                    "401",
                    error("No token, an unknown one, or a revoked or expired one"),
                );
                add(
                    op,
                    "403",
                    error("The token's kind cannot use this endpoint"),
                );
            }
            if op.request_body.is_some() {
                add(
                    op,
                    "400",
                    error("The body is not JSON of the documented shape"),
                );
                add(
                    op,
                    "413",
                    error("The body is larger than this endpoint's limit"),
                );
            }
            add(op, "408", error("The request body did not arrive in time"));
            add(
                op,
                "429",
                error_with(
                    "Too many requests from this address or for this instance",
                    true,
                ),
            );
            add(op, "500", error("The service failed; try again"));
            add(
                op,
                "503",
                error_with(
                    "The service is at its concurrency limit or took too long",
                    true,
                ),
            );
        }
    }
}

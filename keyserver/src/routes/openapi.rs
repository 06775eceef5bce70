//! The OpenAPI document, served at `/openapi.json`.

use actix_web::{HttpResponse, get};
use utoipa::openapi::header::Header;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::documents::{access, content, create, grants, list, rewrap, unwrap};
use super::{admin, health, keys, me};
use crate::error::{ErrorBody, ErrorDetail};
use crate::{lifecycle, store};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The answers an operation can give whatever it does, added to each one
/// that does not document them itself, all with the error body. Every
/// authenticated operation (`bearer` security: the `/v1` scope and
/// `/metrics`): the token check runs before the route (401, and 503 when the
/// database cannot be asked) and any route can fail inside (500, the cause
/// logged). The `/v1` scope: the rate limits answer before the token is even
/// looked up (429). An operation that reads a body: a body that stops
/// arriving (408).
struct CommonResponses;

/// Which operations answer a common response.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Authenticated,
    V1,
    WithBody,
}

const COMMON_RESPONSES: &[(Scope, &str, &str)] = &[
    (
        Scope::Authenticated,
        "401",
        "missing_token, invalid_token, token_expired, token_revoked: no, a malformed, an unknown, an expired or a revoked bearer token",
    ),
    (
        Scope::WithBody,
        "408",
        "body_timeout: the request body stopped arriving; the connection is closed",
    ),
    (
        Scope::V1,
        "429",
        "rate_limited: over the per-address or per-token rate; retry after `Retry-After` seconds",
    ),
    (
        Scope::Authenticated,
        "500",
        "internal_error (storage_error for stored content): the cause is logged, never shown",
    ),
    (
        Scope::Authenticated,
        "503",
        "database_unavailable: the token could not be checked; try again later",
    ),
];

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for op in operations.into_iter().flatten() {
                let answers = |scope| match scope {
                    Scope::Authenticated => authenticated(op),
                    Scope::V1 => path.starts_with("/v1/"),
                    Scope::WithBody => op.request_body.is_some(),
                };
                let common: Vec<_> = COMMON_RESPONSES
                    .iter()
                    .filter(|(scope, _, _)| answers(*scope))
                    .collect();
                for (_, status, description) in common {
                    op.responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| error_response(description));
                }
                // Every 401 names the scheme (`ApiError::error_response`),
                // every 429 the wait (`rate_limit::limit`).
                for (status, name, header) in [
                    ("401", "WWW-Authenticate", www_authenticate()),
                    ("429", "Retry-After", retry_after()),
                ] {
                    if let Some(RefOr::T(response)) = op.responses.responses.get_mut(status) {
                        response.headers.insert(name.to_owned(), header);
                    }
                }
            }
        }
    }
}

fn authenticated(op: &Operation) -> bool {
    op.security.as_ref().is_some_and(|s| !s.is_empty())
}

/// `WWW-Authenticate: Bearer`.
fn www_authenticate() -> Header {
    let mut header = Header::new(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["Bearer"])),
    );
    header.description = Some("`Bearer`: the scheme this API takes".to_owned());
    header
}

/// `Retry-After: SECONDS`.
fn retry_after() -> Header {
    let mut header = Header::new(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1)),
    );
    header.description = Some("Whole seconds to wait before the next request".to_owned());
    header
}

/// A response with the error body.
fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// The key server's API.
#[derive(OpenApi)]
#[openapi(
    info(title = "pqfile key server", description = "Pooled ML-KEM-768 keys, KMS-wrapped private keys, authorized unwrap (FORMAT.md §7)."),
    paths(
        create::create_document, unwrap::unwrap_document, list::list_documents,
        access::access_history, keys::get_key, me::me,
        rewrap::rewrap_document, grants::create_grant, grants::delete_grant, grants::list_grants,
        content::put_content, content::get_content,
        admin::keys::list_keys, admin::keys::revoke_key, admin::rotations::run_rotation,
        admin::rotations::list_rotations, admin::maintenance::run_maintenance, admin::stats::stats,
        admin::maintenance::retention, admin::access_logs::access_logs, admin::audit::verify_audit_log,
        health::healthz, health::readyz, health::metrics,
    ),
    components(schemas(
        create::CreatedDocument, create::KeyRef, unwrap::UnwrapRequest, unwrap::UnwrapResponse,
        list::DocumentList, store::documents::DocumentSummary, access::AccessHistory, store::access_logs::AccessEntry,
        store::keys::KeyInfo, me::Me, ErrorBody, ErrorDetail,
        rewrap::RewrapRequest, rewrap::RewrapResponse,
        grants::GrantRequest, grants::GrantCreated, store::grants::Grant, grants::GrantList,
        content::ContentStored,
        store::keys::AdminKey, admin::keys::AdminKeyList, admin::keys::Revoked, store::rotations::Rotation,
        admin::rotations::RotationList, store::stats::UsageStats, store::stats::DailyAccess,
        store::stats::UnusedKey, store::stats::TableSize, admin::stats::Stats,
        admin::maintenance::RetentionRequest, admin::maintenance::RetentionResult,
        store::access_logs::LogEntry, admin::access_logs::LogPage,
        lifecycle::RotationCheck, lifecycle::RotationStarted, lifecycle::RotationProgress,
        lifecycle::MaintenanceReport, crate::rewrap::StoredRewraps, store::stats::KeyStatistics,
        crate::audit_chain::verify::Report, crate::audit_chain::verify::Problem,
        crate::audit_chain::verify::ProblemKind,
    )),
    modifiers(&BearerAuth, &CommonResponses)
)]
pub struct ApiDoc;

/// The OpenAPI 3.1 document.
#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

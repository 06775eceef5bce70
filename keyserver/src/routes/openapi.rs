//! The OpenAPI document, served at `/openapi.json`.

use actix_web::{HttpResponse, get};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, content, documents, grants, health, keys, rewrap};
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

/// The key server's API.
#[derive(OpenApi)]
#[openapi(
    info(title = "pqfile key server", description = "Pooled ML-KEM-768 keys, KMS-wrapped private keys, authorized unwrap (FORMAT.md §7)."),
    paths(
        documents::create_document, documents::unwrap_document, documents::list_documents,
        documents::access_history, keys::get_key,
        rewrap::rewrap_document, grants::create_grant, grants::delete_grant, grants::list_grants,
        content::put_content, content::get_content,
        admin::list_keys, admin::revoke_key, admin::run_rotation, admin::list_rotations,
        admin::run_maintenance, admin::stats, admin::retention, admin::access_logs,
        health::healthz, health::readyz, health::metrics,
    ),
    components(schemas(
        documents::CreatedDocument, documents::KeyRef, documents::UnwrapRequest, documents::UnwrapResponse,
        documents::DocumentList, store::documents::DocumentSummary, documents::AccessHistory, store::access_logs::AccessEntry,
        store::keys::KeyInfo, ErrorBody, ErrorDetail,
        rewrap::RewrapRequest, rewrap::RewrapResponse,
        grants::GrantRequest, grants::GrantCreated, store::grants::Grant, grants::GrantList,
        content::ContentStored,
        store::keys::AdminKey, admin::AdminKeyList, admin::Revoked, store::rotations::Rotation, admin::RotationList,
        store::stats::UsageStats, store::stats::DailyAccess, store::stats::UnusedKey, store::stats::TableSize, admin::Stats,
        admin::RetentionRequest, admin::RetentionResult, store::access_logs::LogEntry, admin::LogPage,
        lifecycle::RotationCheck, lifecycle::RotationStarted, lifecycle::RotationProgress,
        lifecycle::MaintenanceReport,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// The OpenAPI 3.1 document.
#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

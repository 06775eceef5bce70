//! The OpenAPI document, served at `/openapi.json`.

use actix_web::{HttpResponse, get};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
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
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// The OpenAPI 3.1 document.
#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

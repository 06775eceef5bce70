//! `/v1/admin/audit/verify`: the audit log checked against its hash chain
//! and signed checkpoints (`audit_chain::verify`).

use actix_web::{HttpResponse, get};

use super::Admin;
use crate::audit_chain::key::AuditKeyError;
use crate::audit_chain::verify::{self, Report};
use crate::error::{ApiError, ErrorBody};

/// Verifies every audit row, the chain and every checkpoint signature, and
/// names the first row that was altered, deleted or inserted out of band.
#[utoipa::path(
    get, path = "/v1/admin/audit/verify", tag = "admin",
    responses(
        (status = 200, description = "The verdict (`ok` false: see `first_problem`)", body = Report),
        (status = 403, description = "admin_only", body = ErrorBody),
        (status = 503, description = "KMS unavailable (the signing key is pinned through it)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/admin/audit/verify")]
pub async fn verify_audit_log(admin: Admin) -> Result<HttpResponse, ApiError> {
    let state = admin.state();
    let client = state.db.get().await?;
    let report = verify::verify(&client, state.kms.as_ref())
        .await
        .map_err(|e| match e {
            verify::VerifyError::Key(AuditKeyError::Kms(k)) => ApiError::from(k),
            verify::VerifyError::Key(AuditKeyError::Db(d)) | verify::VerifyError::Db(d) => {
                ApiError::from(d)
            }
            verify::VerifyError::Key(k @ AuditKeyError::Mismatch(_)) => ApiError::internal(k),
        })?;
    // Audited as an admin read by `request_audit`.
    if !report.ok {
        tracing::error!(first = ?report.first_problem, "audit log verification failed");
    }
    Ok(HttpResponse::Ok().json(report))
}

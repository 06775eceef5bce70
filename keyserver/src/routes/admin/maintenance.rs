//! `/v1/admin/maintenance` and `/v1/admin/access-logs/retention`: running
//! the background work on demand.

use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Admin, invalid_query};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::lifecycle;

/// Runs expiry, the rotation check, rotation progress, the pool refill and
/// access-log retention once.
#[utoipa::path(
    post, path = "/v1/admin/maintenance", tag = "admin",
    responses((status = 200, body = lifecycle::MaintenanceReport), (status = 403, description = "admin_only", body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/admin/maintenance")]
pub async fn run_maintenance(admin: Admin) -> Result<HttpResponse, ApiError> {
    let state = admin.state();
    let report = state.maintenance().await?;
    admin.record_action(None).await;
    Ok(HttpResponse::Ok().json(report))
}

/// Body of a retention run.
#[derive(Deserialize, ToSchema)]
pub struct RetentionRequest {
    /// Delete rows older than this many days (default: the server's
    /// `access_log_retention_days`, 365).
    pub older_than_days: Option<i64>,
}

/// Answer to a retention run.
#[derive(Serialize, ToSchema)]
pub struct RetentionResult {
    /// Rows deleted.
    pub deleted: u64,
    /// The age used.
    pub older_than_days: u32,
    /// Partitions dropped (whole months of `access_logs` and `audit_chain`).
    pub partitions_dropped: Vec<String>,
}

/// Deletes access-log rows older than `older_than_days`.
#[utoipa::path(
    post, path = "/v1/admin/access-logs/retention", tag = "admin",
    request_body = RetentionRequest,
    responses((status = 200, body = RetentionResult), (status = 400, body = ErrorBody), (status = 403, description = "admin_only", body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/admin/access-logs/retention")]
pub async fn retention(
    body: Option<web::Json<RetentionRequest>>,
    admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let state = admin.state();
    let days = match body.and_then(|b| b.older_than_days) {
        None => state.settings.access_log_retention_days,
        Some(d) => u32::try_from(d)
            .ok()
            .filter(|d| *d <= 36_500)
            .ok_or_else(|| invalid_query("older_than_days must be between 0 and 36500"))?,
    };
    let floor = state.settings.access_log_retention_floor_days;
    if days < floor {
        return Err(
            ApiError::new(ErrorCode::RetentionBelowFloor).message(format!(
                "older_than_days is {days}; no retention deletes rows younger than {floor} days"
            )),
        );
    }
    // Its audit row is written in the transaction that deletes.
    let by = lifecycle::RetentionBy {
        user_id: Some(admin.user().id),
        client: admin.client(),
    };
    let key = state.audit.get();
    let done =
        lifecycle::apply_retention(state.settings.owner_url(), key.as_deref(), days, &by).await?;
    tracing::info!(deleted = done.deleted, days, partitions = ?done.partitions_dropped, "access-log retention");
    Ok(HttpResponse::Ok().json(RetentionResult {
        deleted: done.deleted,
        older_than_days: days,
        partitions_dropped: done.partitions_dropped,
    }))
}

//! `/v1/admin/maintenance` and `/v1/admin/access-logs/retention`: running
//! the background work on demand.

use actix_web::http::Version;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Admin, invalid_query};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::lifecycle;

/// Runs expiry, the rotation check, rotation progress, the pool refill and
/// access-log retention once.
#[utoipa::path(
    post, path = "/v1/admin/maintenance", tag = "admin",
    responses(
        (status = 200, body = lifecycle::MaintenanceReport),
        (status = 403, description = "admin_only", body = ErrorBody),
        (status = 503, description = "kms_unavailable: the pool could not be refilled", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/admin/maintenance")]
pub async fn run_maintenance(admin: Admin) -> Result<HttpResponse, ApiError> {
    let state = admin.state();
    let report = state.maintenance().await?;
    admin.record_action(None).await;
    Ok(HttpResponse::Ok().json(report))
}

/// Body of a retention run (optional: no body at all, `null`, `{}` and
/// `{"older_than_days": null}` take the server's retention).
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
    request_body(content = Option<RetentionRequest>, description = "Optional: no body takes the server's retention"),
    responses(
        (status = 200, body = RetentionResult),
        (status = 400, description = "invalid_json, invalid_query (`older_than_days` out of 0..=36500), retention_below_floor", body = ErrorBody),
        (status = 403, description = "admin_only", body = ErrorBody),
        (status = 503, description = "kms_unavailable: the audit log's signing key could not be reached", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/admin/access-logs/retention")]
pub async fn retention(
    req: HttpRequest,
    body: Result<web::Json<Option<RetentionRequest>>, actix_web::Error>,
    admin: Admin,
) -> Result<HttpResponse, actix_web::Error> {
    let state = admin.state();
    // No body is the server's retention; a body is the JSON above (or
    // `null`) or refused (`invalid_json`, `body_timeout`), never read as
    // no body.
    let older_than_days = match body {
        Ok(b) => b.into_inner().and_then(|b| b.older_than_days),
        Err(_) if has_no_body(&req) => None,
        Err(e) => return Err(e),
    };
    let days = match older_than_days {
        None => state.settings.access_log_retention_days,
        Some(d) => u32::try_from(d)
            .ok()
            .filter(|d| *d <= 36_500)
            .ok_or_else(|| invalid_query("older_than_days must be between 0 and 36500"))?,
    };
    let floor = state.settings.access_log_retention_floor_days;
    if days < floor {
        return Err(ApiError::new(ErrorCode::RetentionBelowFloor)
            .message(format!(
                "older_than_days is {days}; no retention deletes rows younger than {floor} days"
            ))
            .into());
    }
    // Its audit row is written in the transaction that deletes.
    let by = lifecycle::RetentionBy {
        user_id: Some(admin.user().id),
        client: admin.client(),
    };
    let key = state.audit.get();
    let done = lifecycle::apply_retention(state.settings.owner_url(), key.as_deref(), days, &by)
        .await
        .map_err(ApiError::from)?;
    tracing::info!(deleted = done.deleted, days, partitions = ?done.partitions_dropped, "access-log retention");
    Ok(HttpResponse::Ok().json(RetentionResult {
        deleted: done.deleted,
        older_than_days: days,
        partitions_dropped: done.partitions_dropped,
    }))
}

/// Whether `req` came without a body: `Content-Length: 0`, or on HTTP/1
/// neither a length nor chunks. An HTTP/2 request without a length may
/// carry one, so a body that does not parse there is refused, not defaulted.
fn has_no_body(req: &HttpRequest) -> bool {
    match req.headers().get(CONTENT_LENGTH) {
        Some(n) => n.as_bytes() == b"0",
        None => req.version() < Version::HTTP_2 && !req.headers().contains_key(TRANSFER_ENCODING),
    }
}

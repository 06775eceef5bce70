//! `/v1/admin/rotation(s)`: running the rotation check, and the rotations.

use actix_web::{HttpResponse, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Admin, StatusQuery, check_status};
use crate::error::{ApiError, ErrorBody};
use crate::lifecycle;
use crate::store::rotations::{self, ROTATION_STATUSES, Rotation};

/// Runs `check_for_keys_to_rotate` now.
#[utoipa::path(
    post, path = "/v1/admin/rotation", tag = "admin",
    responses(
        (status = 200, body = lifecycle::RotationCheck),
        (status = 403, description = "admin_only", body = ErrorBody),
        (status = 503, description = "kms_unavailable: no replacement key could be generated", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/admin/rotation")]
pub async fn run_rotation(admin: Admin) -> Result<HttpResponse, ApiError> {
    let state = admin.state();
    let check = lifecycle::check_for_keys_to_rotate(
        &state.db,
        state.kms.as_ref(),
        state.settings.rotation_age_days,
        state.settings.rotation_grace_days,
    )
    .await?;
    state
        .metrics
        .rotations_started
        .inc_by(check.queued.len() as u64);
    admin.record_action(None).await;
    state.refresh_pool_gauges().await;
    Ok(HttpResponse::Ok().json(check))
}

/// Answer to `GET /v1/admin/rotations`.
#[derive(Serialize, ToSchema)]
pub struct RotationList {
    /// By id.
    pub rotations: Vec<Rotation>,
}

/// Rotations, with the ages of both keys, the documents left to move, when
/// the old key expires and whether the rotation is stalled.
#[utoipa::path(
    get, path = "/v1/admin/rotations", tag = "admin", params(StatusQuery),
    responses(
        (status = 200, body = RotationList),
        (status = 400, description = "invalid_query: an unknown status", body = ErrorBody),
        (status = 403, description = "admin_only", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/admin/rotations")]
pub async fn list_rotations(
    query: web::Query<StatusQuery>,
    admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let state = admin.state();
    check_status(query.status.as_deref(), &ROTATION_STATUSES)?;
    let which = rotations::Which::Status(query.status.as_deref());
    let rotations = rotations::list(&state.db.get().await?, which).await?;
    Ok(HttpResponse::Ok().json(RotationList { rotations }))
}

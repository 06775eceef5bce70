//! `/v1/admin/keys`: the pool's keys, and revoking one.

use actix_web::{HttpResponse, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Admin, StatusQuery, check_status};
use crate::domain::KeyId;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::key_pool;
use crate::lifecycle;
use crate::store::keys::{self, AdminKey, KeyStatus};

/// Answer to `GET /v1/admin/keys`.
#[derive(Serialize, ToSchema)]
pub struct AdminKeyList {
    /// By id.
    pub keys: Vec<AdminKey>,
}

/// Every key, with its usage and the documents depending on it.
#[utoipa::path(
    get, path = "/v1/admin/keys", tag = "admin", params(StatusQuery),
    responses(
        (status = 200, body = AdminKeyList),
        (status = 400, description = "invalid_query: an unknown status", body = ErrorBody),
        (status = 403, description = "admin_only", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/admin/keys")]
pub async fn list_keys(
    query: web::Query<StatusQuery>,
    admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let state = admin.state();
    check_status(
        query.status.as_deref(),
        &KeyStatus::ALL.map(KeyStatus::as_str),
    )?;
    let status = query.status.as_deref().and_then(KeyStatus::parse);
    let keys = keys::list(&state.db.get().await?, status).await?;
    Ok(HttpResponse::Ok().json(AdminKeyList { keys }))
}

/// Answer to a revocation.
#[derive(Serialize, ToSchema)]
pub struct Revoked {
    /// The key.
    pub key_id: i32,
    /// `revoked`.
    pub status: String,
    /// Its status before.
    pub previous_status: String,
    /// Keys generated to refill the pool.
    pub keys_generated: u32,
}

/// Revokes a key: out of the pool at once, unwrap refused for everyone
/// (admins can still rewrap its documents to rescue them); the pool refills.
#[utoipa::path(
    post, path = "/v1/admin/keys/{key_id}/revoke", tag = "admin",
    params(("key_id" = i32, Path, description = "encryption_keys.id", minimum = 1)),
    responses(
        (status = 200, body = Revoked),
        (status = 400, description = "invalid_key_id: not an integer from 1 to 2147483647", body = ErrorBody),
        (status = 403, description = "admin_only", body = ErrorBody),
        (status = 404, description = "key_not_found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/admin/keys/{key_id}/revoke")]
#[tracing::instrument(name = "revoke_key", skip_all, fields(user_id = admin.user().id, key_id = %path.as_str()))]
pub async fn revoke_key(path: web::Path<String>, admin: Admin) -> Result<HttpResponse, ApiError> {
    let state = admin.state();
    let id = KeyId::parse(&path).ok_or(ErrorCode::InvalidKeyId)?;
    let previous = lifecycle::revoke_key(&state.db, id)
        .await?
        .ok_or(ErrorCode::KeyNotFound)?;
    state.cache.remove(id);
    admin.record_action(Some(id)).await;
    // Refill now rather than at the next background tick.
    let keys_generated = match key_pool::fill(
        &state.db,
        state.kms.as_ref(),
        state.settings.pool_size,
        true,
    )
    .await
    {
        Ok(n) => {
            state.metrics.keys_generated.inc_by(u64::from(n));
            n
        }
        Err(e) => {
            tracing::warn!(error = %e, "refill after revocation failed");
            state.refill.notify_one();
            0
        }
    };
    state.refresh_pool_gauges().await;
    Ok(HttpResponse::Ok().json(Revoked {
        key_id: id.get(),
        status: KeyStatus::Revoked.as_str().to_owned(),
        previous_status: previous.as_str().to_owned(),
        keys_generated,
    }))
}

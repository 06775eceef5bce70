//! `/v1/admin/stats`: every monitoring answer in one call.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get};
use serde::Serialize;
use utoipa::ToSchema;

use super::Admin;
use crate::error::{ApiError, ErrorBody};
use crate::store;
use crate::store::keys;
use crate::store::rotations::{self, Rotation};
use crate::store::stats::{DailyAccess, TableSize, UnusedKey, UsageStats};

/// Answer to `GET /v1/admin/stats`: the original system's monitoring queries.
#[derive(Serialize, ToSchema)]
pub struct Stats {
    /// Keys that can be handed out now.
    pub active_keys: i64,
    /// Keys per status.
    pub keys_by_status: BTreeMap<String, i64>,
    /// Usage distribution of active keys.
    pub usage: UsageStats,
    /// Access volume by day and type over the last 7 days.
    pub daily_access: Vec<DailyAccess>,
    /// Open rotations with old/new key ages.
    pub pending_rotations: Vec<Rotation>,
    /// Active keys never used and older than 7 days.
    pub unused_keys: Vec<UnusedKey>,
    /// `pg_database_size`.
    pub database_size_bytes: i64,
    /// The key server's tables.
    pub tables: Vec<TableSize>,
}

/// Every monitoring answer in one call.
#[utoipa::path(
    get, path = "/v1/admin/stats", tag = "admin",
    responses((status = 200, body = Stats), (status = 403, description = "admin_only", body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/admin/stats")]
pub async fn stats(admin: Admin) -> Result<HttpResponse, ApiError> {
    let state = admin.state();
    let db = state.db.get().await?;
    let db = &db;
    let active_keys = keys::active_keys(db).await?;
    let keys_by_status = keys::count_by_status(db)
        .await?
        .into_iter()
        .map(|(s, n)| (s.as_str().to_owned(), n))
        .collect();
    let usage = store::stats::usage(db).await?;
    let daily_access = store::stats::daily_access(db).await?;
    let pending_rotations = rotations::list(db, rotations::Which::Open).await?;
    let unused_keys = store::stats::unused_keys(db).await?;
    let database_size_bytes = store::stats::database_size(db).await?;
    let tables = store::stats::tables(db).await?;
    Ok(HttpResponse::Ok().json(Stats {
        active_keys,
        keys_by_status,
        usage,
        daily_access,
        pending_rotations,
        unused_keys,
        database_size_bytes,
        tables,
    }))
}

//! `/v1/admin/*`: the key lifecycle and every monitoring and maintenance
//! question of the original system (issue 5, Operations). Admins only;
//! every refusal is audited as `admin`.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::{ACCESS_TYPES, AccessType};
use crate::authorize::Attempt;
use crate::domain::{AuthenticatedUser, DocumentId, KeyId};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::lifecycle;
use crate::pool;
use crate::state::AppState;
use crate::store;
use crate::store::access_logs::{LogEntry, LogFilter};
use crate::store::keys::{self, AdminKey, KeyStatus};
use crate::store::rotations::{self, ROTATION_STATUSES, Rotation};
use crate::store::stats::{DailyAccess, TableSize, UnusedKey, UsageStats};

/// The caller's attempt at an admin route; refused (and audited as
/// `admin`) unless they are an admin.
async fn admin<'a>(
    req: &HttpRequest,
    state: &'a AppState,
    user: &'a AuthenticatedUser,
) -> Result<Attempt<'a>, ApiError> {
    let attempt = Attempt::new(req, state, user, AccessType::Admin, None);
    attempt.require_admin().await?;
    Ok(attempt)
}

fn invalid_query(message: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery).message(message)
}

fn check_status(value: Option<&str>, allowed: &[&str]) -> Result<(), ApiError> {
    match value {
        Some(s) if !allowed.contains(&s) => Err(invalid_query(format!(
            "status must be one of {}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// Filter by status.
#[derive(Deserialize, IntoParams)]
pub struct StatusQuery {
    /// Only entries in this status.
    pub status: Option<String>,
}

/// Answer to `GET /v1/admin/keys`.
#[derive(Serialize, ToSchema)]
pub struct AdminKeyList {
    /// By id.
    pub keys: Vec<AdminKey>,
}

/// Every key, with its usage and the documents depending on it.
#[utoipa::path(
    get, path = "/v1/admin/keys", tag = "admin", params(StatusQuery),
    responses((status = 200, body = AdminKeyList), (status = 400, body = ErrorBody), (status = 403, description = "admin_only", body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/admin/keys")]
pub async fn list_keys(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, ApiError> {
    admin(&req, &state, &user).await?;
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
    params(("key_id" = i32, Path, description = "encryption_keys.id")),
    responses((status = 200, body = Revoked), (status = 403, description = "admin_only", body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/admin/keys/{key_id}/revoke")]
#[tracing::instrument(name = "revoke_key", skip_all, fields(user_id = user.id, key_id = %path.as_str()))]
pub async fn revoke_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let attempt = admin(&req, &state, &user).await?;
    let id = KeyId::parse(&path).ok_or(ErrorCode::InvalidKeyId)?;
    let previous = lifecycle::revoke_key(&state.db, id)
        .await?
        .ok_or(ErrorCode::KeyNotFound)?;
    state.cache.remove(id);
    attempt.record_action(Some(id)).await;
    // Refill now rather than at the next background tick.
    let keys_generated = match pool::fill(
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

/// Runs `check_for_keys_to_rotate` now.
#[utoipa::path(
    post, path = "/v1/admin/rotation", tag = "admin",
    responses((status = 200, body = lifecycle::RotationCheck), (status = 403, description = "admin_only", body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/admin/rotation")]
pub async fn run_rotation(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
) -> Result<HttpResponse, ApiError> {
    let attempt = admin(&req, &state, &user).await?;
    let check = lifecycle::check_for_keys_to_rotate(
        &state.db,
        state.kms.as_ref(),
        state.settings.rotation_age_days,
    )
    .await?;
    state
        .metrics
        .rotations_started
        .inc_by(check.queued.len() as u64);
    attempt.record_action(None).await;
    state.refresh_pool_gauges().await;
    Ok(HttpResponse::Ok().json(check))
}

/// Answer to `GET /v1/admin/rotations`.
#[derive(Serialize, ToSchema)]
pub struct RotationList {
    /// By id.
    pub rotations: Vec<Rotation>,
}

/// Rotations, with the ages of both keys and the documents left to move.
#[utoipa::path(
    get, path = "/v1/admin/rotations", tag = "admin", params(StatusQuery),
    responses((status = 200, body = RotationList), (status = 400, body = ErrorBody), (status = 403, description = "admin_only", body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/admin/rotations")]
pub async fn list_rotations(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, ApiError> {
    admin(&req, &state, &user).await?;
    check_status(query.status.as_deref(), &ROTATION_STATUSES)?;
    let which = rotations::Which::Status(query.status.as_deref());
    let rotations = rotations::list(&state.db.get().await?, which).await?;
    Ok(HttpResponse::Ok().json(RotationList { rotations }))
}

/// Runs expiry, the rotation check, rotation progress, the pool refill and
/// access-log retention once.
#[utoipa::path(
    post, path = "/v1/admin/maintenance", tag = "admin",
    responses((status = 200, body = lifecycle::MaintenanceReport), (status = 403, description = "admin_only", body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/admin/maintenance")]
pub async fn run_maintenance(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
) -> Result<HttpResponse, ApiError> {
    let attempt = admin(&req, &state, &user).await?;
    let report = state.maintenance().await?;
    attempt.record_action(None).await;
    Ok(HttpResponse::Ok().json(report))
}

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
pub async fn stats(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
) -> Result<HttpResponse, ApiError> {
    admin(&req, &state, &user).await?;
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
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
    body: Option<web::Json<RetentionRequest>>,
) -> Result<HttpResponse, ApiError> {
    let attempt = admin(&req, &state, &user).await?;
    let days = match body.and_then(|b| b.older_than_days) {
        None => state.settings.access_log_retention_days,
        Some(d) => u32::try_from(d)
            .ok()
            .filter(|d| *d <= 36_500)
            .ok_or_else(|| invalid_query("older_than_days must be between 0 and 36500"))?,
    };
    let deleted = lifecycle::apply_retention(&state.db, days).await?;
    attempt.record_action(None).await;
    tracing::info!(deleted, days, "access-log retention");
    Ok(HttpResponse::Ok().json(RetentionResult {
        deleted,
        older_than_days: days,
    }))
}

/// Filters of `GET /v1/admin/access-logs`.
#[derive(Deserialize, IntoParams)]
pub struct LogQuery {
    /// 32 hex digits.
    pub document_id: Option<String>,
    /// A user name.
    pub user: Option<String>,
    /// `encrypt`, `decrypt`, `rewrap`, `upload`, `download`, `share` or `admin`.
    pub access_type: Option<String>,
    /// RFC 3339: entries at or after.
    pub since: Option<String>,
    /// RFC 3339: entries before.
    pub until: Option<String>,
    /// From 1 (default 1).
    pub page: Option<i64>,
    /// 1 to 500 (default 50).
    pub per_page: Option<i64>,
}

/// Answer to `GET /v1/admin/access-logs`.
#[derive(Serialize, ToSchema)]
pub struct LogPage {
    /// Newest first.
    pub entries: Vec<LogEntry>,
    /// The page.
    pub page: i64,
    /// Entries per page.
    pub per_page: i64,
    /// Entries matching the filters, over all pages.
    pub total: i64,
}

fn parse_time(name: &str, v: Option<&str>) -> Result<Option<chrono::NaiveDateTime>, ApiError> {
    v.map(|s| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.naive_utc())
            .map_err(|_| invalid_query(format!("`{name}` must be an RFC 3339 time")))
    })
    .transpose()
}

/// Filtered, paged access-log query.
#[utoipa::path(
    get, path = "/v1/admin/access-logs", tag = "admin", params(LogQuery),
    responses((status = 200, body = LogPage), (status = 400, description = "invalid_query", body = ErrorBody), (status = 403, description = "admin_only", body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/admin/access-logs")]
pub async fn access_logs(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    admin(&req, &state, &user).await?;
    let document_id = query
        .document_id
        .as_deref()
        .map(|d| {
            DocumentId::parse(d)
                .map(|d| d.to_string())
                .map_err(|_| invalid_query("`document_id` must be 32 hexadecimal digits"))
        })
        .transpose()?;
    if let Some(t) = query.access_type.as_deref()
        && !ACCESS_TYPES.contains(&t)
    {
        return Err(invalid_query(format!(
            "`access_type` must be one of {}",
            ACCESS_TYPES.join(", ")
        )));
    }
    let since = parse_time("since", query.since.as_deref())?;
    let until = parse_time("until", query.until.as_deref())?;
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(50);
    if !(1..=1_000_000).contains(&page) {
        return Err(invalid_query("`page` must be between 1 and 1000000"));
    }
    if !(1..=500).contains(&per_page) {
        return Err(invalid_query("`per_page` must be between 1 and 500"));
    }
    let filter = LogFilter {
        document_id,
        user: query.user.clone(),
        access_type: query.access_type.clone(),
        since,
        until,
    };
    let (total, entries) =
        store::access_logs::page(&state.db.get().await?, &filter, page, per_page).await?;
    Ok(HttpResponse::Ok().json(LogPage {
        entries,
        page,
        per_page,
        total,
    }))
}

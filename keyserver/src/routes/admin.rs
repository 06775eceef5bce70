//! `/v1/admin/*`: the key lifecycle and every monitoring and maintenance
//! question of the original system (issue 5, Operations). Admins only;
//! every refusal is audited as `admin`.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::{ACCESS_TYPES, AccessType};
use crate::authorize::Attempt;
use crate::db::DbError;
use crate::domain::{AuthenticatedUser, DocumentId, KeyId};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::lifecycle::{self, KEY_STATUSES, ROTATION_STATUSES};
use crate::pool;
use crate::state::AppState;

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

fn rfc3339(t: Option<chrono::NaiveDateTime>) -> Option<String> {
    t.map(|t| {
        t.and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    })
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

/// One key of the pool.
#[derive(Serialize, ToSchema)]
pub struct AdminKey {
    /// `encryption_keys.id`.
    pub key_id: i32,
    /// `active`, `rotation_queued`, `expired` or `revoked`.
    pub status: String,
    /// `ML-KEM-768`.
    pub algorithm: String,
    /// Documents (and rewraps) handed this key.
    pub usage_count: i32,
    /// RFC 3339, UTC.
    pub created_at: Option<String>,
    /// RFC 3339, UTC.
    pub expires_at: Option<String>,
    /// Documents that depend on this key now.
    pub documents: i64,
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
    check_status(query.status.as_deref(), &KEY_STATUSES)?;
    let db = state.db.get().await?;
    let rows = db
        .query(
            "SELECT k.id, COALESCE(k.status, 'active'), k.algorithm, COALESCE(k.usage_count, 0), k.created_at, k.expires_at,
                    (SELECT count(*) FROM documents d WHERE d.key_id = k.id)
             FROM encryption_keys k WHERE ($1::text IS NULL OR k.status = $1) ORDER BY k.id",
            &[&query.status],
        )
        .await?;
    let keys = rows
        .iter()
        .map(|r| AdminKey {
            key_id: r.get(0),
            status: r.get(1),
            algorithm: r.get(2),
            usage_count: r.get(3),
            created_at: rfc3339(r.get(4)),
            expires_at: rfc3339(r.get(5)),
            documents: r.get(6),
        })
        .collect();
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
        status: "revoked".into(),
        previous_status: previous,
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

/// One rotation.
#[derive(Serialize, ToSchema)]
pub struct Rotation {
    /// `key_rotations.id`.
    pub id: i32,
    /// The key being retired.
    pub old_key_id: Option<i32>,
    /// Its replacement.
    pub new_key_id: Option<i32>,
    /// `pending`, `in_progress`, `completed` or `failed`.
    pub status: String,
    /// RFC 3339, UTC.
    pub initiated_at: Option<String>,
    /// RFC 3339, UTC.
    pub completed_at: Option<String>,
    /// Age of the old key in days.
    pub old_key_age_days: Option<f64>,
    /// Age of the new key in days.
    pub new_key_age_days: Option<f64>,
    /// Documents still depending on the old key.
    pub documents_remaining: i64,
    /// Why it failed.
    pub reason: Option<String>,
}

/// Answer to `GET /v1/admin/rotations`.
#[derive(Serialize, ToSchema)]
pub struct RotationList {
    /// By id.
    pub rotations: Vec<Rotation>,
}

const ROTATIONS_SQL: &str = "SELECT r.id, r.old_key_id, r.new_key_id, COALESCE(r.status, 'pending'), r.initiated_at, r.completed_at,
        (EXTRACT(EPOCH FROM CURRENT_TIMESTAMP - ok.created_at) / 86400)::float8,
        (EXTRACT(EPOCH FROM CURRENT_TIMESTAMP - nk.created_at) / 86400)::float8,
        (SELECT count(*) FROM documents d WHERE d.key_id = r.old_key_id), r.reason
     FROM key_rotations r
     LEFT JOIN encryption_keys ok ON ok.id = r.old_key_id
     LEFT JOIN encryption_keys nk ON nk.id = r.new_key_id";

async fn rotations(
    db: &deadpool_postgres::Pool,
    filter: &str,
    status: Option<&str>,
) -> Result<Vec<Rotation>, DbError> {
    let client = db.get().await?;
    let sql = format!("{ROTATIONS_SQL} WHERE {filter} ORDER BY r.id");
    let rows = client.query(&sql, &[&status]).await?;
    Ok(rows
        .iter()
        .map(|r| Rotation {
            id: r.get(0),
            old_key_id: r.get(1),
            new_key_id: r.get(2),
            status: r.get(3),
            initiated_at: rfc3339(r.get(4)),
            completed_at: rfc3339(r.get(5)),
            old_key_age_days: r.get(6),
            new_key_age_days: r.get(7),
            documents_remaining: r.get(8),
            reason: r.get(9),
        })
        .collect())
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
    let rotations = rotations(
        &state.db,
        "($1::text IS NULL OR r.status = $1)",
        query.status.as_deref(),
    )
    .await?;
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

/// Distribution of `usage_count` over active keys.
#[derive(Serialize, ToSchema)]
pub struct UsageStats {
    /// Least-used active key's count.
    pub min: Option<i64>,
    /// Most-used.
    pub max: Option<i64>,
    /// Mean.
    pub avg: Option<f64>,
    /// Population standard deviation.
    pub stddev: Option<f64>,
}

/// Accesses of one type on one day.
#[derive(Serialize, ToSchema)]
pub struct DailyAccess {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// `encrypt`, `decrypt`, ...
    pub access_type: Option<String>,
    /// Rows.
    pub count: i64,
}

/// An active key nobody used.
#[derive(Serialize, ToSchema)]
pub struct UnusedKey {
    /// The key.
    pub key_id: i32,
    /// RFC 3339, UTC.
    pub created_at: Option<String>,
    /// Age in days.
    pub age_days: f64,
}

/// One table's size.
#[derive(Serialize, ToSchema)]
pub struct TableSize {
    /// Table name.
    pub name: String,
    /// Bytes including indexes and TOAST.
    pub size_bytes: i64,
    /// Exact row count.
    pub rows: i64,
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

/// The tables the stats report on.
const TABLES: [&str; 7] = [
    "encryption_keys",
    "access_logs",
    "key_rotations",
    "documents",
    "document_grants",
    "users",
    "api_tokens",
];

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
    let active_keys: i64 = db.query_one(pool::ACTIVE_KEYS_SQL, &[]).await?.get(0);
    let keys_by_status = lifecycle::keys_by_status(&state.db)
        .await?
        .into_iter()
        .collect();
    let u = db
        .query_one(
            "SELECT min(usage_count)::int8, max(usage_count)::int8, avg(usage_count)::float8, stddev_pop(usage_count)::float8
             FROM encryption_keys WHERE status = 'active'",
            &[],
        )
        .await?;
    let usage = UsageStats {
        min: u.get(0),
        max: u.get(1),
        avg: u.get(2),
        stddev: u.get(3),
    };
    let daily_access = db
        .query(
            "SELECT to_char(date_trunc('day', timestamp), 'YYYY-MM-DD'), access_type, count(*)
             FROM access_logs WHERE timestamp >= date_trunc('day', CURRENT_TIMESTAMP) - interval '6 days'
             GROUP BY 1, 2 ORDER BY 1, 2",
            &[],
        )
        .await?
        .iter()
        .map(|r| DailyAccess {
            day: r.get(0),
            access_type: r.get(1),
            count: r.get(2),
        })
        .collect();
    let pending_rotations = rotations(
        &state.db,
        "r.status IN ('pending', 'in_progress') AND $1::text IS NULL",
        None,
    )
    .await?;
    let unused_keys = db
        .query(
            "SELECT id, created_at, (EXTRACT(EPOCH FROM CURRENT_TIMESTAMP - created_at) / 86400)::float8
             FROM encryption_keys
             WHERE status = 'active' AND COALESCE(usage_count, 0) = 0 AND created_at < CURRENT_TIMESTAMP - interval '7 days'
             ORDER BY id",
            &[],
        )
        .await?
        .iter()
        .map(|r| UnusedKey {
            key_id: r.get(0),
            created_at: rfc3339(r.get(1)),
            age_days: r.get(2),
        })
        .collect();
    let database_size_bytes: i64 = db
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await?
        .get(0);
    let mut tables = Vec::with_capacity(TABLES.len());
    for name in TABLES {
        // Names come from the constant list above, never from the request.
        let row = db
            .query_one(
                &format!("SELECT pg_total_relation_size('{name}'), (SELECT count(*) FROM {name})"),
                &[],
            )
            .await?;
        tables.push(TableSize {
            name: name.to_owned(),
            size_bytes: row.get(0),
            rows: row.get(1),
        });
    }
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

/// One access-log row.
#[derive(Serialize, ToSchema)]
pub struct LogEntry {
    /// Row id.
    pub id: i32,
    /// The document.
    pub document_id: Option<String>,
    /// What was attempted.
    pub access_type: Option<String>,
    /// RFC 3339, UTC.
    pub timestamp: Option<String>,
    /// The user's name (or id).
    pub user: Option<String>,
    /// Client IP.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// The key involved.
    pub key_id: Option<i32>,
    /// `allowed` or `refused`.
    pub outcome: String,
    /// The refusal's code (or a note).
    pub reason: Option<String>,
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

const LOG_FILTER: &str = "($1::text IS NULL OR a.document_id = $1)
      AND ($2::text IS NULL OR a.user_id = (SELECT id::text FROM users WHERE name = $2))
      AND ($3::text IS NULL OR a.access_type = $3)
      AND ($4::timestamp IS NULL OR a.timestamp >= $4)
      AND ($5::timestamp IS NULL OR a.timestamp < $5)";

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
    let db = state.db.get().await?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
        &document_id,
        &query.user,
        &query.access_type,
        &since,
        &until,
    ];
    let total: i64 = db
        .query_one(
            &format!("SELECT count(*) FROM access_logs a WHERE {LOG_FILTER}"),
            &params,
        )
        .await?
        .get(0);
    let offset = (page - 1) * per_page;
    let mut all: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.to_vec();
    all.push(&per_page);
    all.push(&offset);
    let rows = db
        .query(
            &format!(
                "SELECT a.id, a.document_id, a.access_type, a.timestamp, COALESCE(u.name, a.user_id),
                        host(a.ip_address), a.user_agent, a.key_id, a.outcome, a.reason
                 FROM access_logs a LEFT JOIN users u ON u.id::text = a.user_id
                 WHERE {LOG_FILTER} ORDER BY a.timestamp DESC, a.id DESC LIMIT $6 OFFSET $7"
            ),
            &all,
        )
        .await?;
    let entries = rows
        .iter()
        .map(|r| LogEntry {
            id: r.get(0),
            document_id: r.get(1),
            access_type: r.get(2),
            timestamp: rfc3339(r.get(3)),
            user: r.get(4),
            ip_address: r.get(5),
            user_agent: r.get(6),
            key_id: r.get(7),
            outcome: r.get(8),
            reason: r.get(9),
        })
        .collect();
    Ok(HttpResponse::Ok().json(LogPage {
        entries,
        page,
        per_page,
        total,
    }))
}

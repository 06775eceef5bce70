//! `/v1/admin/access-logs`: the filtered, paged audit log.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Admin, invalid_query};
use crate::audit::ACCESS_TYPES;
use crate::domain::DocumentId;
use crate::error::{ApiError, ErrorBody};
use crate::store;
use crate::store::access_logs::{LogEntry, LogFilter};

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
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// RFC 3339: entries before.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// From 1 (default 1).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    /// 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
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
    responses((status = 200, body = LogPage), (status = 400, description = "invalid_query: a filter or the paging is malformed or out of range", body = ErrorBody), (status = 403, description = "admin_only", body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/admin/access-logs")]
pub async fn access_logs(
    query: web::Query<LogQuery>,
    admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let state = admin.state();
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
    // PostgreSQL text holds no NUL: refused here, not by the database.
    if query.user.as_deref().is_some_and(|u| u.contains('\0')) {
        return Err(invalid_query("`user` must not contain a NUL character"));
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

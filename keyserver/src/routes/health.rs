//! Liveness, readiness and metrics.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde_json::json;

use crate::key_pool;
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The database answers and the pool has a key to hand out.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready"), (status = 503, description = "Not ready")))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match key_pool::active_keys(&state.db).await {
        Ok(n) if n > 0 => {
            state.metrics.pool_active_keys.set(n);
            HttpResponse::Ok().json(json!({"status": "ready", "active_keys": n}))
        }
        Ok(n) => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "no_active_key", "active_keys": n})),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(json!({"status": "database_unavailable"}))
        }
    }
}

/// Prometheus text exposition, for the `metrics_token` or an admin's
/// token (anyone with `metrics_public`).
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text"),
        (status = 401, description = "missing_token, invalid_token", body = crate::error::ErrorBody),
        (status = 403, description = "admin_only", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
#[get("/metrics")]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, crate::error::ApiError> {
    if !state.settings.metrics_public {
        crate::auth::require_metrics_reader(&req, &state).await?;
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render()))
}

//! `/v1/keys/{id}`: a key's public half and status.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::KeyId;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;

/// A key as clients see it.
#[derive(Serialize, ToSchema)]
pub struct KeyInfo {
    /// `encryption_keys.id`.
    pub key_id: i32,
    /// `ML-KEM-768`.
    pub algorithm: String,
    /// Standard base64 of the 1184-byte encapsulation key.
    pub public_key: String,
    /// `active`, `rotation_queued`, `expired` or `revoked`.
    pub status: String,
    /// RFC 3339, UTC.
    pub created_at: Option<String>,
    /// RFC 3339, UTC; `null` when the key does not expire.
    pub expires_at: Option<String>,
}

fn rfc3339(t: Option<chrono::NaiveDateTime>) -> Option<String> {
    t.map(|t| {
        t.and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}

/// A key's public key and status.
#[utoipa::path(
    get, path = "/v1/keys/{key_id}", tag = "keys",
    params(("key_id" = i32, Path, description = "encryption_keys.id")),
    responses(
        (status = 200, description = "The key", body = KeyInfo),
        (status = 400, description = "Malformed key id", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "Unknown key", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/keys/{key_id}")]
pub async fn get_key(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = KeyId::parse(&path).ok_or(ErrorCode::InvalidKeyId)?;
    let client = state.db.get().await?;
    let row = client
        .query_opt(
            "SELECT id, algorithm, public_key, status, created_at, expires_at FROM encryption_keys WHERE id = $1",
            &[&id.get()],
        )
        .await?
        .ok_or(ErrorCode::KeyNotFound)?;
    Ok(HttpResponse::Ok().json(KeyInfo {
        key_id: row.get(0),
        algorithm: row.get(1),
        public_key: row.get(2),
        status: row.get::<_, Option<String>>(3).unwrap_or_default(),
        created_at: rfc3339(row.get(4)),
        expires_at: rfc3339(row.get(5)),
    }))
}

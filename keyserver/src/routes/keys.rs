//! `/v1/keys/{id}`: a key's public half and status.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::domain::KeyId;
use crate::error::{ErrorBody, internal, json_error};
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

/// Why a key could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum GetKeyError {
    /// Not a positive 31-bit integer.
    #[error("the key id must be an integer between 1 and 2147483647")]
    InvalidKeyId,
    /// No such key.
    #[error("no key has this id")]
    NotFound,
    /// Database trouble.
    #[error("internal error")]
    Db(#[from] DbError),
}

impl ResponseError for GetKeyError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidKeyId => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::InvalidKeyId => {
                json_error(self.status_code(), "invalid_key_id", self.to_string())
            }
            Self::NotFound => json_error(self.status_code(), "key_not_found", self.to_string()),
            Self::Db(e) => internal("key lookup failed", e),
        }
    }
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
) -> Result<HttpResponse, GetKeyError> {
    let id = KeyId::parse(&path).ok_or(GetKeyError::InvalidKeyId)?;
    let client = state.db.get().await.map_err(DbError::from)?;
    let row = client
        .query_opt(
            "SELECT id, algorithm, public_key, status, created_at, expires_at FROM encryption_keys WHERE id = $1",
            &[&id.get()],
        )
        .await
        .map_err(DbError::from)?
        .ok_or(GetKeyError::NotFound)?;
    Ok(HttpResponse::Ok().json(KeyInfo {
        key_id: row.get(0),
        algorithm: row.get(1),
        public_key: row.get(2),
        status: row.get::<_, Option<String>>(3).unwrap_or_default(),
        created_at: rfc3339(row.get(4)),
        expires_at: rfc3339(row.get(5)),
    }))
}

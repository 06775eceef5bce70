//! `/v1/keys/{id}`: a key's public half and status.

use actix_web::{HttpResponse, get, web};

use crate::domain::KeyId;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::keys::{self, KeyInfo};

/// A key's public key and status.
#[utoipa::path(
    get, path = "/v1/keys/{key_id}", tag = "keys",
    params(("key_id" = i32, Path, description = "encryption_keys.id", minimum = 1)),
    responses(
        (status = 200, description = "The key", body = KeyInfo),
        (status = 400, description = "invalid_key_id: not an integer from 1 to 2147483647", body = ErrorBody),
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
    let key = keys::get(&state.db.get().await?, id)
        .await?
        .ok_or(ErrorCode::KeyNotFound)?;
    Ok(HttpResponse::Ok().json(key))
}

//! `GET /v1/me`: whom the bearer token belongs to (the page shows it).

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::AuthenticatedUser;
use crate::error::ErrorBody;

/// The caller.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// `users.id`.
    pub id: i32,
    /// The user name.
    pub name: String,
    /// `user` or `admin`.
    pub role: String,
}

/// The signed-in user.
#[utoipa::path(
    get, path = "/v1/me", tag = "account",
    responses((status = 200, body = Me), (status = 401, description = "missing_token, invalid_token", body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/me")]
pub async fn me(user: web::ReqData<AuthenticatedUser>) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        id: user.id,
        name: user.name.clone(),
        role: user.role.as_str().to_owned(),
    })
}

//! `/v1/admin/*`: the key lifecycle and every monitoring and maintenance
//! question of the original system (issue 5, Operations), one file per
//! resource. Admins only; every refusal is audited as `admin` (through
//! [`admin`], which every handler calls first).

pub mod access_logs;
pub mod keys;
pub mod maintenance;
pub mod rotations;
pub mod stats;

use actix_web::HttpRequest;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::audit::AccessType;
use crate::authorize::Attempt;
use crate::domain::AuthenticatedUser;
use crate::error::{ApiError, ErrorCode};
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

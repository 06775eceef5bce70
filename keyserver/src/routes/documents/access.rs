//! `GET /v1/documents/{id}/access`: a document's access history.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ListQuery, limit};
use crate::authorize::{self, Rule};
use crate::domain::AuthenticatedUser;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::access_logs::{self, AccessEntry};
use crate::store::documents;

/// Answer to `GET /v1/documents/{id}/access`.
#[derive(Serialize, ToSchema)]
pub struct AccessHistory {
    /// Newest first, at most `limit`.
    pub entries: Vec<AccessEntry>,
}

/// The access history of a document the caller owns (admins: any document).
#[utoipa::path(
    get, path = "/v1/documents/{document_id}/access", tag = "documents",
    params(("document_id" = String, Path, description = "32 hex digits, not all zeros", pattern = "^[0-9a-fA-F]{32}$"), ListQuery),
    responses(
        (status = 200, description = "Audit entries", body = AccessHistory),
        (status = 400, description = "bad_document_id, invalid_query (`limit`, `all`)", body = ErrorBody),
        (status = 403, description = "forbidden: not the owner (nor an admin)", body = ErrorBody),
        (status = 404, description = "document_not_found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/documents/{document_id}/access")]
pub async fn access_history(
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = authorize::document_id(&path)?.to_string();
    let client = state.db.get().await?;
    let owner = documents::owner(&client, &id)
        .await?
        .ok_or(ErrorCode::DocumentNotFound)?;
    // Not an `Attempt`: reading the history is not audited (yet), so its
    // refusal is not either; the rule is the same one.
    if !Rule::Manage.allows(&user, owner, false) {
        return Err(ApiError::new(ErrorCode::Forbidden)
            .message("you are not allowed to see this document's history"));
    }
    let entries = access_logs::of_document(&client, &id, limit(&query)).await?;
    Ok(HttpResponse::Ok().json(AccessHistory { entries }))
}

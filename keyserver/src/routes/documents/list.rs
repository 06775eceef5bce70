//! `GET /v1/documents`: the caller's documents and those shared with them.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ListQuery, limit};
use crate::domain::AuthenticatedUser;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::store::documents::{self, DocumentSummary};

/// Answer to `GET /v1/documents`.
#[derive(Serialize, ToSchema)]
pub struct DocumentList {
    /// Newest first, at most `limit`.
    pub documents: Vec<DocumentSummary>,
}

/// The caller's documents and those shared with them, newest first
/// (`?all=true`: an admin sees every document).
#[utoipa::path(
    get, path = "/v1/documents", tag = "documents", params(ListQuery),
    responses(
        (status = 200, description = "Documents", body = DocumentList),
        (status = 400, description = "invalid_query (`limit`, `all`)", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/documents")]
pub async fn list_documents(
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let every = query.all && user.role == crate::domain::Role::Admin;
    let documents = documents::list(&state.db.get().await?, user.id, every, limit(&query)).await?;
    Ok(HttpResponse::Ok().json(DocumentList { documents }))
}

//! `/v1/documents/{id}/grants`: the owner (or an admin) lets another user
//! unwrap, rewrap and download a document, and takes that back.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AccessType;
use crate::authorize::{self, Attempt, Rule};
use crate::domain::AuthenticatedUser;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::documents::DocumentAccess;
use crate::store::grants::{self, Grant, GrantChange};
use crate::store::{timestamp, users};

/// Body of `POST /v1/documents/{id}/grants`.
#[derive(Deserialize, ToSchema)]
pub struct GrantRequest {
    /// The user name to share with.
    pub user: String,
}

/// A grant as created.
#[derive(Serialize, ToSchema)]
pub struct GrantCreated {
    /// 32 hex digits.
    pub document_id: String,
    /// The grantee's name.
    pub user: String,
    /// RFC 3339, UTC.
    pub granted_at: String,
}

/// Answer to `GET /v1/documents/{id}/grants`.
#[derive(Serialize, ToSchema)]
pub struct GrantList {
    /// Oldest first.
    pub grants: Vec<Grant>,
}

/// The audit facts of a grant change by the caller of `attempt`.
fn change<'a>(attempt: &'a Attempt<'_>, access: &DocumentAccess) -> GrantChange<'a> {
    GrantChange {
        document_id: attempt.document(),
        key_id: access.key_id,
        by: attempt.user(),
        client: attempt.client(),
        seal: attempt.seal(),
    }
}

/// Whether `name` can be a user's name at all: PostgreSQL text holds no
/// NUL, so a name with one names nobody (and must not reach a query, which
/// the database would refuse as an internal error).
fn nameable(name: &str) -> bool {
    !name.contains('\0')
}

/// The sentence of a refused grant request.
const FORBIDDEN: &str = "only the document's owner or an admin can manage its grants";

/// The caller's attempt at managing `path`'s grants (owner or admin); a
/// refusal is audited as `share`.
async fn authorize<'a>(
    req: &HttpRequest,
    state: &'a AppState,
    user: &'a AuthenticatedUser,
    path: &str,
) -> Result<(Attempt<'a>, DocumentAccess), ApiError> {
    let document_id = authorize::document_id(path)?;
    let attempt = Attempt::new(req, state, user, AccessType::Share, Some(&document_id));
    let access = attempt.load(Rule::Manage, FORBIDDEN).await?;
    Ok((attempt, access))
}

/// Lets `user` unwrap, rewrap and download the document (owner or admin).
#[utoipa::path(
    post, path = "/v1/documents/{document_id}/grants", tag = "sharing",
    params(("document_id" = String, Path, description = "32 hex digits, not all zeros", pattern = "^[0-9a-fA-F]{32}$")),
    request_body = GrantRequest,
    responses(
        (status = 201, description = "Granted (idempotent)", body = GrantCreated),
        (status = 400, description = "bad_document_id, invalid_json, self_grant (a grant to the owner)", body = ErrorBody),
        (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 404, description = "Unknown document or user", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/documents/{document_id}/grants")]
#[tracing::instrument(name = "grant", skip_all, fields(user_id = user.id, document_id = %path.as_str()))]
pub async fn create_grant(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
    path: web::Path<String>,
    body: web::Json<GrantRequest>,
) -> Result<HttpResponse, ApiError> {
    let (attempt, access) = authorize(&req, &state, &user, &path).await?;
    let key = Some(access.key_id);
    if !nameable(&body.user) {
        return Err(attempt.refuse(key, ErrorCode::UserNotFound).await);
    }
    let db = state.db.get().await?;
    let Some((grantee, name)) = users::find(&db, &body.user).await? else {
        return Err(attempt.refuse(key, ErrorCode::UserNotFound).await);
    };
    if grantee == access.owner_id {
        return Err(attempt.refuse(key, ErrorCode::SelfGrant).await);
    }
    let granted_at = grants::grant(&db, &change(&attempt, &access), grantee, &body.user).await?;
    tracing::info!(grantee, "access granted");
    Ok(HttpResponse::Created().json(GrantCreated {
        document_id: attempt.document().to_owned(),
        user: name,
        granted_at: timestamp(granted_at),
    }))
}

/// Takes a grant back (owner or admin).
#[utoipa::path(
    delete, path = "/v1/documents/{document_id}/grants/{user}", tag = "sharing",
    params(("document_id" = String, Path, description = "32 hex digits, not all zeros", pattern = "^[0-9a-fA-F]{32}$"), ("user" = String, Path, description = "grantee's name")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "bad_document_id", body = ErrorBody),
        (status = 403, description = "forbidden: not the owner (nor an admin)", body = ErrorBody),
        (status = 404, description = "document_not_found, user_not_found, grant_not_found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/documents/{document_id}/grants/{user}")]
#[tracing::instrument(name = "ungrant", skip_all, fields(user_id = user.id))]
pub async fn delete_grant(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (doc_path, name) = path.into_inner();
    let (attempt, access) = authorize(&req, &state, &user, &doc_path).await?;
    if !nameable(&name) {
        return Err(attempt
            .refuse(Some(access.key_id), ErrorCode::UserNotFound)
            .await);
    }
    let db = state.db.get().await?;
    if !grants::revoke(&db, &change(&attempt, &access), &name).await? {
        let err = if users::find(&db, &name).await?.is_some() {
            ErrorCode::GrantNotFound
        } else {
            ErrorCode::UserNotFound
        };
        return Err(attempt.refuse(Some(access.key_id), err).await);
    }
    tracing::info!(grantee = %name, "access revoked");
    Ok(HttpResponse::NoContent().finish())
}

/// The document's grants (owner or admin).
#[utoipa::path(
    get, path = "/v1/documents/{document_id}/grants", tag = "sharing",
    params(("document_id" = String, Path, description = "32 hex digits, not all zeros", pattern = "^[0-9a-fA-F]{32}$")),
    responses(
        (status = 200, description = "Grants", body = GrantList),
        (status = 400, description = "bad_document_id", body = ErrorBody),
        (status = 403, description = "forbidden: not the owner (nor an admin)", body = ErrorBody),
        (status = 404, description = "document_not_found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/documents/{document_id}/grants")]
pub async fn list_grants(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (attempt, _) = authorize(&req, &state, &user, &path).await?;
    let grants = grants::list(&state.db.get().await?, attempt.document()).await?;
    Ok(HttpResponse::Ok().json(GrantList { grants }))
}

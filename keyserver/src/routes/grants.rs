//! `/v1/documents/{id}/grants`: the owner (or an admin) lets another user
//! unwrap, rewrap and download a document, and takes that back.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::DocumentAccess;
use crate::audit::AccessType;
use crate::authorize::{self, Attempt, Rule};
use crate::domain::AuthenticatedUser;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;

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

/// One grant of a document.
#[derive(Serialize, ToSchema)]
pub struct Grant {
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

fn rfc3339(t: chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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
    params(("document_id" = String, Path, description = "32 hex digits")),
    request_body = GrantRequest,
    responses(
        (status = 201, description = "Granted (idempotent)", body = GrantCreated),
        (status = 400, description = "Bad id, or a grant to the owner", body = ErrorBody),
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
    let doc = attempt.document();
    let client = attempt.client();
    let key = Some(access.key_id);
    let db = state.db.get().await?;
    let Some(grantee) = db
        .query_opt("SELECT id, name FROM users WHERE name = $1", &[&body.user])
        .await?
    else {
        return Err(attempt.refuse(key, ErrorCode::UserNotFound).await);
    };
    let grantee_id: i32 = grantee.get(0);
    if grantee_id == access.owner_id {
        return Err(attempt.refuse(key, ErrorCode::SelfGrant).await);
    }
    let row = db
        .query_one(
            "WITH g AS (
                INSERT INTO document_grants (document_id, user_id, granted_by) VALUES ($1, $2, $3)
                ON CONFLICT (document_id, user_id) DO UPDATE SET granted_by = document_grants.granted_by
                RETURNING granted_at),
             a AS (INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome, reason)
                   VALUES ($1, 'share', $4, $5, $6, $7, 'allowed', 'granted to ' || $8))
             SELECT granted_at FROM g",
            &[
                &doc,
                &grantee_id,
                &user.id,
                &user.id.to_string(),
                &client.ip,
                &client.user_agent,
                &access.key_id.get(),
                &body.user,
            ],
        )
        .await?;
    tracing::info!(grantee = grantee_id, "access granted");
    Ok(HttpResponse::Created().json(GrantCreated {
        document_id: doc.to_owned(),
        user: grantee.get(1),
        granted_at: rfc3339(row.get(0)),
    }))
}

/// Takes a grant back (owner or admin).
#[utoipa::path(
    delete, path = "/v1/documents/{document_id}/grants/{user}", tag = "sharing",
    params(("document_id" = String, Path, description = "32 hex digits"), ("user" = String, Path, description = "grantee's name")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 404, description = "Unknown document, user or grant", body = ErrorBody),
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
    let doc = attempt.document();
    let client = attempt.client();
    let db = state.db.get().await?;
    let deleted = db
        .query_opt(
            "WITH g AS (
                DELETE FROM document_grants WHERE document_id = $1
                   AND user_id = (SELECT id FROM users WHERE name = $2)
                RETURNING user_id),
             a AS (INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome, reason)
                   SELECT $1, 'share', $3, $4, $5, $6, 'allowed', 'revoked from ' || $2 FROM g)
             SELECT user_id FROM g",
            &[
                &doc,
                &name,
                &user.id.to_string(),
                &client.ip,
                &client.user_agent,
                &access.key_id.get(),
            ],
        )
        .await?;
    if deleted.is_none() {
        let exists = db
            .query_opt("SELECT 1 FROM users WHERE name = $1", &[&name])
            .await?
            .is_some();
        let err = if exists {
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
    params(("document_id" = String, Path, description = "32 hex digits")),
    responses(
        (status = 200, description = "Grants", body = GrantList),
        (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 404, description = "Unknown document", body = ErrorBody),
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
    let doc = attempt.document();
    let db = state.db.get().await?;
    let grants = db
        .query(
            "SELECT u.name, g.granted_at FROM document_grants g JOIN users u ON u.id = g.user_id
             WHERE g.document_id = $1 ORDER BY g.granted_at, u.name",
            &[&doc],
        )
        .await?
        .iter()
        .map(|r| Grant {
            user: r.get(0),
            granted_at: rfc3339(r.get(1)),
        })
        .collect();
    Ok(HttpResponse::Ok().json(GrantList { grants }))
}

//! `/v1/documents/{id}/grants`: the owner (or an admin) lets another user
//! unwrap, rewrap and download a document, and takes that back.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::DocumentAccess;
use crate::audit::{self, AccessType, ClientInfo, Entry};
use crate::db::DbError;
use crate::domain::{AuthenticatedUser, DocumentId, Role};
use crate::error::{ErrorBody, json_error};
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

/// Why a grant could not be made, listed or revoked.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Bad path parameter.
    #[error("the document id must be 32 hexadecimal digits and not all zeros")]
    InvalidDocumentId,
    /// No such document.
    #[error("no document has this id")]
    DocumentNotFound,
    /// Not the owner (nor an admin).
    #[error("only the document's owner or an admin can manage its grants")]
    Forbidden,
    /// No such user.
    #[error("no user has this name")]
    UserNotFound,
    /// The owner needs no grant.
    #[error("the owner cannot be granted access to their own document")]
    SelfGrant,
    /// The user has no grant on this document.
    #[error("this user has no grant on this document")]
    GrantNotFound,
    /// Database trouble.
    #[error("internal error")]
    Db(#[from] DbError),
}

impl GrantError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidDocumentId => "invalid_document_id",
            Self::DocumentNotFound => "document_not_found",
            Self::Forbidden => "forbidden",
            Self::UserNotFound => "user_not_found",
            Self::SelfGrant => "self_grant",
            Self::GrantNotFound => "grant_not_found",
            Self::Db(_) => "internal_error",
        }
    }
}

impl ResponseError for GrantError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidDocumentId | Self::SelfGrant => StatusCode::BAD_REQUEST,
            Self::DocumentNotFound | Self::UserNotFound | Self::GrantNotFound => {
                StatusCode::NOT_FOUND
            }
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Db(e) = self {
            return crate::error::internal("grant failed", e);
        }
        json_error(self.status_code(), self.code(), self.to_string())
    }
}

impl From<tokio_postgres::Error> for GrantError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for GrantError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Db(e.into())
    }
}

fn rfc3339(t: chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Checks the caller manages `path`'s grants; audits a refusal as `share`.
async fn authorize(
    state: &AppState,
    user: &AuthenticatedUser,
    client: &ClientInfo,
    path: &str,
) -> Result<(String, DocumentAccess), GrantError> {
    let doc = DocumentId::parse(path)
        .map_err(|_| GrantError::InvalidDocumentId)?
        .to_string();
    match DocumentAccess::load(&state.hot, &doc, user.id).await? {
        Some(a) if a.is_owner(user) || user.role == Role::Admin => Ok((doc, a)),
        other => {
            let err = if other.is_some() {
                GrantError::Forbidden
            } else {
                GrantError::DocumentNotFound
            };
            refuse(
                state,
                user,
                client,
                &doc,
                other.map(|a| a.key_id.get()),
                &err,
            )
            .await;
            Err(err)
        }
    }
}

async fn refuse(
    state: &AppState,
    user: &AuthenticatedUser,
    client: &ClientInfo,
    doc: &str,
    key_id: Option<i32>,
    err: &GrantError,
) {
    audit::record_refusal(
        &state.hot,
        &Entry {
            document_id: Some(doc),
            access_type: AccessType::Share,
            user_id: user.id,
            client,
            key_id,
            refusal: Some(err.code()),
        },
    )
    .await;
    state
        .metrics
        .refusals
        .with_label_values(&["share", err.code()])
        .inc();
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
) -> Result<HttpResponse, GrantError> {
    let client = ClientInfo::from_request(&req);
    let (doc, access) = authorize(&state, &user, &client, &path).await?;
    let db = state.db.get().await?;
    let Some(grantee) = db
        .query_opt("SELECT id, name FROM users WHERE name = $1", &[&body.user])
        .await?
    else {
        let err = GrantError::UserNotFound;
        refuse(
            &state,
            &user,
            &client,
            &doc,
            Some(access.key_id.get()),
            &err,
        )
        .await;
        return Err(err);
    };
    let grantee_id: i32 = grantee.get(0);
    if grantee_id == access.owner_id {
        let err = GrantError::SelfGrant;
        refuse(
            &state,
            &user,
            &client,
            &doc,
            Some(access.key_id.get()),
            &err,
        )
        .await;
        return Err(err);
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
        document_id: doc,
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
) -> Result<HttpResponse, GrantError> {
    let client = ClientInfo::from_request(&req);
    let (doc_path, name) = path.into_inner();
    let (doc, access) = authorize(&state, &user, &client, &doc_path).await?;
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
            GrantError::GrantNotFound
        } else {
            GrantError::UserNotFound
        };
        refuse(
            &state,
            &user,
            &client,
            &doc,
            Some(access.key_id.get()),
            &err,
        )
        .await;
        return Err(err);
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
) -> Result<HttpResponse, GrantError> {
    let client = ClientInfo::from_request(&req);
    let (doc, _) = authorize(&state, &user, &client, &path).await?;
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

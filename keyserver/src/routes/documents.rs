//! `/v1/documents`: registering a document, and unwrapping its file key
//! sealed to the caller's ephemeral key (FORMAT.md §7).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pqfile_core::format::{KemId, Stanza};
use pqfile_core::mlkem768::PublicKey;
use pqfile_core::stanza::{self, TRANSPORT_KEY_ID};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{AccessType, ClientInfo};
use crate::authorize::{self, Attempt, Rule};
use crate::domain::{AuthenticatedUser, DocumentId, rng};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::access_logs::{self, AccessEntry};
use crate::store::documents::{self, DocumentSummary, Registration};
use crate::store::keys;

/// The key a client encrypts a new document to.
#[derive(Serialize, ToSchema)]
pub struct KeyRef {
    /// `encryption_keys.id`: the stanza's key id.
    pub key_id: i32,
    /// `ML-KEM-768`.
    pub algorithm: String,
    /// Standard base64 of the 1184-byte encapsulation key.
    pub public_key: String,
}

/// Answer to `POST /v1/documents`.
#[derive(Serialize, ToSchema)]
pub struct CreatedDocument {
    /// 32 lowercase hex digits: the document id to put in the file header.
    pub document_id: String,
    /// The key to encrypt to.
    pub key: KeyRef,
}

/// Registers a new document owned by the caller on the least-used active
/// key and returns its id and that key. The body is ignored (send nothing or `{}`).
#[utoipa::path(
    post, path = "/v1/documents", tag = "documents",
    responses(
        (status = 201, description = "Document registered", body = CreatedDocument),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 503, description = "No key available or database down", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/documents")]
#[tracing::instrument(name = "create_document", skip_all, fields(user_id = user.id))]
pub async fn create_document(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
) -> Result<HttpResponse, ApiError> {
    let client = ClientInfo::from_request(&req);
    let document_id = DocumentId::generate(&mut rng());
    let reg = Registration {
        document_id: &document_id,
        owner_id: user.id,
        ip: client.ip,
        user_agent: client.user_agent.as_deref(),
    };
    // Database trouble here (or the audit row, which fails closed) is a 503.
    let registered = documents::register(&state.db, &reg).await.map_err(|e| {
        ApiError::new(ErrorCode::DatabaseUnavailable)
            .message("the document could not be registered or audited")
            .caused_by(e)
    })?;
    let Some(key) = registered else {
        state.refill.notify_one();
        return Err(ErrorCode::NoActiveKey.into());
    };
    state.metrics.documents_created.inc();
    tracing::info!(document_id = %document_id, key_id = %key.id, "document registered");
    Ok(HttpResponse::Created().json(CreatedDocument {
        document_id: document_id.to_string(),
        key: KeyRef {
            key_id: key.id.get(),
            algorithm: key.algorithm,
            public_key: key.public_key,
        },
    }))
}

/// Body of `POST /v1/documents/{id}/unwrap`.
#[derive(Deserialize, ToSchema)]
pub struct UnwrapRequest {
    /// Standard base64 of one stanza encoding (FORMAT.md §3) from the file's header.
    pub stanza: String,
    /// Standard base64 of the caller's fresh 1184-byte ML-KEM-768 encapsulation key.
    pub ephemeral_public_key: String,
}

/// Answer to an unwrap.
#[derive(Serialize, ToSchema)]
pub struct UnwrapResponse {
    /// Standard base64 of a stanza (kem 1, key id 0) sealing the file key to
    /// the ephemeral key (FORMAT.md §7).
    pub transport_stanza: String,
}

fn decode(field: &'static str, value: &str) -> Result<Vec<u8>, ApiError> {
    STANDARD.decode(value.trim()).map_err(|_| {
        ApiError::new(ErrorCode::InvalidBase64)
            .message(format!("`{field}` is not valid standard base64"))
    })
}

/// Checks the caller may unwrap document `{document_id}`, opens the stanza
/// with the document's key (through the KMS) in the context of that document
/// id, and returns the file key sealed to the caller's ephemeral key.
#[utoipa::path(
    post, path = "/v1/documents/{document_id}/unwrap", tag = "documents",
    params(("document_id" = String, Path, description = "32 hex digits")),
    request_body = UnwrapRequest,
    responses(
        (status = 200, description = "File key sealed to the ephemeral key", body = UnwrapResponse),
        (status = 400, description = "Bad input, key mismatch or decryption_failed", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the owner, or key revoked", body = ErrorBody),
        (status = 404, description = "Unknown document or key", body = ErrorBody),
        (status = 503, description = "KMS or audit log unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/documents/{document_id}/unwrap")]
#[tracing::instrument(name = "unwrap", skip_all, fields(user_id = user.id, document_id = %path.as_str()))]
pub async fn unwrap_document(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
    path: web::Path<String>,
    body: web::Json<UnwrapRequest>,
) -> Result<HttpResponse, ApiError> {
    let result = unwrap_inner(&req, &state, &user, &path, &body).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code().as_str(),
    };
    state.metrics.unwraps.with_label_values(&[outcome]).inc();
    result
}

async fn unwrap_inner(
    req: &HttpRequest,
    state: &AppState,
    user: &AuthenticatedUser,
    path: &str,
    body: &UnwrapRequest,
) -> Result<HttpResponse, ApiError> {
    let document_id = authorize::document_id(path)?;
    let stanza_bytes = decode("stanza", &body.stanza)?;
    let stanza = Stanza::parse_exact(&stanza_bytes).map_err(|e| {
        ApiError::core(
            ErrorCode::InvalidStanza,
            "`stanza` is not a valid stanza encoding",
            &e,
        )
    })?;
    if stanza.kem != KemId::ML_KEM_768 {
        return Err(ErrorCode::UnsupportedKem.into());
    }
    if stanza.key_id == TRANSPORT_KEY_ID {
        return Err(ApiError::new(ErrorCode::InvalidStanza).message(
            "`stanza` is not a valid stanza encoding: key id 0 is reserved for transport stanzas",
        ));
    }
    let ephemeral =
        PublicKey::from_bytes(&decode("ephemeral_public_key", &body.ephemeral_public_key)?)
            .map_err(|_| ApiError::new(ErrorCode::InvalidPublicKey))?;

    // From here on every refusal is audited. Owner, grantee (issue 5) or admin.
    let attempt = Attempt::new(req, state, user, AccessType::Decrypt, Some(&document_id));
    let doc = attempt
        .load(Rule::Read, "you are not allowed to unwrap this document")
        .await?;
    let key = Some(doc.key_id);
    if stanza.key_id != doc.key_id.as_u32() {
        let err = if keys::exists(&state.db.get().await?, stanza.key_id).await? {
            ErrorCode::KeyMismatch
        } else {
            ErrorCode::KeyNotFound
        };
        return Err(attempt.refuse(key, err).await);
    }
    if doc.revoked() {
        return Err(attempt.refuse(key, ErrorCode::KeyRevoked).await);
    }
    let Some(file_key) = state.open_stanza(&doc, &stanza, &document_id).await? else {
        return Err(attempt.refuse(key, ErrorCode::DecryptionFailed).await);
    };
    let (ct, ss) = ephemeral.encapsulate(&mut rng());
    let transport = stanza::seal(
        &file_key,
        &document_id,
        KemId::ML_KEM_768,
        TRANSPORT_KEY_ID,
        &ct,
        &ss,
    );

    // Fail closed: nothing is released unless the access is on record.
    attempt.record_allowed(key).await?;
    tracing::info!(key_id = %doc.key_id, "file key unwrapped");
    Ok(HttpResponse::Ok().json(UnwrapResponse {
        transport_stanza: STANDARD.encode(transport.to_bytes()),
    }))
}

/// Answer to `GET /v1/documents`.
#[derive(Serialize, ToSchema)]
pub struct DocumentList {
    /// Newest first, at most `limit`.
    pub documents: Vec<DocumentSummary>,
}

/// Paging for the listings.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Most entries to return (1 to 500, default 100).
    pub limit: Option<i64>,
    /// Admins only: every user's documents, not just their own.
    #[serde(default)]
    pub all: bool,
}

fn limit(q: &ListQuery) -> i64 {
    q.limit.unwrap_or(100).clamp(1, 500)
}

/// The caller's documents and those shared with them, newest first
/// (`?all=true`: an admin sees every document).
#[utoipa::path(
    get, path = "/v1/documents", tag = "documents", params(ListQuery),
    responses(
        (status = 200, description = "Documents", body = DocumentList),
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

/// Answer to `GET /v1/documents/{id}/access`.
#[derive(Serialize, ToSchema)]
pub struct AccessHistory {
    /// Newest first, at most `limit`.
    pub entries: Vec<AccessEntry>,
}

/// The access history of a document the caller owns (admins: any document).
#[utoipa::path(
    get, path = "/v1/documents/{document_id}/access", tag = "documents",
    params(("document_id" = String, Path, description = "32 hex digits"), ListQuery),
    responses(
        (status = 200, description = "Audit entries", body = AccessHistory),
        (status = 400, description = "Malformed document id", body = ErrorBody),
        (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 404, description = "Unknown document", body = ErrorBody),
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
    if !user.may_unwrap(owner) {
        return Err(ApiError::new(ErrorCode::Forbidden)
            .message("you are not allowed to see this document's history"));
    }
    let entries = access_logs::of_document(&client, &id, limit(&query)).await?;
    Ok(HttpResponse::Ok().json(AccessHistory { entries }))
}

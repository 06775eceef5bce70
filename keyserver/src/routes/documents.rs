//! `/v1/documents`: registering a document, and unwrapping its file key
//! sealed to the caller's ephemeral key (FORMAT.md §7).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pqfile_core::format::{KemId, Stanza};
use pqfile_core::mlkem768::PublicKey;
use pqfile_core::stanza::{self, TRANSPORT_KEY_ID};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::DocumentAccess;
use crate::audit::{self, AccessType, ClientInfo, Entry};
use crate::db::DbError;
use crate::domain::{AuthenticatedUser, DocumentId, rng};
use crate::error::{ErrorBody, json_error};
use crate::kms::KmsError;
use crate::pool::{self, Registration};
use crate::state::AppState;

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

/// Why a document could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum CreateDocumentError {
    /// The pool is empty (and the KMS may be down, so it cannot refill).
    #[error("no encryption key is available right now; try again shortly")]
    NoActiveKey,
    /// Database (or the audit row, which fails closed) unavailable.
    #[error("the document could not be registered")]
    Db(#[from] DbError),
}

impl ResponseError for CreateDocumentError {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::NoActiveKey => json_error(self.status_code(), "no_active_key", self.to_string()),
            Self::Db(e) => {
                tracing::error!(error = %e, "document registration failed");
                json_error(
                    self.status_code(),
                    "database_unavailable",
                    "the document could not be registered or audited",
                )
            }
        }
    }
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
) -> Result<HttpResponse, CreateDocumentError> {
    let client = ClientInfo::from_request(&req);
    let document_id = DocumentId::generate(&mut rng());
    let reg = Registration {
        document_id: &document_id,
        owner_id: user.id,
        ip: client.ip,
        user_agent: client.user_agent.as_deref(),
    };
    let Some(key) = pool::register_document(&state.db, &reg).await? else {
        state.refill.notify_one();
        return Err(CreateDocumentError::NoActiveKey);
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

/// Why an unwrap was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum UnwrapError {
    /// The path's document id is not 32 hex digits (or is all zeros).
    #[error("the document id must be 32 hexadecimal digits and not all zeros")]
    InvalidDocumentId,
    /// A field is not standard base64.
    #[error("`{0}` is not valid standard base64")]
    InvalidBase64(&'static str),
    /// The stanza is not one well-formed stanza encoding.
    #[error("`stanza` is not a valid stanza encoding: {0}")]
    InvalidStanza(String),
    /// The stanza's KEM is not implemented.
    #[error("the stanza's KEM is not supported by this key server")]
    UnsupportedKem,
    /// The ephemeral key is not a valid ML-KEM-768 key.
    #[error("`ephemeral_public_key` must be a valid 1184-byte ML-KEM-768 public key")]
    InvalidPublicKey,
    /// No such document.
    #[error("no document has this id")]
    DocumentNotFound,
    /// The caller may not unwrap this document.
    #[error("you are not allowed to unwrap this document")]
    Forbidden,
    /// The stanza names a key that does not exist.
    #[error("the stanza names a key this server does not have")]
    KeyNotFound,
    /// The stanza names another key than the one the document was registered with.
    #[error("the stanza names another key than the one this document was encrypted to")]
    KeyMismatch,
    /// The key is revoked.
    #[error("the document's key has been revoked")]
    KeyRevoked,
    /// Decapsulation or the stanza AEAD failed: wrong document, tampered stanza.
    #[error("the stanza could not be unwrapped for this document")]
    DecryptionFailed,
    /// The KMS could not be reached.
    #[error("the key management service is unavailable; try again later")]
    KmsUnavailable,
    /// The audit row could not be written, so nothing is released.
    #[error("the access could not be audited, so it was refused; try again later")]
    AuditUnavailable,
    /// Anything else (logged, not shown).
    #[error("the key server hit an internal error")]
    Internal(String),
}

impl UnwrapError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidDocumentId => "invalid_document_id",
            Self::InvalidBase64(_) => "invalid_base64",
            Self::InvalidStanza(_) => "invalid_stanza",
            Self::UnsupportedKem => "unsupported_kem",
            Self::InvalidPublicKey => "invalid_public_key",
            Self::DocumentNotFound => "document_not_found",
            Self::Forbidden => "forbidden",
            Self::KeyNotFound => "key_not_found",
            Self::KeyMismatch => "key_mismatch",
            Self::KeyRevoked => "key_revoked",
            Self::DecryptionFailed => "decryption_failed",
            Self::KmsUnavailable => "kms_unavailable",
            Self::AuditUnavailable => "audit_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl ResponseError for UnwrapError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidDocumentId
            | Self::InvalidBase64(_)
            | Self::InvalidStanza(_)
            | Self::UnsupportedKem
            | Self::InvalidPublicKey
            | Self::KeyMismatch
            | Self::DecryptionFailed => StatusCode::BAD_REQUEST,
            Self::DocumentNotFound | Self::KeyNotFound => StatusCode::NOT_FOUND,
            Self::Forbidden | Self::KeyRevoked => StatusCode::FORBIDDEN,
            Self::KmsUnavailable | Self::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(detail) = self {
            tracing::error!(detail, "unwrap failed");
        }
        json_error(self.status_code(), self.code(), self.to_string())
    }
}

impl From<DbError> for UnwrapError {
    fn from(e: DbError) -> Self {
        Self::Internal(e.to_string())
    }
}

async fn key_exists(state: &AppState, id: u32) -> Result<bool, DbError> {
    let Ok(id) = i32::try_from(id) else {
        return Ok(false);
    };
    let client = state.db.get().await?;
    Ok(client
        .query_opt("SELECT 1 FROM encryption_keys WHERE id = $1", &[&id])
        .await?
        .is_some())
}

fn decode(field: &'static str, value: &str) -> Result<Vec<u8>, UnwrapError> {
    STANDARD
        .decode(value.trim())
        .map_err(|_| UnwrapError::InvalidBase64(field))
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
) -> Result<HttpResponse, UnwrapError> {
    let client = ClientInfo::from_request(&req);
    let result = unwrap_inner(&state, &user, &client, &path, &body).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    };
    state.metrics.unwraps.with_label_values(&[outcome]).inc();
    result
}

async fn unwrap_inner(
    state: &AppState,
    user: &AuthenticatedUser,
    client: &ClientInfo,
    path: &str,
    body: &UnwrapRequest,
) -> Result<HttpResponse, UnwrapError> {
    let document_id = DocumentId::parse(path).map_err(|_| UnwrapError::InvalidDocumentId)?;
    let doc_hex = document_id.to_string();
    let stanza_bytes = decode("stanza", &body.stanza)?;
    let stanza = Stanza::parse_exact(&stanza_bytes)
        .map_err(|e| UnwrapError::InvalidStanza(e.to_string()))?;
    if stanza.kem != KemId::ML_KEM_768 {
        return Err(UnwrapError::UnsupportedKem);
    }
    if stanza.key_id == TRANSPORT_KEY_ID {
        return Err(UnwrapError::InvalidStanza(
            "key id 0 is reserved for transport stanzas".into(),
        ));
    }
    let ephemeral =
        PublicKey::from_bytes(&decode("ephemeral_public_key", &body.ephemeral_public_key)?)
            .map_err(|_| UnwrapError::InvalidPublicKey)?;

    // From here on every refusal is audited.
    let doc_ref: &str = &doc_hex;
    let refuse = |key_id: Option<i32>, err: UnwrapError| async move {
        let entry = Entry {
            document_id: Some(doc_ref),
            access_type: AccessType::Decrypt,
            user_id: user.id,
            client,
            key_id,
            refusal: Some(err.code()),
        };
        if let Err(e) = audit::record(&state.hot, &entry).await {
            tracing::error!(error = %e, "could not audit a refusal");
        }
        tracing::warn!(code = err.code(), "unwrap refused");
        Err(err)
    };

    let Some(doc) = DocumentAccess::load(&state.hot, &doc_hex, user.id).await? else {
        return refuse(None, UnwrapError::DocumentNotFound).await;
    };
    // Owner, grantee (issue 5) or admin.
    if !doc.may_read(user) {
        return refuse(Some(doc.key_id.get()), UnwrapError::Forbidden).await;
    }
    if stanza.key_id != doc.key_id.as_u32() {
        let err = if key_exists(state, stanza.key_id).await? {
            UnwrapError::KeyMismatch
        } else {
            UnwrapError::KeyNotFound
        };
        return refuse(Some(doc.key_id.get()), err).await;
    }
    if doc.revoked() {
        return refuse(Some(doc.key_id.get()), UnwrapError::KeyRevoked).await;
    }
    let secret = match state.secret_key(doc.key_id, &doc.wrapped).await {
        Ok(k) => k,
        Err(KmsError::Unavailable(why)) => {
            tracing::warn!(why, "KMS unavailable");
            return Err(UnwrapError::KmsUnavailable);
        }
        Err(e) => return Err(UnwrapError::Internal(e.to_string())),
    };
    let file_key = match stanza::unwrap(&stanza, &document_id, &secret) {
        Ok(k) => k,
        Err(_) => return refuse(Some(doc.key_id.get()), UnwrapError::DecryptionFailed).await,
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
    let entry = Entry {
        document_id: Some(&doc_hex),
        access_type: AccessType::Decrypt,
        user_id: user.id,
        client,
        key_id: Some(doc.key_id.get()),
        refusal: None,
    };
    if let Err(e) = audit::record(&state.hot, &entry).await {
        tracing::error!(error = %e, "audit row not written; refusing the unwrap");
        return Err(UnwrapError::AuditUnavailable);
    }
    tracing::info!(key_id = %doc.key_id, "file key unwrapped");
    Ok(HttpResponse::Ok().json(UnwrapResponse {
        transport_stanza: STANDARD.encode(transport.to_bytes()),
    }))
}

/// One of the caller's documents.
#[derive(Serialize, ToSchema)]
pub struct DocumentSummary {
    /// 32 lowercase hex digits.
    pub document_id: String,
    /// The key the document was registered with.
    pub key_id: i32,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The owner's user name.
    pub owner: String,
    /// The owner granted the caller access (issue 5): the document is not the caller's own.
    pub shared: bool,
    /// A ciphertext is stored on the server (`GET /v1/documents/{id}/content`).
    pub has_content: bool,
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

/// Why a listing failed.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// Bad path parameter.
    #[error("the document id must be 32 hexadecimal digits and not all zeros")]
    InvalidDocumentId,
    /// No such document.
    #[error("no document has this id")]
    DocumentNotFound,
    /// Not the owner (nor an admin).
    #[error("you are not allowed to see this document's history")]
    Forbidden,
    /// Database trouble.
    #[error("internal error")]
    Db(#[from] DbError),
}

impl ResponseError for ListError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidDocumentId => StatusCode::BAD_REQUEST,
            Self::DocumentNotFound => StatusCode::NOT_FOUND,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = match self {
            Self::InvalidDocumentId => "invalid_document_id",
            Self::DocumentNotFound => "document_not_found",
            Self::Forbidden => "forbidden",
            Self::Db(e) => return crate::error::internal("listing failed", e),
        };
        json_error(self.status_code(), code, self.to_string())
    }
}

impl From<tokio_postgres::Error> for ListError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for ListError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Db(e.into())
    }
}

fn rfc3339(t: chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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
) -> Result<HttpResponse, ListError> {
    let client = state.db.get().await?;
    let admin = query.all && user.role == crate::domain::Role::Admin;
    let rows = client
        .query(
            "SELECT d.id, d.key_id, d.created_at, u.name,
                    EXISTS (SELECT 1 FROM document_grants g WHERE g.document_id = d.id AND g.user_id = $1),
                    d.content_size IS NOT NULL
             FROM documents d JOIN users u ON u.id = d.owner_id
             WHERE d.owner_id = $1 OR $2
                OR EXISTS (SELECT 1 FROM document_grants g WHERE g.document_id = d.id AND g.user_id = $1)
             ORDER BY d.created_at DESC, d.id LIMIT $3",
            &[&user.id, &admin, &limit(&query)],
        )
        .await?;
    let documents = rows
        .iter()
        .map(|r| DocumentSummary {
            document_id: r.get(0),
            key_id: r.get(1),
            created_at: rfc3339(r.get(2)),
            owner: r.get(3),
            shared: r.get(4),
            has_content: r.get(5),
        })
        .collect();
    Ok(HttpResponse::Ok().json(DocumentList { documents }))
}

/// One audit-log entry of a document.
#[derive(Serialize, ToSchema)]
pub struct AccessEntry {
    /// `encrypt` or `decrypt`.
    pub access_type: Option<String>,
    /// RFC 3339, UTC.
    pub timestamp: Option<String>,
    /// The user's name (or id, if the user no longer exists).
    pub user: Option<String>,
    /// Client IP address.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// `allowed` or `refused`.
    pub outcome: String,
    /// The refusal's error code.
    pub reason: Option<String>,
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
) -> Result<HttpResponse, ListError> {
    let id = DocumentId::parse(&path)
        .map_err(|_| ListError::InvalidDocumentId)?
        .to_string();
    let client = state.db.get().await?;
    let owner: i32 = client
        .query_opt("SELECT owner_id FROM documents WHERE id = $1", &[&id])
        .await?
        .ok_or(ListError::DocumentNotFound)?
        .get(0);
    if !user.may_unwrap(owner) {
        return Err(ListError::Forbidden);
    }
    let rows = client
        .query(
            "SELECT a.access_type, a.timestamp, COALESCE(u.name, a.user_id), host(a.ip_address), a.user_agent, a.outcome, a.reason
             FROM access_logs a LEFT JOIN users u ON u.id::text = a.user_id
             WHERE a.document_id = $1 ORDER BY a.timestamp DESC, a.id DESC LIMIT $2",
            &[&id, &limit(&query)],
        )
        .await?;
    let entries = rows
        .iter()
        .map(|r| AccessEntry {
            access_type: r.get(0),
            timestamp: r.get::<_, Option<chrono::NaiveDateTime>>(1).map(rfc3339),
            user: r.get(2),
            ip_address: r.get(3),
            user_agent: r.get(4),
            outcome: r.get(5),
            reason: r.get(6),
        })
        .collect();
    Ok(HttpResponse::Ok().json(AccessHistory { entries }))
}

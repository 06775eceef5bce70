//! `PUT`/`GET /v1/documents/{id}/content`: optional storage of a document's
//! ciphertext so users can share a file by id. The upload is streamed to
//! disk (bounded by `max_content_bytes`); the server parses only its header
//! (right document, a stanza for the document's key) and never sees a
//! plaintext.

use actix_files::NamedFile;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, ContentType};
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, put, web};
use futures_util::StreamExt;
use pqfile_core::format::{Header, KemId, MAX_HEADER_LEN, ParseError};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;

use crate::access::DocumentAccess;
use crate::audit::{self, AccessType, ClientInfo, Entry};
use crate::content;
use crate::db::DbError;
use crate::domain::{AuthenticatedUser, DocumentId};
use crate::error::{ErrorBody, json_error};
use crate::state::AppState;

/// Answer to an upload.
#[derive(Serialize, ToSchema)]
pub struct ContentStored {
    /// 32 hex digits.
    pub document_id: String,
    /// Bytes stored.
    pub size: i64,
}

/// Why content could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// Bad path parameter.
    #[error("the document id must be 32 hexadecimal digits and not all zeros")]
    InvalidDocumentId,
    /// No such document.
    #[error("no document has this id")]
    DocumentNotFound,
    /// Not allowed (upload: owner only; download: owner, grantee, admin).
    #[error("you are not allowed to access this document's content")]
    Forbidden,
    /// Nothing stored for the document.
    #[error("no content is stored for this document")]
    NoContent,
    /// Over `max_content_bytes`.
    #[error("the content is larger than this server accepts ({0} bytes)")]
    TooLarge(u64),
    /// The body does not start with a valid header.
    #[error("the body does not start with a valid pqfile header: {0}")]
    InvalidHeader(String),
    /// The header names another document.
    #[error("the file's header belongs to another document than the one in the URL")]
    DocumentMismatch,
    /// No stanza for the document's key.
    #[error("the file's header has no stanza for the key this document depends on")]
    KeyMismatch,
    /// The client stopped sending.
    #[error("the upload was interrupted")]
    Interrupted,
    /// The audit row could not be written.
    #[error("the access could not be audited, so it was refused; try again later")]
    AuditUnavailable,
    /// Disk trouble (logged, not shown).
    #[error("the content could not be stored or read")]
    Storage(#[from] std::io::Error),
    /// Database trouble.
    #[error("internal error")]
    Db(#[from] DbError),
}

impl ContentError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidDocumentId => "invalid_document_id",
            Self::DocumentNotFound => "document_not_found",
            Self::Forbidden => "forbidden",
            Self::NoContent => "no_content",
            Self::TooLarge(_) => "content_too_large",
            Self::InvalidHeader(_) => "invalid_header",
            Self::DocumentMismatch => "document_mismatch",
            Self::KeyMismatch => "key_mismatch",
            Self::Interrupted => "upload_interrupted",
            Self::AuditUnavailable => "audit_unavailable",
            Self::Storage(_) => "storage_error",
            Self::Db(_) => "internal_error",
        }
    }
}

impl ResponseError for ContentError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidDocumentId
            | Self::InvalidHeader(_)
            | Self::DocumentMismatch
            | Self::KeyMismatch
            | Self::Interrupted => StatusCode::BAD_REQUEST,
            Self::DocumentNotFound | Self::NoContent => StatusCode::NOT_FOUND,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Storage(_) | Self::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Storage(e) => tracing::error!(error = %e, "content storage failed"),
            Self::Db(e) => return crate::error::internal("content request failed", e),
            _ => {}
        }
        json_error(self.status_code(), self.code(), self.to_string())
    }
}

impl From<tokio_postgres::Error> for ContentError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for ContentError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Db(e.into())
    }
}

async fn refuse(
    state: &AppState,
    user: &AuthenticatedUser,
    client: &ClientInfo,
    doc: &str,
    access_type: AccessType,
    key_id: Option<i32>,
    err: ContentError,
) -> ContentError {
    audit::record_refusal(
        &state.hot,
        &Entry {
            document_id: Some(doc),
            access_type,
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
        .with_label_values(&[access_type.as_str(), err.code()])
        .inc();
    err
}

/// Parses the document id and loads the caller's access to it, refusing (and
/// auditing) an unknown document or a caller `permitted` does not accept.
async fn authorize(
    state: &AppState,
    user: &AuthenticatedUser,
    client: &ClientInfo,
    path: &str,
    access_type: AccessType,
    permitted: fn(&DocumentAccess, &AuthenticatedUser) -> bool,
) -> Result<(DocumentId, DocumentAccess), ContentError> {
    let document_id = DocumentId::parse(path).map_err(|_| ContentError::InvalidDocumentId)?;
    let doc = document_id.to_string();
    let (key_id, err) = match DocumentAccess::load(&state.hot, &doc, user.id).await? {
        Some(a) if permitted(&a, user) => return Ok((document_id, a)),
        Some(a) => (Some(a.key_id.get()), ContentError::Forbidden),
        None => (None, ContentError::DocumentNotFound),
    };
    Err(refuse(state, user, client, &doc, access_type, key_id, err).await)
}

/// Checks the first bytes of an upload once they hold a whole header.
/// `Ok(None)`: more bytes needed.
fn check_header(
    buf: &[u8],
    document_id: &DocumentId,
    key_id: u32,
) -> Result<Option<()>, ContentError> {
    match Header::parse(buf) {
        Ok((h, _)) => {
            if h.document_id != *document_id {
                return Err(ContentError::DocumentMismatch);
            }
            if !h
                .stanzas
                .iter()
                .any(|s| s.kem == KemId::ML_KEM_768 && s.key_id == key_id)
            {
                return Err(ContentError::KeyMismatch);
            }
            Ok(Some(()))
        }
        Err(ParseError::Incomplete { .. }) if buf.len() <= MAX_HEADER_LEN => Ok(None),
        Err(e) => Err(ContentError::InvalidHeader(e.to_string())),
    }
}

/// Stores the document's ciphertext (owner only), replacing any earlier one.
#[utoipa::path(
    put, path = "/v1/documents/{document_id}/content", tag = "sharing",
    params(("document_id" = String, Path, description = "32 hex digits")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The whole .pqf file"),
    responses(
        (status = 201, description = "Stored", body = ContentStored),
        (status = 400, description = "Not a pqfile of this document / key", body = ErrorBody),
        (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 404, description = "Unknown document", body = ErrorBody),
        (status = 413, description = "Larger than max_content_bytes", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[put("/documents/{document_id}/content")]
#[tracing::instrument(name = "upload", skip_all, fields(user_id = user.id, document_id = %path.as_str()))]
pub async fn put_content(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
    path: web::Path<String>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ContentError> {
    let client = ClientInfo::from_request(&req);
    let up = AccessType::Upload;
    let (document_id, access) =
        authorize(&state, &user, &client, &path, up, DocumentAccess::is_owner).await?;
    let doc = document_id.to_string();
    let key_id = Some(access.key_id.get());
    let max = state.settings.max_content_bytes;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(refuse(
            &state,
            &user,
            &client,
            &doc,
            up,
            key_id,
            ContentError::TooLarge(max),
        )
        .await);
    }

    let dir = state.settings.content_dir();
    tokio::fs::create_dir_all(&dir).await?;
    let temp = content::temp_path_for(&dir, &doc);
    let written = async {
        let mut file = tokio::fs::File::create(&temp).await?;
        let mut head: Vec<u8> = Vec::new();
        let mut header_ok = false;
        let mut size: u64 = 0;
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| ContentError::Interrupted)?;
            size += chunk.len() as u64;
            if size > max {
                return Err(ContentError::TooLarge(max));
            }
            if !header_ok {
                head.extend_from_slice(&chunk);
                if check_header(&head, &document_id, access.key_id.as_u32())?.is_some() {
                    header_ok = true;
                    head = Vec::new();
                }
            }
            file.write_all(&chunk).await?;
        }
        if !header_ok {
            return Err(ContentError::InvalidHeader(
                "the body ends inside the header".into(),
            ));
        }
        file.sync_all().await?;
        Ok(size)
    }
    .await;
    let size = match written {
        Ok(n) => i64::try_from(n).unwrap_or(i64::MAX),
        Err(e) => {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(match e {
                ContentError::Storage(_) | ContentError::Db(_) => e,
                e => refuse(&state, &user, &client, &doc, up, key_id, e).await,
            });
        }
    };

    // The size and the audit row commit together, and only with the file in place.
    let mut db = state.db.get().await?;
    let tx = db.transaction().await?;
    tx.execute(
        "UPDATE documents SET content_size = $1, content_uploaded_at = CURRENT_TIMESTAMP WHERE id = $2",
        &[&size, &doc],
    )
    .await?;
    let audited = tx
        .execute(
            "INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome)
             VALUES ($1, 'upload', $2, $3, $4, $5, 'allowed')",
            &[&doc, &user.id.to_string(), &client.ip, &client.user_agent, &key_id],
        )
        .await;
    if audited.is_err() {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(ContentError::AuditUnavailable);
    }
    let target = content::path_for(&dir, &doc);
    if let Err(e) = tokio::fs::rename(&temp, &target).await {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(e.into());
    }
    tx.commit().await?;
    tracing::info!(size, "content stored");
    Ok(HttpResponse::Created().json(ContentStored {
        document_id: doc,
        size,
    }))
}

/// Streams the stored ciphertext (owner, grantee or admin).
#[utoipa::path(
    get, path = "/v1/documents/{document_id}/content", tag = "sharing",
    params(("document_id" = String, Path, description = "32 hex digits")),
    responses(
        (status = 200, description = "The .pqf file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 403, description = "Not owner, grantee or admin", body = ErrorBody),
        (status = 404, description = "Unknown document (document_not_found) or nothing stored (no_content)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/documents/{document_id}/content")]
#[tracing::instrument(name = "download", skip_all, fields(user_id = user.id, document_id = %path.as_str()))]
pub async fn get_content(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
    path: web::Path<String>,
) -> Result<HttpResponse, ContentError> {
    let client = ClientInfo::from_request(&req);
    let down = AccessType::Download;
    let (document_id, access) = authorize(
        &state,
        &user,
        &client,
        &path,
        down,
        DocumentAccess::may_read,
    )
    .await?;
    let doc = document_id.to_string();
    let key_id = Some(access.key_id.get());
    if access.content_size.is_none() {
        return Err(refuse(
            &state,
            &user,
            &client,
            &doc,
            down,
            key_id,
            ContentError::NoContent,
        )
        .await);
    }
    let file = NamedFile::open(content::path_for(&state.settings.content_dir(), &doc))?
        .set_content_type(ContentType::octet_stream().0)
        .use_etag(false)
        .use_last_modified(false);
    let entry = Entry {
        document_id: Some(&doc),
        access_type: down,
        user_id: user.id,
        client: &client,
        key_id,
        refusal: None,
    };
    if audit::record(&state.hot, &entry).await.is_err() {
        return Err(ContentError::AuditUnavailable);
    }
    Ok(file.into_response(&req))
}

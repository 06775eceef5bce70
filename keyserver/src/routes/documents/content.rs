//! `PUT`/`GET /v1/documents/{id}/content`: optional storage of a document's
//! ciphertext so users can share a file by id. The upload is streamed to
//! disk (bounded by `max_content_bytes`); the server parses only its header
//! (right document, a stanza for the document's key) and never sees a
//! plaintext.

use actix_files::NamedFile;
use actix_web::http::header::{CONTENT_LENGTH, ContentType};
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, put, web};
use futures_util::StreamExt;
use pqfile_core::format::{Header, KemId};
use pqfile_core::{HeaderRead, HeaderReader};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;

use crate::audit::AccessType;
use crate::authorize::{self, Attempt, Rule};
use crate::content;
use crate::domain::{AuthenticatedUser, DocumentId};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::documents;

/// Answer to an upload.
#[derive(Serialize, ToSchema)]
pub struct ContentStored {
    /// 32 hex digits.
    pub document_id: String,
    /// Bytes stored.
    pub size: i64,
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(ErrorCode::ContentTooLarge).message(format!(
        "the content is larger than this server accepts ({max} bytes)"
    ))
}

/// The sentence of a refused upload or download.
const FORBIDDEN: &str = "you are not allowed to access this document's content";

/// Checks an upload's header: the document in the URL, and a stanza for the
/// key this document depends on.
fn check_header(h: &Header, document_id: &DocumentId, key_id: u32) -> Result<(), ApiError> {
    if h.document_id != *document_id {
        return Err(ApiError::new(ErrorCode::DocumentMismatch)
            .message("the file's header belongs to another document than the one in the URL"));
    }
    if !h
        .stanzas
        .iter()
        .any(|s| s.kem == KemId::ML_KEM_768 && s.key_id == key_id)
    {
        return Err(ApiError::new(ErrorCode::KeyMismatch)
            .message("the file's header has no stanza for the key this document depends on"));
    }
    Ok(())
}

/// The start of an `invalid_header` sentence of an upload.
const NOT_A_HEADER: &str = "the body does not start with a valid pqfile header";

/// Stores the document's ciphertext (owner only), replacing any earlier one.
#[utoipa::path(
    put, path = "/v1/documents/{document_id}/content", tag = "sharing",
    params(("document_id" = String, Path, description = "32 hex digits, not all zeros", pattern = "^[0-9a-fA-F]{32}$")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The whole .pqf file"),
    responses(
        (status = 201, description = "Stored", body = ContentStored),
        (status = 400, description = "bad_document_id; not a pqfile of this document and key: invalid_header, document_mismatch, key_mismatch; upload_interrupted", body = ErrorBody),
        (status = 403, description = "forbidden: not the owner; quota_exceeded: over `quota_stored_bytes`", body = ErrorBody),
        (status = 404, description = "document_not_found", body = ErrorBody),
        (status = 413, description = "content_too_large: larger than max_content_bytes", body = ErrorBody),
        (status = 503, description = "audit_unavailable: the upload could not be audited, so nothing was stored", body = ErrorBody),
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
) -> Result<HttpResponse, ApiError> {
    let document_id = authorize::document_id(&path)?;
    let attempt = Attempt::new(&req, &state, &user, AccessType::Upload, Some(&document_id));
    let access = attempt.load(Rule::Own, FORBIDDEN).await?;
    let doc = document_id.to_string();
    let key_id = Some(access.key_id);
    let max = state.settings.max_content_bytes;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(attempt.refuse(key_id, too_large(max)).await);
    }

    let dir = state.settings.content_dir();
    tokio::fs::create_dir_all(&dir).await?;
    let temp = content::temp_path_for(&dir, &doc);
    let written = async {
        let mut file = tokio::fs::File::create(&temp).await?;
        // The core's reader: it keeps only the header's bytes, never the payload.
        let mut reader = Some(HeaderReader::new());
        let mut size: u64 = 0;
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::new(if crate::body_timeout::is_timeout(&e) {
                    ErrorCode::BodyTimeout
                } else {
                    ErrorCode::UploadInterrupted
                })
            })?;
            size += chunk.len() as u64;
            if size > max {
                return Err(too_large(max));
            }
            if let Some(r) = reader.as_mut() {
                let read = r
                    .push(&chunk)
                    .map_err(|e| ApiError::core(ErrorCode::InvalidHeader, NOT_A_HEADER, &e))?;
                if let HeaderRead::Complete { header, .. } = read {
                    check_header(&header, &document_id, access.key_id.as_u32())?;
                    reader = None;
                }
            }
            file.write_all(&chunk).await?;
        }
        if reader.is_some() {
            return Err(ApiError::new(ErrorCode::InvalidHeader)
                .message(format!("{NOT_A_HEADER}: the body ends inside the header")));
        }
        file.sync_all().await?;
        Ok(size)
    }
    .await;
    let size = match written {
        Ok(n) => i64::try_from(n).unwrap_or(i64::MAX),
        Err(e) => {
            let _ = tokio::fs::remove_file(&temp).await;
            // Disk trouble is ours; anything else is the upload's fault.
            return Err(if e.status_code().is_server_error() {
                e
            } else {
                attempt.refuse(key_id, e).await
            });
        }
    };

    // The size and the audit row commit together, and only with the file in place.
    let mut db = state.db.get().await?;
    let tx = db.transaction().await?;
    let quota = state.settings.quota_stored_bytes;
    if let Err(e) = crate::quota::check_stored_bytes(&tx, user.id, &doc, size, quota).await {
        drop(tx);
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(attempt.refuse(key_id, e).await);
    }
    documents::set_content_size(&tx, &doc, size).await?;
    if let Err(e) = attempt.record_allowed_in(&tx, key_id, None).await {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(e);
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
    params(("document_id" = String, Path, description = "32 hex digits, not all zeros", pattern = "^[0-9a-fA-F]{32}$")),
    responses(
        (status = 200, description = "The .pqf file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "bad_document_id", body = ErrorBody),
        (status = 403, description = "forbidden: not owner, grantee or admin", body = ErrorBody),
        (status = 404, description = "Unknown document (document_not_found) or nothing stored (no_content)", body = ErrorBody),
        (status = 503, description = "audit_unavailable: the download could not be audited, so nothing was sent", body = ErrorBody),
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
) -> Result<HttpResponse, ApiError> {
    let document_id = authorize::document_id(&path)?;
    let attempt = Attempt::new(
        &req,
        &state,
        &user,
        AccessType::Download,
        Some(&document_id),
    );
    let access = attempt.load(Rule::Read, FORBIDDEN).await?;
    let doc = document_id.to_string();
    let key_id = Some(access.key_id);
    if access.content_size.is_none() {
        return Err(attempt.refuse(key_id, ErrorCode::NoContent).await);
    }
    let file = NamedFile::open(content::path_for(&state.settings.content_dir(), &doc))?
        .set_content_type(ContentType::octet_stream().0)
        .use_etag(false)
        .use_last_modified(false);
    attempt.record_allowed(key_id).await?;
    let mut resp = file.into_response(&req);
    // The download wrote its own audit row.
    resp.extensions_mut().insert(crate::request_audit::Audited);
    Ok(resp)
}

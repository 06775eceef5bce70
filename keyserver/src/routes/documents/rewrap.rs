//! `POST /v1/documents/{id}/rewrap`: re-seals a document's file key from the
//! key it depends on to a current key and returns the new header
//! (FORMAT.md §8). Only the header travels: rewrap is O(header), whatever
//! the size of the file.

use actix_web::{HttpRequest, HttpResponse, ResponseError, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pqfile_core::format::{Header, ParseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AccessType;
use crate::authorize::{self, Attempt, Rule};
use crate::content;
use crate::domain::{AuthenticatedUser, Role};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::rewrap::{Choice, choose_stanza, key_ids, open_header, reseal};
use crate::state::AppState;
use crate::store::documents::{self, KeyUse};
use crate::store::{keys, rotations};

/// Body of a rewrap.
#[derive(Deserialize, ToSchema)]
pub struct RewrapRequest {
    /// Standard base64 of the file's whole header, MAC included (FORMAT.md §2–§5).
    pub header: String,
}

/// Answer to a rewrap.
#[derive(Serialize, ToSchema)]
pub struct RewrapResponse {
    /// Standard base64 of the new header: the stanza for the old key replaced
    /// by one for `key_id`, MAC recomputed. Put it in place of the old header.
    pub header: String,
    /// The key the document now depends on.
    pub key_id: i32,
    /// The key it depended on before.
    pub replaced_key_id: i32,
}

/// Verifies the header with a key of the document's history (its stanza for
/// the most recent usable key) and re-seals its file key to the least-used
/// active key, which joins the history and becomes the document's current
/// key; every earlier key stays, so no other copy is stranded. The history,
/// the rotation it may complete, the stored ciphertext's header and the
/// audit row change together or not at all.
#[utoipa::path(
    post, path = "/v1/documents/{document_id}/rewrap", tag = "lifecycle",
    params(("document_id" = String, Path, description = "32 hex digits, not all zeros", pattern = "^[0-9a-fA-F]{32}$")),
    request_body = RewrapRequest,
    responses(
        (status = 200, description = "The new header", body = RewrapResponse),
        (status = 400, description = "Bad header, header of another document, no stanza for the document's key, tampered header", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not owner/grantee/admin, or the key is revoked or expired (admins may still rescue)", body = ErrorBody),
        (status = 404, description = "Unknown document", body = ErrorBody),
        (status = 409, description = "stored_header_mismatch: the server stores another copy of this document", body = ErrorBody),
        (status = 503, description = "KMS, audit log or key pool unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/documents/{document_id}/rewrap")]
#[tracing::instrument(name = "rewrap", skip_all, fields(user_id = user.id, document_id = %path.as_str()))]
pub async fn rewrap_document(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<AuthenticatedUser>,
    path: web::Path<String>,
    body: web::Json<RewrapRequest>,
) -> Result<HttpResponse, ApiError> {
    let result = rewrap_inner(&req, &state, &user, &path, &body).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code().as_str(),
    };
    state.metrics.rewraps.with_label_values(&[outcome]).inc();
    if let Err(e) = &result
        && e.status_code().is_client_error()
    {
        state
            .metrics
            .refusals
            .with_label_values(&["rewrap", e.code().as_str()])
            .inc();
    }
    result
}

async fn rewrap_inner(
    req: &HttpRequest,
    state: &AppState,
    user: &AuthenticatedUser,
    path: &str,
    body: &RewrapRequest,
) -> Result<HttpResponse, ApiError> {
    let document_id = authorize::document_id(path)?;
    let doc_hex = document_id.to_string();
    let raw = STANDARD.decode(body.header.trim()).map_err(|_| {
        ApiError::new(ErrorCode::InvalidBase64).message("`header` is not valid standard base64")
    })?;
    let header = parse_whole_header(&raw)?;

    let attempt = Attempt::new(req, state, user, AccessType::Rewrap, Some(&document_id));
    if header.document_id != document_id {
        return Err(attempt.refuse(None, ErrorCode::DocumentMismatch).await);
    }
    // Owner, grantee or admin: a rewrap only adds a key to the document's
    // history, so no copy anyone holds stops decrypting because of it.
    attempt
        .load(Rule::Read, "you are not allowed to rewrap this document")
        .await?;
    let admin = user.role == Role::Admin;

    let mut db = state.db.get().await?;
    let tx = db.transaction().await?;
    // Rewraps of one document take turns on its row.
    let Some(locked) = documents::lock(&tx, &doc_hex).await? else {
        return Err(attempt.refuse(None, ErrorCode::DocumentNotFound).await);
    };
    let history = documents::history(&tx, &doc_hex).await?;
    let (key, old_stanza) = match choose_stanza(&header, &history, admin) {
        Choice::Open(key, stanza) => (key, stanza),
        Choice::NoStanza => {
            drop(tx);
            return Err(attempt
                .refuse(Some(locked.key_id), ErrorCode::NoMatchingStanza)
                .await);
        }
        Choice::Refused(key, code) => {
            drop(tx);
            let err = ApiError::new(code).message(match code {
                ErrorCode::KeyExpired => {
                    "the file's key has expired; only an admin can rescue the document"
                }
                _ => "the file's key has been revoked; only an admin can rescue the document",
            });
            return Err(attempt.refuse(Some(key), err).await);
        }
    };
    let old = key.id;
    // Re-checked under a share lock: a revocation since the history was read
    // either waits for this transaction or is seen here.
    let now = documents::key_use(&tx, old)
        .await?
        .unwrap_or(KeyUse::Revoked);
    if let (Some(code), false) = (now.refusal(), admin) {
        drop(tx);
        return Err(attempt.refuse(Some(old), code).await);
    }
    let not_verified = || {
        ApiError::new(ErrorCode::DecryptionFailed)
            .message("the header could not be verified for this document")
    };
    let Some(file_key) = open_header(state, key, old_stanza, &header).await? else {
        drop(tx);
        return Err(attempt.refuse(Some(old), not_verified()).await);
    };

    // Rewraps off a key under rotation take turns on its rotation row.
    rotations::lock_open_from(&tx, locked.key_id).await?;
    let Some((new_id, public_b64)) = keys::take_for_rewrap(&tx, &key_ids(&header)).await? else {
        drop(tx);
        state.refill.notify_one();
        return Err(ErrorCode::NoActiveKey.into());
    };
    let new_header = reseal(&header, &document_id, old, new_id, &public_b64, &file_key)?;
    documents::add_key(&tx, &doc_hex, new_id, Some(user.id)).await?;
    rotations::advance(&tx, Some(locked.key_id)).await?;
    // Fail closed: the change is committed only together with its audit row.
    attempt
        .record_allowed_in(&tx, Some(new_id), Some(&format!("from key {old}")))
        .await
        .map_err(|e| {
            e.message("the rewrap could not be audited, so it was refused; try again later")
        })?;
    let new_bytes = new_header.to_bytes();
    // A stored ciphertext must be this very file: its header is replaced in
    // place (same length: one ML-KEM-768 stanza replaced by another), else
    // nothing is changed at all.
    let dir = state.settings.content_dir();
    if locked.content_size.is_some()
        && !content::replace_header(&dir, &doc_hex, &raw, &new_bytes)
            .await
            .map_err(ApiError::internal)?
    {
        drop(tx);
        return Err(attempt
            .refuse(Some(old), ErrorCode::StoredHeaderMismatch)
            .await);
    }
    if let Err(e) = tx.commit().await {
        if locked.content_size.is_some() {
            let _ = content::replace_header(&dir, &doc_hex, &new_bytes, &raw).await;
        }
        return Err(e.into());
    }
    tracing::info!(old_key_id = %old, new_key_id = %new_id, "document rewrapped");
    Ok(HttpResponse::Ok().json(RewrapResponse {
        header: STANDARD.encode(&new_bytes),
        key_id: new_id.get(),
        replaced_key_id: old.get(),
    }))
}

/// Parses `raw` as exactly one header, nothing before or after it.
pub fn parse_whole_header(raw: &[u8]) -> Result<Header, ApiError> {
    const NOT_ONE: &str = "`header` is not exactly one valid pqfile header";
    match Header::parse(raw) {
        Ok((h, n)) if n == raw.len() => Ok(h),
        Ok((_, n)) => Err(ApiError::new(ErrorCode::InvalidHeader).message(format!(
            "{NOT_ONE}: {} bytes follow the header; send the header only",
            raw.len() - n
        ))),
        Err(e @ ParseError::Incomplete { .. }) => Err(ApiError::new(ErrorCode::InvalidHeader)
            .message(format!("{NOT_ONE}: the header is truncated"))
            .detail(e.code())),
        Err(e) => Err(ApiError::core(ErrorCode::InvalidHeader, NOT_ONE, &e)),
    }
}

//! `POST /v1/documents/{id}/rewrap`: re-seals a document's file key from the
//! key it depends on to a current key and returns the new header
//! (FORMAT.md §8). Only the header travels: rewrap is O(header), whatever
//! the size of the file.

use actix_web::{HttpRequest, HttpResponse, ResponseError, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pqfile_core::format::{Header, KemId, ParseError};
use pqfile_core::mlkem768::PublicKey;
use pqfile_core::stanza::{self, FileKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AccessType;
use crate::authorize::{self, Attempt, Rule};
use crate::content;
use crate::domain::{AuthenticatedUser, DocumentId, KeyId, Role, rng};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::{documents, keys, rotations};

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

/// Verifies the header with the document's current key and re-seals its file
/// key to the least-used active key; records the move (the document's key,
/// the rotation it may complete, the audit row) in one transaction.
#[utoipa::path(
    post, path = "/v1/documents/{document_id}/rewrap", tag = "lifecycle",
    params(("document_id" = String, Path, description = "32 hex digits")),
    request_body = RewrapRequest,
    responses(
        (status = 200, description = "The new header", body = RewrapResponse),
        (status = 400, description = "Bad header, header of another document, no stanza for the document's key, tampered header", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not owner/grantee/admin, or key revoked (admins may still rescue)", body = ErrorBody),
        (status = 404, description = "Unknown document", body = ErrorBody),
        (status = 409, description = "Concurrent rewrap", body = ErrorBody),
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
    let doc = attempt
        .load(Rule::Read, "you are not allowed to rewrap this document")
        .await?;
    let old = doc.key_id;
    let Some(old_stanza) = header
        .stanzas
        .iter()
        .find(|s| s.kem == KemId::ML_KEM_768 && s.key_id == old.as_u32())
    else {
        return Err(attempt.refuse(Some(old), ErrorCode::NoMatchingStanza).await);
    };
    if doc.revoked() && user.role != Role::Admin {
        let err = ApiError::new(ErrorCode::KeyRevoked)
            .message("the document's key has been revoked; only an admin can rescue it");
        return Err(attempt.refuse(Some(old), err).await);
    }
    let not_verified = || {
        ApiError::new(ErrorCode::DecryptionFailed)
            .message("the header could not be verified for this document")
    };
    let Some(file_key) = state.open_stanza(&doc, old_stanza, &document_id).await? else {
        return Err(attempt.refuse(Some(old), not_verified()).await);
    };
    // The header MAC proves the header is the one sealed with this file key:
    // a header with other stanzas added or changed is refused (FORMAT.md M1).
    if !pqfile_core::header::verify_mac(&header, &file_key) {
        return Err(attempt.refuse(Some(old), not_verified()).await);
    }

    let mut db = state.db.get().await?;
    let tx = db.transaction().await?;
    // Rewraps off a key under rotation take turns on its rotation row.
    rotations::lock_open_from(&tx, old).await?;
    let Some((new_id, public_b64)) = keys::take_for_rewrap(&tx, old).await? else {
        drop(tx);
        state.refill.notify_one();
        return Err(ErrorCode::NoActiveKey.into());
    };
    let new_header = reseal(&header, &document_id, old, new_id, &public_b64, &file_key)?;
    if !documents::move_key(&tx, &doc_hex, old, new_id).await? {
        drop(tx);
        return Err(attempt.refuse(Some(old), ErrorCode::RewrapConflict).await);
    }
    rotations::advance(&tx, Some(old)).await?;
    // Fail closed: the move is committed only together with its audit row.
    attempt
        .record_allowed_in(&tx, Some(new_id), Some(&format!("from key {old}")))
        .await
        .map_err(|e| {
            e.message("the rewrap could not be audited, so it was refused; try again later")
        })?;
    let new_bytes = new_header.to_bytes();
    // A stored ciphertext gets the new header in place (same length: one
    // ML-KEM-768 stanza replaced by another), so it stays decryptable.
    let stored = if doc.content_size.is_some() {
        content::replace_header(&state.settings.content_dir(), &doc_hex, &raw, &new_bytes)
            .await
            .map_err(ApiError::internal)?
    } else {
        false
    };
    if let Err(e) = tx.commit().await {
        if stored {
            let _ =
                content::replace_header(&state.settings.content_dir(), &doc_hex, &new_bytes, &raw)
                    .await;
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

fn reseal(
    header: &Header,
    document_id: &DocumentId,
    old: KeyId,
    new: KeyId,
    public_b64: &str,
    file_key: &FileKey,
) -> Result<Header, ApiError> {
    let public = STANDARD
        .decode(public_b64)
        .ok()
        .and_then(|b| PublicKey::from_bytes(&b).ok())
        .ok_or_else(|| ApiError::internal(format!("stored public key {new} is invalid")))?;
    let new_stanza = stanza::wrap(file_key, document_id, new.as_u32(), &public, &mut rng());
    // When the header already holds a stanza for the new key (several
    // recipients), that one is replaced too so S6 holds.
    let mut base = header.clone();
    base.stanzas
        .retain(|s| !(s.kem == KemId::ML_KEM_768 && s.key_id == new.as_u32()));
    pqfile_core::header::replace_stanza(
        &base,
        Some((KemId::ML_KEM_768, old.as_u32())),
        new_stanza,
        file_key,
    )
    .map_err(ApiError::internal)
}

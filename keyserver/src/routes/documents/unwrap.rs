//! `POST /v1/documents/{id}/unwrap`: the document's file key sealed to the
//! caller's ephemeral key (FORMAT.md §7).

use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pqfile_core::format::{KemId, Stanza};
use pqfile_core::mlkem768::PublicKey;
use pqfile_core::stanza::{self, TRANSPORT_KEY_ID};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AccessType;
use crate::authorize::{self, Attempt, Rule};
use crate::domain::{AuthenticatedUser, rng};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::documents::{self, KeyUse};
use crate::store::keys;

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
    /// The key that opened the stanza.
    pub key_id: i32,
    /// That key's state: `active`, or `rotation_queued` when it is being
    /// retired: the copy should then be rewrapped
    /// (`POST /v1/documents/{id}/rewrap`) before `key_expires_at`.
    pub key_status: &'static str,
    /// When that key stops unwrapping (RFC 3339, UTC), if it is set.
    pub key_expires_at: Option<String>,
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
    params(("document_id" = String, Path, description = "32 hex digits, not all zeros", pattern = "^[0-9a-fA-F]{32}$")),
    request_body = UnwrapRequest,
    responses(
        (status = 200, description = "File key sealed to the ephemeral key", body = UnwrapResponse),
        (status = 400, description = "Bad input, key mismatch or decryption_failed", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not owner, grantee or admin; or the key is revoked or expired", body = ErrorBody),
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

    // From here on every refusal is audited. Owner, grantee (issue 5) or
    // admin; the stanza's key must be in the document's history (issue 11).
    let attempt = Attempt::new(req, state, user, AccessType::Decrypt, Some(&document_id));
    let doc = attempt
        .load_with_key(
            Rule::Read,
            "you are not allowed to unwrap this document",
            Some(stanza.key_id),
        )
        .await?;
    let Some(key) = doc.key.as_ref() else {
        let err = if keys::exists(&state.db.get().await?, stanza.key_id).await? {
            ErrorCode::KeyMismatch
        } else {
            ErrorCode::KeyNotFound
        };
        return Err(attempt.refuse(Some(doc.key_id), err).await);
    };
    let key_id = Some(key.id);
    if let Some(refusal) = key.usability().refusal() {
        return Err(attempt.refuse(key_id, refusal).await);
    }
    let Some(file_key) = state.open_stanza(key, &stanza, &document_id).await? else {
        return Err(attempt.refuse(key_id, ErrorCode::DecryptionFailed).await);
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

    // Fail closed: nothing is released unless the access is on record, and
    // the record is written only if the key still unwraps now (a revocation
    // or expiry since the lookup above is seen here).
    if !attempt.record_unwrap(key.id).await? {
        let now = documents::key_use(&state.db.get().await?, key.id).await?;
        let refusal = now
            .and_then(KeyUse::refusal)
            .unwrap_or(ErrorCode::KeyRevoked);
        return Err(attempt.refuse(key_id, refusal).await);
    }
    tracing::info!(key_id = %key.id, "file key unwrapped");
    Ok(HttpResponse::Ok().json(UnwrapResponse {
        transport_stanza: STANDARD.encode(transport.to_bytes()),
        key_id: key.id.get(),
        key_status: key.status.as_str(),
        key_expires_at: key.expires_at.map(crate::store::timestamp),
    }))
}

//! `POST /v1/documents`: registering a document on the least-used key.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::ClientInfo;
use crate::domain::{AuthenticatedUser, DocumentId, rng};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::documents::{self, Registration};

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
        (status = 403, description = "quota_exceeded: the caller has `quota_documents` documents", body = ErrorBody),
        (status = 503, description = "no_active_key, database_unavailable", body = ErrorBody),
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
    state
        .document_counts
        .admit(&state.db, user.id, state.settings.quota_documents)
        .await?;
    let client = ClientInfo::from_request(&req);
    let document_id = DocumentId::generate(&mut rng());
    let reg = Registration {
        document_id: &document_id,
        owner_id: user.id,
        ip: client.ip,
        user_agent: client.user_agent.as_deref(),
        seal: state.audit_seal(),
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
    state.document_counts.registered(user.id);
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

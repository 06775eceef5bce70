//! The access log (`access_logs`): every document access and every refusal,
//! with user id, client IP and user agent. The rows are written through
//! `authorize::Attempt` (or in the statement that makes the change); the
//! SQL is in `store::access_logs`.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::USER_AGENT;

use crate::pipeline::Pipelined;
use crate::store::access_logs;

/// The client side of a request, as the audit log records it.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// The TCP peer address (forwarding headers are not trusted).
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header, at most 512 characters.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// Reads the client address (`client_address`) and user agent of `req`.
    pub fn from_request(req: &HttpRequest) -> Self {
        let user_agent = req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect());
        Self {
            // The peer, or the client a trusted proxy names.
            ip: crate::client_address::of(req),
            user_agent,
        }
    }
}

/// An `access_type` value (issue 4: encrypt, decrypt, download, upload;
/// issue 5 adds rewrap, share and admin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessType {
    /// A document was registered and given a key.
    Encrypt,
    /// A document's file key was unwrapped.
    Decrypt,
    /// A document's header was rewrapped to a current key.
    Rewrap,
    /// A document's ciphertext was stored.
    Upload,
    /// A document's stored ciphertext was read.
    Download,
    /// The owner granted or revoked another user's access.
    Share,
    /// An admin route (lifecycle, monitoring, retention).
    Admin,
    /// A read of protected data (document lists, access history, grants).
    Read,
    /// A request refused before the caller was known (401).
    Auth,
    /// A refusal on a route that is none of the above.
    Request,
}

impl AccessType {
    /// The database value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Encrypt => "encrypt",
            Self::Decrypt => "decrypt",
            Self::Rewrap => "rewrap",
            Self::Upload => "upload",
            Self::Download => "download",
            Self::Share => "share",
            Self::Admin => "admin",
            Self::Read => "read",
            Self::Auth => "auth",
            Self::Request => "request",
        }
    }
}

/// One `access_logs` row.
pub struct Entry<'a> {
    /// The document (32 hex digits), if the request named one.
    pub document_id: Option<&'a str>,
    /// What was attempted.
    pub access_type: AccessType,
    /// `users.id` of the caller (`None`: not authenticated).
    pub user_id: Option<i32>,
    /// Client address and agent.
    pub client: &'a ClientInfo,
    /// The key involved, if it exists.
    pub key_id: Option<i32>,
    /// `None` when access was granted; the refusal's error code otherwise.
    pub refusal: Option<&'a str>,
    /// The row's seal (`audit_chain::key::AuditKey::seal`).
    pub seal: Option<Vec<u8>>,
}

/// The `access_type` values, for validating filters.
pub const ACCESS_TYPES: [&str; 10] = [
    "encrypt", "decrypt", "rewrap", "upload", "download", "share", "admin", "read", "auth",
    "request",
];

/// Records a refusal. A failure to write it is logged: the request is
/// refused either way.
pub async fn record_refusal(db: &Pipelined, e: &Entry<'_>) {
    if let Err(err) = access_logs::insert(db, e).await {
        tracing::error!(error = %err, "could not audit a refusal");
    }
    tracing::warn!(
        code = e.refusal,
        access_type = e.access_type.as_str(),
        "request refused"
    );
}

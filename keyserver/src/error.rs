//! The one error every route answers with, and its JSON body:
//! `{"error": {"code": "<stable_snake_case>", "message": "<one sentence>"}}`,
//! plus `"detail": "<core code>"` when a pqfile-core error reached the API
//! (e.g. `invalid_header` with `bad_magic`), so the core's name for the
//! failure is not lost.
//!
//! A failure has one [`ErrorCode`]: the code knows its HTTP status and a
//! default sentence, so a route only says *which* failure happened. Causes
//! (database, pool, KMS, disk) are logged, never shown: a 5xx body carries
//! the code's sentence and nothing of the cause.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::key_pool::FillError;
use crate::kms::KmsError;

/// The error envelope.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable machine code and a human sentence.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code clients branch on: one of [`ErrorCode::ALL`].
    #[schema(schema_with = code_schema)]
    pub code: &'static str,
    /// One sentence for humans; never internals on a 5xx.
    pub message: String,
    /// The pqfile-core code behind the error, when there is one
    /// (`invalid_header` → `bad_magic`, `truncated_header`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
}

/// `ErrorDetail.code` in the OpenAPI document: every wire name, so a client
/// (and the schema-driven fuzzing of `scripts/test.d/70-api-fuzz.sh`) knows
/// the whole vocabulary.
fn code_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
        .description(Some("Stable snake_case code clients branch on."))
        .build()
}

/// Declares [`ErrorCode`] with its wire name, HTTP status and default sentence.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $status:ident, $message:literal;)*) => {
        /// Every failure the HTTP API reports. The wire names are stable.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, for documentation checks.
            pub const ALL: &[ErrorCode] = &[$(Self::$variant,)*];

            /// The stable wire name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $code,)* }
            }

            /// The HTTP status this failure is answered with.
            pub fn status(self) -> StatusCode {
                match self { $(Self::$variant => StatusCode::$status,)* }
            }

            /// The sentence shown when the route has nothing more precise to say.
            pub fn default_message(self) -> &'static str {
                match self { $(Self::$variant => $message,)* }
            }
        }
    };
}

error_codes! {
    /// The body is not the JSON the route expects.
    InvalidJson = "invalid_json", BAD_REQUEST, "the request body is not valid JSON for this route";
    /// A query parameter or body field is invalid.
    InvalidQuery = "invalid_query", BAD_REQUEST, "the query string is invalid";
    /// A retention would delete audit rows younger than the retention floor.
    RetentionBelowFloor = "retention_below_floor", BAD_REQUEST, "audit rows younger than the retention floor may not be deleted";
    /// The document id is not 32 hex digits (or is all zeros): the core's `bad_document_id`.
    BadDocumentId = "bad_document_id", BAD_REQUEST, "the document id must be 32 hexadecimal digits and not all zeros";
    /// The key id is not a positive 31-bit integer.
    InvalidKeyId = "invalid_key_id", BAD_REQUEST, "the key id must be an integer between 1 and 2147483647";
    /// A field is not standard base64.
    InvalidBase64 = "invalid_base64", BAD_REQUEST, "a field is not valid standard base64";
    /// The stanza is not one well-formed stanza encoding.
    InvalidStanza = "invalid_stanza", BAD_REQUEST, "`stanza` is not a valid stanza encoding";
    /// Not a (whole) pqfile header.
    InvalidHeader = "invalid_header", BAD_REQUEST, "not a valid pqfile header";
    /// The stanza's KEM is not implemented.
    UnsupportedKem = "unsupported_kem", BAD_REQUEST, "the stanza's KEM is not supported by this key server";
    /// The ephemeral key is not a valid ML-KEM-768 key.
    InvalidPublicKey = "invalid_public_key", BAD_REQUEST, "`ephemeral_public_key` must be a valid 1184-byte ML-KEM-768 public key";
    /// The header names another document than the URL.
    DocumentMismatch = "document_mismatch", BAD_REQUEST, "the header belongs to another document than the one in the URL";
    /// The stanza or header names another key than the document's.
    KeyMismatch = "key_mismatch", BAD_REQUEST, "the stanza names another key than the one this document was encrypted to";
    /// The header has no stanza for the document's key.
    NoMatchingStanza = "no_matching_stanza", BAD_REQUEST, "the header has no stanza for the key this document depends on";
    /// Decapsulation, the stanza AEAD or the header MAC failed.
    DecryptionFailed = "decryption_failed", BAD_REQUEST, "the stanza could not be unwrapped for this document";
    /// The owner needs no grant.
    SelfGrant = "self_grant", BAD_REQUEST, "the owner cannot be granted access to their own document";
    /// The client stopped sending.
    UploadInterrupted = "upload_interrupted", BAD_REQUEST, "the upload was interrupted";
    /// No `Authorization: Bearer` header.
    MissingToken = "missing_token", UNAUTHORIZED, "this API needs an `Authorization: Bearer <token>` header";
    /// Unknown, revoked or malformed token.
    InvalidToken = "invalid_token", UNAUTHORIZED, "the API token is not one this server issued";
    /// The token is past its expiry (`token create --expires-in-days`).
    TokenExpired = "token_expired", UNAUTHORIZED, "the API token has expired: ask an admin for a new one";
    /// The token was revoked, or its user disabled.
    TokenRevoked = "token_revoked", UNAUTHORIZED, "the API token was revoked";
    /// Over a per-address or per-token rate limit (`rate_limit`).
    RateLimited = "rate_limited", TOO_MANY_REQUESTS, "too many requests from this address or token.";
    /// The request body stopped arriving for `body_read_timeout_secs`.
    BodyTimeout = "body_timeout", REQUEST_TIMEOUT, "the request body stopped arriving; the connection is closed";
    /// Over a per-user quota (`quota`).
    QuotaExceeded = "quota_exceeded", FORBIDDEN, "this would exceed your quota";
    /// The caller may not do this with this document.
    Forbidden = "forbidden", FORBIDDEN, "you are not allowed to access this document";
    /// The route is for admins.
    AdminOnly = "admin_only", FORBIDDEN, "this route is for admins only";
    /// The document's key is revoked.
    KeyRevoked = "key_revoked", FORBIDDEN, "the document's key has been revoked";
    /// The stanza's key has expired (past its rotation grace period).
    KeyExpired = "key_expired", FORBIDDEN, "this key has expired; ask an admin to rescue the document";
    /// No such API route.
    NotFound = "not_found", NOT_FOUND, "no such API route";
    /// No such document.
    DocumentNotFound = "document_not_found", NOT_FOUND, "no document has this id";
    /// No such key.
    KeyNotFound = "key_not_found", NOT_FOUND, "no key has this id";
    /// No such user.
    UserNotFound = "user_not_found", NOT_FOUND, "no user has this name";
    /// The user has no grant on this document.
    GrantNotFound = "grant_not_found", NOT_FOUND, "this user has no grant on this document";
    /// Nothing stored for the document.
    NoContent = "no_content", NOT_FOUND, "no content is stored for this document";
    /// The submitted header is not the stored ciphertext's header.
    StoredHeaderMismatch = "stored_header_mismatch", CONFLICT, "the header does not match the ciphertext stored for this document; fetch the stored copy and rewrap its header";
    /// Over `max_content_bytes`.
    ContentTooLarge = "content_too_large", PAYLOAD_TOO_LARGE, "the content is larger than this server accepts";
    /// The key pool is empty (and the KMS may be down, so it cannot refill).
    NoActiveKey = "no_active_key", SERVICE_UNAVAILABLE, "no encryption key is available right now; try again shortly";
    /// The KMS could not be reached.
    KmsUnavailable = "kms_unavailable", SERVICE_UNAVAILABLE, "the key management service is unavailable; try again later";
    /// The audit row could not be written, so nothing was released or changed.
    AuditUnavailable = "audit_unavailable", SERVICE_UNAVAILABLE, "the access could not be audited, so it was refused; try again later";
    /// The database could not be asked.
    DatabaseUnavailable = "database_unavailable", SERVICE_UNAVAILABLE, "the database is unavailable; try again later";
    /// Disk trouble with stored content.
    StorageError = "storage_error", INTERNAL_SERVER_ERROR, "the content could not be stored or read";
    /// Anything else.
    InternalError = "internal_error", INTERNAL_SERVER_ERROR, "the key server hit an internal error";
}

/// A boxed cause, logged when the error is answered.
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// The error of every route: a code, optionally a more precise sentence, the
/// core code behind it and the (logged, never shown) cause.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: Option<Cow<'static, str>>,
    detail: Option<&'static str>,
    cause: Option<Cause>,
    audited: bool,
}

/// Put in an error response's extensions: the refusal's code and whether a
/// route already wrote its audit row (`request_audit` writes the others).
#[derive(Clone, Copy, Debug)]
pub struct Refusal {
    /// The code answered.
    pub code: ErrorCode,
    /// An audit row was written for it.
    pub audited: bool,
}

impl ApiError {
    /// The failure `code` with its default sentence.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: None,
            detail: None,
            cause: None,
            audited: false,
        }
    }

    /// An unexpected failure: answered `internal_error`, `cause` logged.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::new(ErrorCode::InternalError).caused_by(cause)
    }

    /// A core parse error answered as `code`: its sentence becomes the
    /// message's tail and its code the `detail`.
    pub fn core(code: ErrorCode, prefix: &str, e: &pqfile_core::format::ParseError) -> Self {
        Self::new(code)
            .message(format!("{prefix}: {e}"))
            .detail(e.code())
    }

    /// A more precise sentence than the code's default. Must not hold
    /// internals: on a 5xx say only what failed, put the why in the cause.
    pub fn message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// The pqfile-core code behind this error.
    pub fn detail(mut self, core_code: &'static str) -> Self {
        self.detail = Some(core_code);
        self
    }

    /// The underlying failure, for the log.
    pub fn caused_by(mut self, cause: impl Into<Cause>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    /// The failure's code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// Marks that the refusal's audit row was written (`authorize::Attempt`).
    pub fn audited(mut self) -> Self {
        self.audited = true;
        self
    }

    /// What `request_audit` needs to know of this error.
    pub fn refusal(&self) -> Refusal {
        Refusal {
            code: self.code,
            audited: self.audited,
        }
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self::new(code)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            self.message
                .as_deref()
                .unwrap_or(self.code.default_message()),
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let code = self.code.as_str();
        if let Some(cause) = &self.cause {
            if self.status_code().is_server_error() {
                tracing::error!(code, error = %cause, "request failed");
            } else {
                tracing::warn!(code, error = %cause, "request refused");
            }
        }
        let mut resp = HttpResponse::build(self.status_code()).json(ErrorBody {
            error: ErrorDetail {
                code,
                message: self.to_string(),
                detail: self.detail,
            },
        });
        if self.status_code() == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp.extensions_mut().insert(self.refusal());
        resp
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        Self::internal(e)
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::internal(e)
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::internal(e)
    }
}

/// An unreachable KMS is worth a retry (503); a refusal is an internal fault.
impl From<KmsError> for ApiError {
    fn from(e: KmsError) -> Self {
        match e {
            KmsError::Unavailable(_) => Self::new(ErrorCode::KmsUnavailable).caused_by(e),
            e => Self::internal(e),
        }
    }
}

/// The key pool could not be refilled: a KMS that cannot wrap a new key is
/// worth a retry (503).
impl From<FillError> for ApiError {
    fn from(e: FillError) -> Self {
        match e {
            FillError::Db(e) => e.into(),
            FillError::Kms(e) => Self::new(ErrorCode::KmsUnavailable).caused_by(e),
        }
    }
}

/// Disk trouble with stored content.
impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        Self::new(ErrorCode::StorageError).caused_by(e)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;

    use super::*;

    fn body(e: &ApiError) -> serde_json::Value {
        let bytes = e.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn a_5xx_shows_the_code_sentence_never_the_cause() {
        let e = ApiError::from(DbError::Closed);
        let v = body(&e);
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(v["error"]["code"], "internal_error");
        assert_eq!(
            v["error"]["message"],
            "the key server hit an internal error"
        );
        assert!(!v.to_string().contains("PostgreSQL"), "{v}");
        let e = ApiError::from(KmsError::Unavailable("secret endpoint".into()));
        assert_eq!(e.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!body(&e).to_string().contains("secret endpoint"));
    }

    #[test]
    fn a_core_error_keeps_its_core_code_as_detail() {
        let e = ApiError::core(
            ErrorCode::InvalidHeader,
            "not a header",
            &pqfile_core::format::ParseError::BadMagic,
        );
        let v = body(&e);
        assert_eq!(v["error"]["code"], "invalid_header");
        assert_eq!(v["error"]["detail"], "bad_magic");
        assert!(
            body(&ApiError::new(ErrorCode::Forbidden))["error"]
                .get("detail")
                .is_none()
        );
    }

    /// keyserver/README.md lists every code the API can answer.
    #[test]
    fn every_code_is_documented() {
        let readme = include_str!("../README.md");
        for code in ErrorCode::ALL {
            assert!(
                readme.contains(&format!("`{}`", code.as_str())),
                "keyserver/README.md does not list `{}`",
                code.as_str()
            );
        }
    }
}

//! Every access decision goes through an [`Attempt`]: it checks the caller
//! against a [`Rule`] (or the admin role) and, when it refuses, writes the
//! refusal's audit row, logs it and counts it, so a route cannot refuse
//! without leaving a trace, nor forget the check.

use actix_web::HttpRequest;
use deadpool_postgres::GenericClient;

use crate::audit::{self, AccessType, ClientInfo, Entry};
use crate::domain::{AuthenticatedUser, DocumentId, KeyId, Role};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::store::access_logs;
use crate::store::documents::DocumentAccess;

/// Who may do what with a document (issue 5, sharing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Owner, grantee or admin: unwrap, rewrap, download.
    Read,
    /// The owner only: upload.
    Own,
    /// The owner or an admin: manage grants, read the access history.
    Manage,
}

impl Rule {
    /// Whether `user` may act on `doc` under this rule.
    pub fn permits(self, doc: &DocumentAccess, user: &AuthenticatedUser) -> bool {
        self.allows(user, doc.owner_id, doc.granted)
    }

    /// Whether `user` may act on a document of `owner_id` under this rule;
    /// `granted`: whether the owner granted `user` access.
    pub fn allows(self, user: &AuthenticatedUser, owner_id: i32, granted: bool) -> bool {
        let owner = user.id == owner_id;
        let admin = user.role == Role::Admin;
        match self {
            Self::Read => owner || admin || granted,
            Self::Own => owner,
            Self::Manage => owner || admin,
        }
    }
}

/// One request's attempt at one kind of access, on one document or none.
pub struct Attempt<'a> {
    state: &'a AppState,
    user: &'a AuthenticatedUser,
    client: ClientInfo,
    access_type: AccessType,
    document: Option<String>,
}

/// Parses a document id from a URL path segment.
pub fn document_id(path: &str) -> Result<DocumentId, ApiError> {
    DocumentId::parse(path).map_err(|_| ApiError::new(ErrorCode::BadDocumentId))
}

impl<'a> Attempt<'a> {
    /// `user`'s attempt at `access_type` on `document` (or on no document).
    pub fn new(
        req: &HttpRequest,
        state: &'a AppState,
        user: &'a AuthenticatedUser,
        access_type: AccessType,
        document: Option<&DocumentId>,
    ) -> Self {
        Self::for_client(
            state,
            user,
            ClientInfo::from_request(req),
            access_type,
            document,
        )
    }

    /// As [`Attempt::new`], with the client already read from the request.
    pub fn for_client(
        state: &'a AppState,
        user: &'a AuthenticatedUser,
        client: ClientInfo,
        access_type: AccessType,
        document: Option<&DocumentId>,
    ) -> Self {
        Self {
            state,
            user,
            client,
            access_type,
            document: document.map(ToString::to_string),
        }
    }

    /// The caller.
    pub fn user(&self) -> &AuthenticatedUser {
        self.user
    }

    /// The caller's address and agent, for audit rows written in SQL.
    pub fn client(&self) -> &ClientInfo {
        &self.client
    }

    /// A seal for an audit row written in SQL for this attempt.
    pub fn seal(&self) -> Option<Vec<u8>> {
        self.state.audit_seal()
    }

    /// The document, as the database stores its id.
    pub fn document(&self) -> &str {
        self.document.as_deref().unwrap_or_default()
    }

    /// Refuses with `err`: writes the audit row (a failure to write it is
    /// logged; the request is refused either way), logs and counts it.
    pub async fn refuse(&self, key_id: Option<KeyId>, err: impl Into<ApiError>) -> ApiError {
        let err = err.into().audited();
        let code = err.code().as_str();
        audit::record_refusal(&self.state.hot, &self.entry(key_id, Some(code))).await;
        // Unwrap and rewrap count every outcome themselves (`unwraps`,
        // `rewraps` and rewrap's client errors in `refusals`).
        if !matches!(self.access_type, AccessType::Decrypt | AccessType::Rewrap) {
            self.state
                .metrics
                .refusals
                .with_label_values(&[self.access_type.as_str(), code])
                .inc();
        }
        err
    }

    /// Admins only; anyone else is refused with `admin_only`.
    pub async fn require_admin(&self) -> Result<(), ApiError> {
        if self.user.role == Role::Admin {
            return Ok(());
        }
        Err(self.refuse(None, ErrorCode::AdminOnly).await)
    }

    /// Loads the document and the caller's relation to it, refusing an
    /// unknown document (`document_not_found`) or a caller `rule` does not
    /// permit (`forbidden`, with `forbidden`'s sentence for this route).
    pub async fn load(
        &self,
        rule: Rule,
        forbidden: &'static str,
    ) -> Result<DocumentAccess, ApiError> {
        self.load_with_key(rule, forbidden, None).await
    }

    /// As [`Attempt::load`], with key `key` of the document's history
    /// (`None`: its current key) in [`DocumentAccess::key`].
    pub async fn load_with_key(
        &self,
        rule: Rule,
        forbidden: &'static str,
        key: Option<u32>,
    ) -> Result<DocumentAccess, ApiError> {
        let doc = self.document();
        match DocumentAccess::load(&self.state.hot, doc, self.user.id, key).await? {
            Some(a) if rule.permits(&a, self.user) => Ok(a),
            Some(a) => {
                let err = ApiError::new(ErrorCode::Forbidden).message(forbidden);
                Err(self.refuse(Some(a.key_id), err).await)
            }
            None => Err(self.refuse(None, ErrorCode::DocumentNotFound).await),
        }
    }

    /// Writes the audit row of an access that is granted. Fails closed:
    /// when the row cannot be written, nothing may be released.
    pub async fn record_allowed(&self, key_id: Option<KeyId>) -> Result<(), ApiError> {
        access_logs::insert(&self.state.hot, &self.entry(key_id, None))
            .await
            .map_err(|e| ApiError::new(ErrorCode::AuditUnavailable).caused_by(e))
    }

    /// The audit row of an unwrap about to release a file key through key
    /// `key_id`, written only if that key still unwraps at this moment
    /// (`access_logs::INSERT_IF_KEY_USABLE_SQL`). `Ok(false)`: it was revoked
    /// or expired meanwhile; nothing may be released. Fails closed.
    pub async fn record_unwrap(&self, key_id: KeyId) -> Result<bool, ApiError> {
        access_logs::insert_if_key_usable(&self.state.hot, &self.entry(Some(key_id), None))
            .await
            .map_err(|e| ApiError::new(ErrorCode::AuditUnavailable).caused_by(e))
    }

    /// As [`Attempt::record_allowed`], inside transaction `tx`: the change
    /// it records commits only with its row. `note` fills `reason`.
    pub async fn record_allowed_in(
        &self,
        tx: &impl GenericClient,
        key_id: Option<KeyId>,
        note: Option<&str>,
    ) -> Result<(), ApiError> {
        access_logs::insert_allowed(tx, &self.entry(key_id, None), note)
            .await
            .map_err(|e| ApiError::new(ErrorCode::AuditUnavailable).caused_by(e))
    }

    /// Writes the audit row of an admin action that changed something;
    /// nothing secret is released, so a failure is only logged.
    pub async fn record_action(&self, key_id: Option<KeyId>) {
        if let Err(e) = access_logs::insert(&self.state.hot, &self.entry(key_id, None)).await {
            tracing::error!(error = %e, "could not audit an admin action");
        }
    }

    fn entry(&self, key_id: Option<KeyId>, refusal: Option<&'a str>) -> Entry<'_> {
        Entry {
            document_id: self.document.as_deref(),
            access_type: self.access_type,
            user_id: Some(self.user.id),
            client: &self.client,
            key_id: key_id.map(KeyId::get),
            refusal,
            seal: self.state.audit_seal(),
        }
    }
}

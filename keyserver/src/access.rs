//! Who may do what with a document: the owner, users the owner granted
//! access to, and admins (issue 5, sharing).

use crate::pipeline::Pipelined;

use crate::db::DbError;
use crate::domain::{AuthenticatedUser, KeyId, Role};
use crate::kms::WrappedKey;

/// A document, its key and the caller's relation to it.
pub struct DocumentAccess {
    /// `users.id` of the owner.
    pub owner_id: i32,
    /// The key the document currently depends on.
    pub key_id: KeyId,
    /// That key's status.
    pub key_status: String,
    /// That key's wrapped private key.
    pub wrapped: WrappedKey,
    /// Whether the owner granted the caller access.
    pub granted: bool,
    /// Size of the stored ciphertext, if any.
    pub content_size: Option<i64>,
}

/// `$1` document id, `$2` caller's user id.
pub const DOCUMENT_ACCESS_SQL: &str =
    "SELECT d.owner_id, d.key_id, k.status, k.private_key, k.kms_key_id, k.kms_key_arn,
        EXISTS (SELECT 1 FROM document_grants g WHERE g.document_id = d.id AND g.user_id = $2),
        d.content_size
     FROM documents d JOIN encryption_keys k ON k.id = d.key_id WHERE d.id = $1";

impl DocumentAccess {
    /// Loads document `id` as seen by user `user_id`.
    pub async fn load(db: &Pipelined, id: &str, user_id: i32) -> Result<Option<Self>, DbError> {
        let client = db.conn().await?;
        let stmt = client.prepare_cached(DOCUMENT_ACCESS_SQL).await?;
        Ok(client
            .query_opt(&stmt, &[&id, &user_id])
            .await?
            .map(|r| Self {
                owner_id: r.get(0),
                key_id: KeyId::from_db(r.get(1)),
                key_status: r.get::<_, Option<String>>(2).unwrap_or_default(),
                wrapped: WrappedKey {
                    ciphertext: r.get(3),
                    kms_key_id: r.get::<_, Option<String>>(4).unwrap_or_default(),
                    kms_key_arn: r.get(5),
                },
                granted: r.get(6),
                content_size: r.get(7),
            }))
    }

    /// Owner, grantee or admin: may unwrap, rewrap and download.
    pub fn may_read(&self, user: &AuthenticatedUser) -> bool {
        self.granted || self.is_owner(user) || user.role == Role::Admin
    }

    /// The owner.
    pub fn is_owner(&self, user: &AuthenticatedUser) -> bool {
        user.id == self.owner_id
    }

    /// Whether the document's key is revoked.
    pub fn revoked(&self) -> bool {
        self.key_status == "revoked"
    }
}

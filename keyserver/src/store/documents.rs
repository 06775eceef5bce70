//! `documents`: registration on the least-used key, the per-request access
//! lookup, listings, key moves and stored-content sizes.

use std::net::IpAddr;

use deadpool_postgres::GenericClient;
use serde::Serialize;
use utoipa::ToSchema;

use super::keys::{KeyStatus, take_least_used_key};
use crate::db::{DbError, DbPool};
use crate::domain::{DocumentId, KeyId};
use crate::kms::WrappedKey;
use crate::pipeline::Pipelined;

/// A document, its key and the caller's relation to it.
pub struct DocumentAccess {
    /// `users.id` of the owner.
    pub owner_id: i32,
    /// The key the document currently depends on.
    pub key_id: KeyId,
    /// That key's status.
    pub key_status: KeyStatus,
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
    /// Loads document `id` as seen by user `user_id` (one pipelined statement).
    pub async fn load(db: &Pipelined, id: &str, user_id: i32) -> Result<Option<Self>, DbError> {
        let client = db.conn().await?;
        let stmt = client.prepare_cached(DOCUMENT_ACCESS_SQL).await?;
        Ok(client
            .query_opt(&stmt, &[&id, &user_id])
            .await?
            .map(|r| Self {
                owner_id: r.get(0),
                key_id: KeyId::from_db(r.get(1)),
                key_status: r
                    .get::<_, Option<KeyStatus>>(2)
                    .unwrap_or(KeyStatus::Active),
                wrapped: WrappedKey {
                    ciphertext: r.get(3),
                    kms_key_id: r.get::<_, Option<String>>(4).unwrap_or_default(),
                    kms_key_arn: r.get(5),
                },
                granted: r.get(6),
                content_size: r.get(7),
            }))
    }

    /// Whether the document's key is revoked.
    pub fn revoked(&self) -> bool {
        self.key_status == KeyStatus::Revoked
    }
}

/// The registration statement, taking the least-used key with `$lock`.
macro_rules! register_document_sql {
    ($lock:literal) => {
        concat!(
            "WITH k AS (\n    ",
            take_least_used_key!("", $lock, "id, public_key, algorithm"),
            "),
d AS (INSERT INTO documents (id, owner_id, key_id) SELECT $1, $2, k.id FROM k),
a AS (INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome)
      SELECT $1, 'encrypt', $3, $4, $5, k.id, 'allowed' FROM k)
SELECT id, public_key, algorithm FROM k"
        )
    };
}

/// Registers a document on the least-used active key, increments that key's
/// usage count and writes the `encrypt` audit row, in one statement: either
/// all three happen or none (the audit row fails closed).
/// `$1` document id, `$2` owner, `$3` user id text, `$4` IP, `$5` user agent.
pub const CREATE_DOCUMENT_SQL: &str = register_document_sql!("FOR UPDATE SKIP LOCKED");

/// As [`CREATE_DOCUMENT_SQL`] but waits for a locked key instead of skipping
/// it: the fallback when every active key is momentarily locked.
pub const CREATE_DOCUMENT_WAIT_SQL: &str = register_document_sql!("FOR UPDATE");

/// The key a new document was registered with.
#[derive(Debug, Clone)]
pub struct AcquiredKey {
    /// `encryption_keys.id`.
    pub id: KeyId,
    /// Standard base64 of the 1184-byte public key, as stored.
    pub public_key: String,
    /// KEM algorithm name.
    pub algorithm: String,
}

/// Who is registering a document, for the row and its audit entry.
pub struct Registration<'a> {
    /// The new document's id.
    pub document_id: &'a DocumentId,
    /// `users.id` of the owner.
    pub owner_id: i32,
    /// Client IP address.
    pub ip: Option<IpAddr>,
    /// Client user agent.
    pub user_agent: Option<&'a str>,
}

/// Registers a document on the least-used active key (see
/// [`CREATE_DOCUMENT_SQL`]). `Ok(None)` when no key is active.
pub async fn register(db: &DbPool, r: &Registration<'_>) -> Result<Option<AcquiredKey>, DbError> {
    let client = db.get().await?;
    let doc = r.document_id.to_string();
    let user = r.owner_id.to_string();
    // Tried twice: a wait can end on a key that a rotation, expiry or
    // revocation has just taken out of the pool (no row); by then its
    // replacement is committed.
    for sql in [
        CREATE_DOCUMENT_SQL,
        CREATE_DOCUMENT_WAIT_SQL,
        CREATE_DOCUMENT_SQL,
        CREATE_DOCUMENT_WAIT_SQL,
    ] {
        let stmt = client.prepare_cached(sql).await?;
        let rows = client
            .query(&stmt, &[&doc, &r.owner_id, &user, &r.ip, &r.user_agent])
            .await?;
        if let Some(row) = rows.first() {
            return Ok(Some(AcquiredKey {
                id: KeyId::from_db(row.get(0)),
                public_key: row.get(1),
                algorithm: row.get(2),
            }));
        }
    }
    Ok(None)
}

/// One of the caller's documents.
#[derive(Serialize, ToSchema)]
pub struct DocumentSummary {
    /// 32 lowercase hex digits.
    pub document_id: String,
    /// The key the document was registered with.
    pub key_id: i32,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The owner's user name.
    pub owner: String,
    /// The owner granted the caller access (issue 5): the document is not the caller's own.
    pub shared: bool,
    /// A ciphertext is stored on the server (`GET /v1/documents/{id}/content`).
    pub has_content: bool,
}

/// User `user_id`'s documents and those shared with them (`every`: all
/// documents), newest first, at most `limit`.
pub async fn list(
    db: &impl GenericClient,
    user_id: i32,
    every: bool,
    limit: i64,
) -> Result<Vec<DocumentSummary>, DbError> {
    let rows = db
        .query(
            "SELECT d.id, d.key_id, d.created_at, u.name,
                    EXISTS (SELECT 1 FROM document_grants g WHERE g.document_id = d.id AND g.user_id = $1),
                    d.content_size IS NOT NULL
             FROM documents d JOIN users u ON u.id = d.owner_id
             WHERE d.owner_id = $1 OR $2
                OR EXISTS (SELECT 1 FROM document_grants g WHERE g.document_id = d.id AND g.user_id = $1)
             ORDER BY d.created_at DESC, d.id LIMIT $3",
            &[&user_id, &every, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| DocumentSummary {
            document_id: r.get(0),
            key_id: r.get(1),
            created_at: super::timestamp(r.get(2)),
            owner: r.get(3),
            shared: r.get(4),
            has_content: r.get(5),
        })
        .collect())
}

/// The owner of document `id`, if it exists.
pub async fn owner(db: &impl GenericClient, id: &str) -> Result<Option<i32>, DbError> {
    Ok(db
        .query_opt("SELECT owner_id FROM documents WHERE id = $1", &[&id])
        .await?
        .map(|r| r.get(0)))
}

/// Moves document `id` from key `old` to key `new`; `false` when it no
/// longer depends on `old` (a concurrent rewrap won).
pub async fn move_key(
    tx: &impl GenericClient,
    id: &str,
    old: KeyId,
    new: KeyId,
) -> Result<bool, DbError> {
    let moved = tx
        .execute(
            "UPDATE documents SET key_id = $1 WHERE id = $2 AND key_id = $3",
            &[&new.get(), &id, &old.get()],
        )
        .await?;
    Ok(moved == 1)
}

/// Records the size of document `id`'s stored ciphertext, uploaded now.
pub async fn set_content_size(tx: &impl GenericClient, id: &str, size: i64) -> Result<(), DbError> {
    tx.execute(
        "UPDATE documents SET content_size = $1, content_uploaded_at = CURRENT_TIMESTAMP WHERE id = $2",
        &[&size, &id],
    )
    .await?;
    Ok(())
}

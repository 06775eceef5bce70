//! `documents` and their key history (`document_keys`): registration on the
//! least-used key, the per-request access lookup, listings, the keys a
//! rewrap adds and stored-content sizes.
//!
//! A document can be opened through a stanza for any key in its history
//! that is not revoked or expired; `documents.key_id` is the latest one
//! (rotations count documents by it).

use std::net::IpAddr;

use deadpool_postgres::GenericClient;
use serde::Serialize;
use tokio_postgres::error::SqlState;
use utoipa::ToSchema;

use super::keys::{KeyStatus, take_least_used_key};
use crate::db::{DbError, DbPool};
use crate::domain::{DocumentId, KeyId};
use crate::error::ErrorCode;
use crate::kms::WrappedKey;
use crate::pipeline::Pipelined;

/// One key in a document's history (`document_keys`) and its state.
pub struct DocumentKey {
    /// `encryption_keys.id`.
    pub id: KeyId,
    /// Its status (a missing status counts as `active`).
    pub status: KeyStatus,
    /// When it stops unwrapping, if set.
    pub expires_at: Option<chrono::NaiveDateTime>,
    /// `expires_at` has passed (by the database's clock).
    pub past_expiry: bool,
    /// Its wrapped private key.
    pub wrapped: WrappedKey,
}

/// Whether a key may still open stanzas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUse {
    /// `active` or `rotation_queued`, not past `expires_at`.
    Usable,
    /// Revoked by an admin.
    Revoked,
    /// `expired`, or past `expires_at`.
    Expired,
}

impl KeyUse {
    /// From a status and whether `expires_at` has passed.
    pub fn of(status: KeyStatus, past_expiry: bool) -> Self {
        match status {
            KeyStatus::Revoked => Self::Revoked,
            KeyStatus::Expired => Self::Expired,
            _ if past_expiry => Self::Expired,
            _ => Self::Usable,
        }
    }

    /// The refusal of a non-admin who needs this key.
    pub fn refusal(self) -> Option<ErrorCode> {
        match self {
            Self::Usable => None,
            Self::Revoked => Some(ErrorCode::KeyRevoked),
            Self::Expired => Some(ErrorCode::KeyExpired),
        }
    }
}

impl DocumentKey {
    /// Whether it may open stanzas now.
    pub fn usability(&self) -> KeyUse {
        KeyUse::of(self.status, self.past_expiry)
    }
}

/// The columns [`DocumentKey::from_row`] reads, from `encryption_keys k`.
macro_rules! key_columns {
    () => {
        "k.id, COALESCE(k.status, 'active'), k.expires_at, COALESCE(k.expires_at <= CURRENT_TIMESTAMP, false),
        k.private_key, k.kms_key_id, k.kms_key_arn"
    };
}

impl DocumentKey {
    /// Reads [`key_columns`] starting at column `at`; `None` when `k.id` is NULL.
    fn from_row(r: &tokio_postgres::Row, at: usize) -> Option<Self> {
        let id: Option<i32> = r.get(at);
        Some(Self {
            id: KeyId::from_db(id?),
            status: r.get(at + 1),
            expires_at: r.get(at + 2),
            past_expiry: r.get(at + 3),
            wrapped: WrappedKey {
                ciphertext: r.get(at + 4),
                kms_key_id: r.get::<_, Option<String>>(at + 5).unwrap_or_default(),
                kms_key_arn: r.get(at + 6),
            },
        })
    }
}

/// A document, the caller's relation to it and one key of its history.
pub struct DocumentAccess {
    /// `users.id` of the owner.
    pub owner_id: i32,
    /// The document's current (latest) key.
    pub key_id: KeyId,
    /// Whether the owner granted the caller access.
    pub granted: bool,
    /// Size of the stored ciphertext, if any.
    pub content_size: Option<i64>,
    /// The key asked for (a stanza's key; the current key when none was
    /// named), if it is in the document's history.
    pub key: Option<DocumentKey>,
}

/// `$1` document id, `$2` caller's user id, `$3` the key of the stanza to
/// open (NULL: the current key). The key comes back only if it is in the
/// document's history.
pub const DOCUMENT_ACCESS_SQL: &str = concat!(
    "SELECT d.owner_id, d.key_id,
        EXISTS (SELECT 1 FROM document_grants g WHERE g.document_id = d.id AND g.user_id = $2),
        d.content_size, ",
    key_columns!(),
    "
     FROM documents d
     LEFT JOIN document_keys h ON h.document_id = d.id AND h.key_id = COALESCE($3, d.key_id)
     LEFT JOIN encryption_keys k ON k.id = h.key_id WHERE d.id = $1"
);

impl DocumentAccess {
    /// Loads document `id` as seen by user `user_id`, with history key
    /// `key` (`None`: the current key), in one pipelined statement.
    pub async fn load(
        db: &Pipelined,
        id: &str,
        user_id: i32,
        key: Option<u32>,
    ) -> Result<Option<Self>, DbError> {
        // Key ids are positive `int4`; 0 (the transport id) is in no history.
        let key = key.map(|k| i32::try_from(k).unwrap_or(0));
        let client = db.conn().await?;
        let stmt = client.prepare_cached(DOCUMENT_ACCESS_SQL).await?;
        Ok(client
            .query_opt(&stmt, &[&id, &user_id, &key])
            .await?
            .map(|r| Self {
                owner_id: r.get(0),
                key_id: KeyId::from_db(r.get(1)),
                granted: r.get(2),
                content_size: r.get(3),
                key: DocumentKey::from_row(&r, 4),
            }))
    }
}

/// Every key of document `id`'s history, the most recently added first.
pub async fn history(db: &impl GenericClient, id: &str) -> Result<Vec<DocumentKey>, DbError> {
    let sql = concat!(
        "SELECT ",
        key_columns!(),
        " FROM document_keys h JOIN encryption_keys k ON k.id = h.key_id
          WHERE h.document_id = $1 ORDER BY h.added_at DESC, h.key_id DESC"
    );
    Ok(db
        .query(sql, &[&id])
        .await?
        .iter()
        .filter_map(|r| DocumentKey::from_row(r, 0))
        .collect())
}

/// Document `id` locked for a rewrap (`FOR UPDATE`): rewraps of one
/// document, and an upload, take turns.
pub struct LockedDocument {
    /// Its current key.
    pub key_id: KeyId,
    /// Size of the stored ciphertext, if any.
    pub content_size: Option<i64>,
}

/// Locks document `id` in `tx`; `None` when it does not exist.
pub async fn lock(tx: &impl GenericClient, id: &str) -> Result<Option<LockedDocument>, DbError> {
    Ok(tx
        .query_opt(
            "SELECT key_id, content_size FROM documents WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .map(|r| LockedDocument {
            key_id: KeyId::from_db(r.get(0)),
            content_size: r.get(1),
        }))
}

/// Key `key`'s usability as of now (`None`: no such key). `FOR SHARE`: in a
/// transaction the row stays share-locked until it ends, so a revocation
/// (which updates the row) waits for it, or it sees the revocation.
pub async fn key_use(db: &impl GenericClient, key: KeyId) -> Result<Option<KeyUse>, DbError> {
    Ok(db
        .query_opt(
            "SELECT COALESCE(status, 'active'), COALESCE(expires_at <= CURRENT_TIMESTAMP, false)
             FROM encryption_keys WHERE id = $1 FOR SHARE",
            &[&key.get()],
        )
        .await?
        .map(|r| KeyUse::of(r.get(0), r.get(1))))
}

/// Adds key `new` to document `id`'s history and makes it the current key
/// (`added_by`: the user whose rewrap added it; `None` for the server).
pub async fn add_key(
    tx: &impl GenericClient,
    id: &str,
    new: KeyId,
    added_by: Option<i32>,
) -> Result<(), DbError> {
    tx.execute(
        "WITH h AS (INSERT INTO document_keys (document_id, key_id, added_by) VALUES ($1, $2, $3)
                    ON CONFLICT DO NOTHING)
         UPDATE documents SET key_id = $2 WHERE id = $1",
        &[&id, &new.get(), &added_by],
    )
    .await?;
    Ok(())
}

/// The registration statement, taking the least-used key with `$lock`.
macro_rules! register_document_sql {
    ($lock:literal) => {
        concat!(
            "WITH k AS (\n    ",
            take_least_used_key!("", $lock, "id, public_key, algorithm"),
            "),
d AS (INSERT INTO documents (id, owner_id, key_id) SELECT $1, $2, k.id FROM k),
h AS (INSERT INTO document_keys (document_id, key_id, added_by) SELECT $1, k.id, $2 FROM k),
a AS (INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome, seal)
      SELECT $1, 'encrypt', $3, $4, $5, k.id, 'allowed', $6::bytea FROM k)
SELECT id, public_key, algorithm FROM k"
        )
    };
}

/// Registers a document on the least-used active key, starts its key history
/// with that key, increments the key's usage count and writes the `encrypt`
/// audit row, in one statement: either all of it happens or none (the audit
/// row fails closed).
/// `$1` document id, `$2` owner, `$3` user id text, `$4` IP, `$5` user
/// agent, `$6` the audit row's seal.
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
    /// The audit row's seal.
    pub seal: Option<Vec<u8>>,
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
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
            [&doc, &r.owner_id, &user, &r.ip, &r.user_agent, &r.seal];
        let rows = match client.query(&stmt, &params).await {
            // A waiting registration can be chosen as the victim of a
            // deadlock with a rotation or a refill that holds its key; the
            // statement did nothing, so it is simply tried again.
            Err(e) if e.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED) => {
                tracing::warn!("document registration was a deadlock victim; trying again");
                client.query(&stmt, &params).await?
            }
            other => other?,
        };
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

/// Records the size of document `id`'s stored ciphertext, uploaded now.
pub async fn set_content_size(tx: &impl GenericClient, id: &str, size: i64) -> Result<(), DbError> {
    tx.execute(
        "UPDATE documents SET content_size = $1, content_uploaded_at = CURRENT_TIMESTAMP WHERE id = $2",
        &[&size, &id],
    )
    .await?;
    Ok(())
}

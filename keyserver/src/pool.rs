//! The key pool: about `pool_size` active ML-KEM-768 key pairs, refilled at
//! start-up and in the background, handed out least-used first.
//!
//! Correct across processes sharing one database: refills take a transaction
//! advisory lock (no double generation), and acquisition is one `UPDATE` of
//! the row picked with `FOR UPDATE SKIP LOCKED`, so N concurrent acquisitions
//! add exactly N to the usage counts.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use deadpool_postgres::Pool;
use pqfile_core::mlkem768::SecretKey;

use crate::db::DbError;
use crate::domain::{DocumentId, KeyId, rng};
use crate::kms::{KeyWrapper, KmsError};

/// Arbitrary constant naming the refill advisory lock.
const REFILL_LOCK: i64 = 0x7071_6669_6c65_0002;

/// Active keys that may be handed out for new documents.
pub const ACTIVE_KEYS_SQL: &str = "SELECT count(*) FROM encryption_keys \
     WHERE status = 'active' AND (expires_at IS NULL OR expires_at > CURRENT_TIMESTAMP)";

/// Registers a document on the least-used active key, increments that key's
/// usage count and writes the `encrypt` audit row, in one statement: either
/// all three happen or none (the audit row fails closed).
/// `$1` document id, `$2` owner, `$3` user id text, `$4` IP, `$5` user agent.
pub const CREATE_DOCUMENT_SQL: &str = "WITH k AS (
    UPDATE encryption_keys SET usage_count = COALESCE(usage_count, 0) + 1
    WHERE id = (SELECT id FROM encryption_keys
                WHERE status = 'active' AND (expires_at IS NULL OR expires_at > CURRENT_TIMESTAMP)
                ORDER BY usage_count, id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING id, public_key, algorithm),
d AS (INSERT INTO documents (id, owner_id, key_id) SELECT $1, $2, k.id FROM k),
a AS (INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome)
      SELECT $1, 'encrypt', $3, $4, $5, k.id, 'allowed' FROM k)
SELECT id, public_key, algorithm FROM k";

/// As [`CREATE_DOCUMENT_SQL`] but waits for a locked key instead of skipping
/// it: the fallback when every active key is momentarily locked.
pub const CREATE_DOCUMENT_WAIT_SQL: &str = "WITH k AS (
    UPDATE encryption_keys SET usage_count = COALESCE(usage_count, 0) + 1
    WHERE id = (SELECT id FROM encryption_keys
                WHERE status = 'active' AND (expires_at IS NULL OR expires_at > CURRENT_TIMESTAMP)
                ORDER BY usage_count, id LIMIT 1 FOR UPDATE)
    RETURNING id, public_key, algorithm),
d AS (INSERT INTO documents (id, owner_id, key_id) SELECT $1, $2, k.id FROM k),
a AS (INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome)
      SELECT $1, 'encrypt', $3, $4, $5, k.id, 'allowed' FROM k)
SELECT id, public_key, algorithm FROM k";

/// Why the pool could not be refilled.
#[derive(Debug, thiserror::Error)]
pub enum FillError {
    /// Database trouble.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The KMS could not wrap a new key.
    #[error(transparent)]
    Kms(#[from] KmsError),
}

impl From<tokio_postgres::Error> for FillError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for FillError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Db(e.into())
    }
}

/// Number of keys that can be handed out now.
pub async fn active_keys(db: &Pool) -> Result<i64, DbError> {
    let client = db.get().await?;
    Ok(client.query_one(ACTIVE_KEYS_SQL, &[]).await?.get(0))
}

/// Generates keys until `target` are active. With `wait`, waits for another
/// process's refill to finish first (start-up); without, skips when one is
/// running (background). Returns how many keys this call generated.
pub async fn fill(
    db: &Pool,
    kms: &dyn KeyWrapper,
    target: u32,
    wait: bool,
) -> Result<u32, FillError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    if wait {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&REFILL_LOCK])
            .await?;
    } else {
        let got: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&REFILL_LOCK])
            .await?
            .get(0);
        if !got {
            return Ok(0);
        }
    }
    let active: i64 = tx.query_one(ACTIVE_KEYS_SQL, &[]).await?.get(0);
    let missing = u32::try_from(i64::from(target).saturating_sub(active).max(0)).unwrap_or(0);
    let next_id = tx
        .prepare("SELECT nextval(pg_get_serial_sequence('encryption_keys', 'id'))::int4")
        .await?;
    let insert = tx
        .prepare(
            "INSERT INTO encryption_keys (id, public_key, private_key, kms_key_id, kms_key_arn, algorithm, status, usage_count)
             VALUES ($1, $2, $3, $4, $5, 'ML-KEM-768', 'active', 0)",
        )
        .await?;
    for _ in 0..missing {
        // The id is reserved first so the KMS can bind the wrapped key to it.
        let id = KeyId::from_db(tx.query_one(&next_id, &[]).await?.get(0));
        let sk = SecretKey::generate(&mut rng());
        let wrapped = kms.wrap(id, &sk.to_seed()).await?;
        let public = STANDARD.encode(sk.public_key().to_bytes());
        tx.execute(
            &insert,
            &[
                &id.get(),
                &public,
                &wrapped.ciphertext,
                &wrapped.kms_key_id,
                &wrapped.kms_key_arn,
            ],
        )
        .await?;
    }
    tx.commit().await?;
    if missing > 0 {
        tracing::info!(
            generated = missing,
            target,
            kms = kms.kind(),
            "refilled the key pool"
        );
    }
    Ok(missing)
}

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
pub async fn register_document(
    db: &Pool,
    r: &Registration<'_>,
) -> Result<Option<AcquiredKey>, DbError> {
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

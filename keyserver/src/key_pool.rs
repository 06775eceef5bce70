//! The key pool (not the connection pool, `db::DbPool`): about `pool_size`
//! active ML-KEM-768 key pairs, refilled at start-up and in the background,
//! handed out least-used first.
//!
//! Correct across processes sharing one database: refills take a transaction
//! advisory lock (no double generation), and acquisition is one `UPDATE` of
//! the row picked with `FOR UPDATE SKIP LOCKED` (`store::keys`), so N
//! concurrent acquisitions add exactly N to the usage counts.

use crate::db::{DbError, DbPool};
use crate::kms::{KeyWrapper, KmsError};
use crate::store::keys;

/// Arbitrary constant naming the refill advisory lock.
const REFILL_LOCK: i64 = 0x7071_6669_6c65_0002;

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
pub async fn active_keys(db: &DbPool) -> Result<i64, DbError> {
    keys::active_keys(&db.get().await?).await
}

/// Generates keys until `target` are active. With `wait`, waits for another
/// process's refill to finish first (start-up); without, skips when one is
/// running (background). Returns how many keys this call generated.
pub async fn fill(
    db: &DbPool,
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
    let active = keys::active_keys(&tx).await?;
    let missing = u32::try_from(i64::from(target).saturating_sub(active).max(0)).unwrap_or(0);
    for _ in 0..missing {
        let id = keys::reserve_key_id(&tx).await?;
        let key = keys::generate_key(id, kms).await?;
        keys::insert_key(&tx, &key).await?;
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

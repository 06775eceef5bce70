//! Per-user quotas: how many documents a user may register
//! (`quota_documents`) and how many bytes of ciphertext it may store
//! (`quota_stored_bytes`); 0 turns one off. Over either, the request is
//! answered `403 quota_exceeded`, audited, and nothing changes.
//!
//! Stored bytes are checked exactly, in the transaction that commits an
//! upload, under a per-user advisory lock (uploads are rare and heavy).
//! Documents are registered thousands of times a second on one pipelined
//! statement, so counting a user's documents on every registration would be
//! the bottleneck: each process keeps a per-user estimate (the count read
//! from the database plus what it registered since) and reads the count
//! again when the estimate is within a tenth of the quota or older than a
//! minute. Exact for one process; with several, a user who goes from below
//! 90 % to past 100 % of the quota within a minute can overshoot it by what
//! the other processes registered meanwhile (bounded by the rate limits).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use deadpool_postgres::GenericClient;

use crate::db::{DbError, DbPool};
use crate::error::{ApiError, ErrorCode};

/// Arbitrary constant naming the per-user upload advisory lock (with the user id).
const UPLOAD_LOCK: i32 = 0x7071_0003;

/// How long a document count is trusted.
const FRESH: Duration = Duration::from_secs(60);

#[derive(Clone, Copy)]
struct Estimate {
    counted: i64,
    added: i64,
    at: Instant,
}

/// This process's document-count estimates.
#[derive(Default)]
pub struct DocumentCounts {
    by_user: Mutex<HashMap<i32, Estimate>>,
}

fn over(what: &str, limit: u64) -> ApiError {
    ApiError::new(ErrorCode::QuotaExceeded).message(format!(
        "{} ({what}: {limit})",
        ErrorCode::QuotaExceeded.default_message()
    ))
}

impl DocumentCounts {
    /// Whether `user` may register one more document under `limit` (0: no limit).
    pub async fn admit(&self, db: &DbPool, user: i32, limit: u64) -> Result<(), ApiError> {
        if limit == 0 {
            return Ok(());
        }
        let limit_i = i64::try_from(limit).unwrap_or(i64::MAX);
        let known = self.lock().get(&user).copied();
        let estimate = match known {
            Some(e) if e.at.elapsed() < FRESH && e.counted + e.added < limit_i - limit_i / 10 => {
                e.counted + e.added
            }
            _ => {
                let client = db.get().await.map_err(DbError::from)?;
                let row = client
                    .query_one(
                        "SELECT count(*) FROM documents WHERE owner_id = $1",
                        &[&user],
                    )
                    .await
                    .map_err(DbError::from)?;
                let counted: i64 = row.get(0);
                self.lock().insert(
                    user,
                    Estimate {
                        counted,
                        added: 0,
                        at: Instant::now(),
                    },
                );
                counted
            }
        };
        if estimate >= limit_i {
            return Err(over("quota_documents", limit));
        }
        Ok(())
    }

    /// Counts a document `user` registered.
    pub fn registered(&self, user: i32) {
        if let Some(e) = self.lock().get_mut(&user) {
            e.added += 1;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Estimate>> {
        self.by_user.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// In `tx` (which commits the upload of `size` bytes for `document`):
/// refuses when the user's other stored ciphertexts plus this one exceed
/// `limit` (0: no limit). Holds a per-user lock until `tx` ends, so two
/// uploads cannot both fit in the same room.
pub async fn check_stored_bytes(
    tx: &impl GenericClient,
    user: i32,
    document: &str,
    size: i64,
    limit: u64,
) -> Result<(), ApiError> {
    if limit == 0 {
        return Ok(());
    }
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&UPLOAD_LOCK, &user],
    )
    .await
    .map_err(DbError::from)?;
    let row = tx
        .query_one(
            "SELECT COALESCE(sum(content_size), 0)::int8 FROM documents \
             WHERE owner_id = $1 AND id <> $2 AND content_size IS NOT NULL",
            &[&user, &document],
        )
        .await
        .map_err(DbError::from)?;
    let others: i64 = row.get(0);
    if others.saturating_add(size) > i64::try_from(limit).unwrap_or(i64::MAX) {
        return Err(over("quota_stored_bytes", limit));
    }
    Ok(())
}

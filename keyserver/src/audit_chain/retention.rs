//! Access-log retention that keeps the log verifiable (issue 11). Rows are
//! deleted only as a prefix of the chain: up to the last chain position
//! before the first row that is younger than the cut-off. The cut is
//! recorded first, in `audit_retention`, signed with the audit key (the
//! position, the chain value there, the cut-off), together with an audit row
//! saying what is deleted, in the transaction that deletes: if the record
//! cannot be written nothing is deleted. Verification then accepts missing
//! rows at or below a signed cut, and only there.
//!
//! Runs as the owner (the server's own role may not delete audit rows),
//! under the sealer's lock, after a sealer pass (so every sealed row old
//! enough is chained and can go). Rows that are not in the chain (no valid
//! seal: written out of band) are never deleted by retention: they stay for
//! someone to look at.

use deadpool_postgres::GenericClient;
use serde::Serialize;
use utoipa::ToSchema;

use super::key::AuditKey;
use super::sealer;
use crate::db::DbError;

/// What a retention run did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Retained {
    /// Rows deleted.
    pub deleted: u64,
    /// The chain position up to which rows may now be missing.
    pub cut_position: i64,
}

/// The message a retention record signs.
pub fn message(cut_position: i64, chain: &[u8], cutoff: &str) -> Vec<u8> {
    let mut m = b"pqfile audit retention v1".to_vec();
    m.extend_from_slice(&cut_position.to_be_bytes());
    m.extend_from_slice(chain);
    m.extend_from_slice(cutoff.as_bytes());
    m
}

/// Deletes the chained rows older than `days` days (as a prefix of the
/// chain, see the module comment) in `tx`, an owner's transaction, after
/// recording the cut and writing `audit` (the run's own audit row, sealed)
/// in it. The caller commits.
pub async fn apply(
    tx: &impl GenericClient,
    key: &AuditKey,
    days: u32,
    audit_row: impl AsyncFnOnce(&str) -> Result<(), DbError>,
) -> Result<Retained, DbError> {
    let days = i32::try_from(days).unwrap_or(i32::MAX);
    sealer::lock(tx).await?;
    sealer::seal_in(tx, key).await?;
    let cutoff: String = tx
        .query_one(
            "SELECT (CURRENT_TIMESTAMP - make_interval(days => $1))::timestamp::text",
            &[&days],
        )
        .await?
        .get(0);
    let previous: i64 = tx
        .query_one(
            "SELECT COALESCE(max(cut_position), 0) FROM audit_retention",
            &[],
        )
        .await?
        .get(0);
    // The last position before the first chained row at or after the cut-off.
    let cut: i64 = tx
        .query_one(
            "SELECT COALESCE(
                 (SELECT min(c.position) - 1 FROM audit_chain c JOIN access_logs a ON a.id = c.log_id
                  WHERE a.timestamp >= $1::text::timestamp),
                 (SELECT COALESCE(max(position), 0) FROM audit_chain))",
            &[&cutoff],
        )
        .await?
        .get(0);
    if cut <= previous {
        audit_row(&format!(
            "retention: nothing older than {days} days to delete (chain cut stays at {previous})"
        ))
        .await?;
        return Ok(Retained {
            deleted: 0,
            cut_position: previous,
        });
    }
    let chain: Vec<u8> = tx
        .query_one("SELECT chain FROM audit_chain WHERE position = $1", &[&cut])
        .await?
        .get(0);
    let to_delete: i64 = tx
        .query_one(
            "SELECT count(*) FROM access_logs a JOIN audit_chain c ON c.log_id = a.id
             WHERE c.position > $1 AND c.position <= $2",
            &[&previous, &cut],
        )
        .await?
        .get(0);
    // Recorded before anything is deleted, in the same transaction.
    tx.execute(
        "INSERT INTO audit_retention (cut_position, chain, cutoff, older_than_days, rows_deleted, signing_key_id, signature)
         VALUES ($1, $2, $3::text::timestamp, $4, $5, $6, $7)",
        &[
            &cut,
            &chain,
            &cutoff,
            &days,
            &to_delete,
            &key.id,
            &key.sign(&message(cut, &chain, &cutoff)),
        ],
    )
    .await?;
    audit_row(&format!(
        "retention: {to_delete} rows older than {days} days (before {cutoff}), chain positions {} to {cut}",
        previous + 1
    ))
    .await?;
    let deleted = tx
        .execute(
            "DELETE FROM access_logs a USING audit_chain c
             WHERE c.log_id = a.id AND c.position > $1 AND c.position <= $2",
            &[&previous, &cut],
        )
        .await?;
    Ok(Retained {
        deleted,
        cut_position: cut,
    })
}

/// The signed cuts: (position, chain value, cut-off, signing key, signature).
pub async fn cuts(
    db: &impl GenericClient,
) -> Result<Vec<(i64, Vec<u8>, String, i32, Vec<u8>)>, DbError> {
    Ok(db
        .query(
            "SELECT cut_position, chain, cutoff::text, signing_key_id, signature
             FROM audit_retention ORDER BY cut_position",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect())
}

//! Access-log retention that keeps the log verifiable (issue 11), by
//! dropping whole months (`audit_partitions`).
//!
//! Rows are removed only as a prefix of the chain, and only whole months of
//! them: the *boundary* is the cut-off, or the start of the month partition
//! the cut-off falls in, so the rows of a month go when the whole month is
//! older than the retention (rows are kept up to a month longer than asked,
//! never shorter). The *cut* is the last chain position before the first
//! entry at or after the boundary. Every chain entry up to the cut is
//! removed with its row: the partitions of the months before the boundary
//! are dropped; what the default partitions hold up to the cut is deleted
//! row by row (rows of months that had no partition: few). Rows of a dropped
//! month that must stay (chained after the cut, or never chained: written
//! out of band, left for someone to look at) are moved to the default
//! partitions first.
//!
//! The cut is recorded before anything is removed, in `audit_retention`,
//! signed with the audit key (the position, the chain value there, the
//! cut-off), together with an audit row saying what goes, in the transaction
//! that removes: if the record cannot be written nothing is removed.
//! Verification then starts the chain from the signed value at the cut.
//!
//! Runs as the owner (the server's role may neither delete rows nor drop
//! tables), under the sealer's lock, after a sealer pass. Detaching a
//! partition locks the whole table against inserts until the transaction
//! commits, so everything slow happens before the first detach, and the
//! detach gives up after [`LOCK_TIMEOUT`] rather than queue every audited
//! request behind a long transaction.

use chrono::NaiveDateTime;
use deadpool_postgres::GenericClient;
use serde::Serialize;
use utoipa::ToSchema;

use super::key::AuditKey;
use super::sealer;
use crate::audit_partitions::{self, Month, Table};
use crate::db::DbError;

/// The rows of `access_logs_default` chained at or below the cut (`$1`):
/// counted before, then deleted.
const DEFAULT_ROWS_UP_TO_CUT: &str = "FROM access_logs_default a
     WHERE EXISTS (SELECT 1 FROM audit_chain c WHERE c.log_id = a.id AND c.position <= $1)";

/// How long a detach may wait for the table's lock.
pub const LOCK_TIMEOUT: &str = "5s";

/// What a retention run did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Retained {
    /// Rows deleted.
    pub deleted: u64,
    /// The chain position up to which rows may now be missing.
    pub cut_position: i64,
    /// Partitions dropped (both tables), oldest first.
    pub partitions_dropped: Vec<String>,
}

/// The message a retention record signs.
pub fn message(cut_position: i64, chain: &[u8], cutoff: &str) -> Vec<u8> {
    let mut m = b"pqfile audit retention v1".to_vec();
    m.extend_from_slice(&cut_position.to_be_bytes());
    m.extend_from_slice(chain);
    m.extend_from_slice(cutoff.as_bytes());
    m
}

/// Where a retention run cuts.
struct Plan {
    cutoff: String,
    /// The monthly partitions before the boundary, by month (oldest first),
    /// `access_logs`' before `audit_chain`'s.
    drops: Vec<(Table, Month)>,
    previous: i64,
    cut: i64,
}

/// The boundary (see the module comment) and the cut for `days`.
async fn plan(tx: &impl GenericClient, days: i32) -> Result<Plan, DbError> {
    let row = tx
        .query_one(
            "SELECT t::text, t FROM (SELECT (CURRENT_TIMESTAMP - make_interval(days => $1))::timestamp AS t) c",
            &[&days],
        )
        .await?;
    let (cutoff, at): (String, NaiveDateTime) = (row.get(0), row.get(1));
    let mut partitions = Vec::new();
    for table in Table::ALL {
        for m in audit_partitions::list(tx, table).await? {
            partitions.push((table, m));
        }
    }
    let boundary = partitions
        .iter()
        .filter(|(_, m)| m.from <= at && at < m.to)
        .map(|(_, m)| m.from)
        .fold(at, NaiveDateTime::min);
    let mut drops: Vec<(Table, Month)> = partitions
        .into_iter()
        .filter(|(_, m)| m.to <= boundary)
        .collect();
    drops.sort_by_key(|(_, m)| m.from);
    let previous: i64 = tx
        .query_one(
            "SELECT COALESCE(max(cut_position), 0) FROM audit_retention",
            &[],
        )
        .await?
        .get(0);
    // min(position) per partition from the boundary on: index scans.
    let cut: i64 = tx
        .query_one(
            "SELECT COALESCE(
                 (SELECT min(position) - 1 FROM audit_chain WHERE logged_at >= $1),
                 (SELECT COALESCE(max(position), 0) FROM audit_chain))",
            &[&boundary],
        )
        .await?
        .get(0);
    Ok(Plan {
        cutoff,
        drops,
        previous,
        cut: cut.max(previous),
    })
}

/// Deletes the chained rows older than `days` days (whole months, as a
/// prefix of the chain, see the module comment) in `tx`, an owner's
/// transaction, after recording the cut and writing `audit_row` (the run's
/// own audit row, sealed) in it. The caller commits.
pub async fn apply(
    tx: &impl GenericClient,
    key: &AuditKey,
    days: u32,
    audit_row: impl AsyncFnOnce(&str) -> Result<(), DbError>,
) -> Result<Retained, DbError> {
    let days = i32::try_from(days).unwrap_or(i32::MAX);
    sealer::lock(tx).await?;
    sealer::seal_in(tx, key).await?;
    let Plan {
        cutoff,
        drops,
        previous,
        cut,
    } = plan(tx, days).await?;
    if cut <= previous && drops.is_empty() {
        audit_row(&format!(
            "retention: nothing older than {days} days to delete (chain cut stays at {previous})"
        ))
        .await?;
        return Ok(Retained {
            cut_position: previous,
            ..Default::default()
        });
    }

    // Before any lock on the tables: what stays of the months that go, and
    // how many rows go.
    tx.batch_execute(
        "CREATE TEMP TABLE retention_keep_logs (LIKE access_logs) ON COMMIT DROP;
         CREATE TEMP TABLE retention_keep_chain (LIKE audit_chain) ON COMMIT DROP;",
    )
    .await?;
    let mut from_months = 0i64;
    for (table, m) in &drops {
        let part = table.partition(m);
        match table {
            Table::AccessLogs => {
                let total: i64 = tx
                    .query_one(&format!("SELECT count(*) FROM {part}"), &[])
                    .await?
                    .get(0);
                let kept = tx
                    .execute(
                        &format!(
                            "INSERT INTO retention_keep_logs SELECT a.* FROM {part} a
                             WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.log_id = a.id AND c.position <= $1)"
                        ),
                        &[&cut],
                    )
                    .await?;
                from_months += total - i64::try_from(kept).unwrap_or(0);
            }
            Table::AuditChain => {
                tx.execute(
                    &format!(
                        "INSERT INTO retention_keep_chain SELECT * FROM {part} WHERE position > $1"
                    ),
                    &[&cut],
                )
                .await?;
            }
        }
    }
    let dropped: Vec<String> = drops.iter().map(|(t, m)| t.partition(m)).collect();
    let in_default: i64 = tx
        .query_one(
            &format!("SELECT count(*) {DEFAULT_ROWS_UP_TO_CUT}"),
            &[&cut],
        )
        .await?
        .get(0);
    let to_delete = from_months + in_default;
    let chain: Vec<u8> = if cut == 0 {
        super::rows::GENESIS.to_vec()
    } else {
        tx.query_one(
            "SELECT chain FROM audit_chain WHERE position = $1 LIMIT 1",
            &[&cut],
        )
        .await?
        .get(0)
    };

    // Recorded before anything is removed, in the same transaction.
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
    let partitions = if dropped.is_empty() {
        String::new()
    } else {
        format!("; partitions dropped: {}", dropped.join(", "))
    };
    audit_row(&format!(
        "retention: {to_delete} rows older than {days} days (before {cutoff}), chain positions {} to {cut}{partitions}",
        previous + 1
    ))
    .await?;

    // Row by row where months had no partition (only the default's rows).
    let mut deleted = tx
        .execute(&format!("DELETE {DEFAULT_ROWS_UP_TO_CUT}"), &[&cut])
        .await?;
    tx.execute(
        "DELETE FROM audit_chain_default WHERE position <= $1",
        &[&cut],
    )
    .await?;
    // Whole months; from the first detach on, inserts wait for the commit.
    tx.batch_execute(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        .await?;
    for (table, m) in &drops {
        audit_partitions::detach(tx, *table, m).await?;
    }
    tx.batch_execute(
        "INSERT INTO access_logs SELECT * FROM retention_keep_logs;
         INSERT INTO audit_chain SELECT * FROM retention_keep_chain;",
    )
    .await?;
    for (table, m) in &drops {
        audit_partitions::drop_detached(tx, *table, m).await?;
    }
    deleted += u64::try_from(from_months).unwrap_or(0);
    tx.batch_execute("SET LOCAL lock_timeout = 0").await?;
    Ok(Retained {
        deleted,
        cut_position: cut,
        partitions_dropped: dropped,
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

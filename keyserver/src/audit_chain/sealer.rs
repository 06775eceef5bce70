//! The sealer: appends the rows not chained yet to `audit_chain` and signs
//! a checkpoint, every `audit_checkpoint_interval_ms`, in every process but
//! one at a time (a transaction advisory lock; a process that finds it
//! taken skips its turn). Requests never wait for it.
//!
//! Rows are chained in id order as they become visible. Ids are taken when
//! a row is inserted but become visible when its transaction commits, so a
//! row may appear after a higher id was chained; it is chained then. The
//! *low watermark* moves up only to ids whose transactions started more
//! than twice [`LAG_SECS`] ago: below it every row is either chained or was found
//! without a valid seal, so a row that appears below it later was written
//! out of band (or by a transaction open for longer than the lag, which
//! the server never holds: its transactions take milliseconds).

use std::time::Duration;

use actix_web::web;
use deadpool_postgres::GenericClient;

use super::key::AuditKey;
use super::rows::{Checkpoint, GENESIS, LOG_ROW_COLUMNS, LogRow, chain_step, digest};
use crate::db::DbError;
use crate::state::AppState;

/// Arbitrary constant naming the sealer's advisory lock.
const SEALER_LOCK: i64 = 0x7071_6669_6c65_0005;

/// The longest a server transaction that writes an audit row may stay
/// open for the low watermark to be right (they take milliseconds).
pub const LAG_SECS: i32 = 30;

/// Rows chained per pass at most (the rest wait for the next pass).
const BATCH: i64 = 20_000;
/// Rows read per query of a pass.
const PAGE: i64 = 5_000;
/// Rows a pass looks at, at most (bounds a pass over a flood of forged rows).
const MAX_EXAMINED: i64 = 200_000;

/// The latest checkpoint: position, chain head, low watermark; the start of
/// the chain when there is none.
pub async fn latest(db: &impl GenericClient) -> Result<(i64, [u8; 32], i64), DbError> {
    let row = db
        .query_opt(
            "SELECT position, chain, low_watermark FROM audit_checkpoints ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await?;
    Ok(match row {
        Some(r) => {
            let chain: Vec<u8> = r.get(1);
            (r.get(0), chain.try_into().unwrap_or(GENESIS), r.get(2))
        }
        None => (0, GENESIS, 0),
    })
}

/// Rows written before the chain existed (migration V9), unsealed.
pub async fn legacy_max_id(db: &impl GenericClient) -> Result<i64, DbError> {
    Ok(db
        .query_one("SELECT legacy_max_id FROM audit_chain_start", &[])
        .await?
        .get(0))
}

/// Whether `row` may be chained: a valid seal, or a row from before the chain.
pub fn sealed_by_server(key: &AuditKey, row: &LogRow, legacy_max_id: i64) -> bool {
    match &row.seal {
        Some(seal) => key.seal_is_valid(seal),
        None => row.id <= legacy_max_id,
    }
}

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Rows appended to the chain.
    pub chained: u64,
    /// Rows found without a valid seal (left out of the chain).
    pub unsealed: u64,
    /// Whether a checkpoint was written.
    pub checkpoint: bool,
}

/// One pass; `None` when another process holds the sealer's lock.
pub async fn seal_once(
    db: &mut deadpool_postgres::Object,
    key: &AuditKey,
) -> Result<Option<Pass>, DbError> {
    let tx = db.transaction().await?;
    let locked: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&SEALER_LOCK])
        .await?
        .get(0);
    if !locked {
        return Ok(None);
    }
    let pass = seal_in(&tx, key).await?;
    tx.commit().await?;
    Ok(Some(pass))
}

/// Waits for the sealer's lock in `tx` (retention: the chain must not move
/// while a prefix of it is cut).
pub async fn lock(tx: &impl GenericClient) -> Result<(), DbError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SEALER_LOCK])
        .await?;
    Ok(())
}

/// One pass inside `tx`, which holds the sealer's lock; committed by the
/// caller.
pub async fn seal_in(tx: &impl GenericClient, key: &AuditKey) -> Result<Pass, DbError> {
    let (mut position, mut chain, watermark) = latest(tx).await?;
    let legacy = legacy_max_id(tx).await?;
    let sql = format!(
        "SELECT {LOG_ROW_COLUMNS} FROM access_logs a
         WHERE a.id > $1 AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.log_id = a.id)
         ORDER BY a.id LIMIT $2"
    );
    let mut pass = Pass::default();
    let mut first_unsealed = 0;
    let (mut ids, mut positions, mut digests, mut chains) = (vec![], vec![], vec![], vec![]);
    let mut logged_at: Vec<Option<String>> = vec![];
    // Page by page, so rows without a valid seal (which stay unchained)
    // cannot fill every pass and hold back the rows after them.
    let (mut after, mut examined, mut exhausted) = (watermark, 0i64, false);
    while (ids.len() as i64) < BATCH && examined < MAX_EXAMINED {
        let rows = tx.query(&sql, &[&after, &PAGE]).await?;
        for r in &rows {
            let row = LogRow::from_row(r, 0);
            after = row.id;
            if !sealed_by_server(key, &row, legacy) {
                if pass.unsealed == 0 {
                    first_unsealed = row.id;
                }
                pass.unsealed += 1;
                continue;
            }
            let d = digest(&row);
            chain = chain_step(&chain, &d);
            position += 1;
            ids.push(row.id);
            logged_at.push(row.timestamp.clone());
            positions.push(position);
            digests.push(d.to_vec());
            chains.push(chain.to_vec());
        }
        examined += rows.len() as i64;
        if (rows.len() as i64) < PAGE {
            exhausted = true;
            break;
        }
    }
    pass.chained = ids.len() as u64;
    if pass.unsealed > 0 {
        // Once per pass, not per row: a flood of forged rows must not flood the log.
        tracing::error!(
            rows = pass.unsealed,
            first = first_unsealed,
            "audit rows without a valid seal (written out of band): not chained"
        );
    }
    if !ids.is_empty() {
        tx.execute(
            // Each entry goes to the month partition of the row it chains.
            "INSERT INTO audit_chain (position, log_id, digest, chain, logged_at)
             SELECT p, l, d, c, COALESCE(t::timestamp, '-infinity')
             FROM unnest($1::int8[], $2::int8[], $3::bytea[], $4::bytea[], $5::text[]) AS u(p, l, d, c, t)",
            &[&positions, &ids, &digests, &chains, &logged_at],
        )
        .await?;
    }
    // The watermark: every visible row above the old one up to `cap` is now
    // chained or was found unsealed. It moves up to
    // the highest id whose transaction started more than twice the lag ago:
    // any row with a lower id was allocated before that one, so its
    // transaction (shorter than the lag) has ended and it is visible now.
    let cap = if exhausted { i64::MAX } else { after };
    let top: Option<i64> = tx
        .query_one(
            "SELECT max(id) FROM access_logs WHERE id > $1 AND id <= $2
               AND timestamp < CURRENT_TIMESTAMP - make_interval(secs => $3)",
            &[&watermark, &cap, &f64::from(2 * LAG_SECS)],
        )
        .await?
        .get(0);
    let new_watermark = top.unwrap_or(watermark).max(watermark);
    if pass.chained > 0 || new_watermark != watermark {
        let cp = Checkpoint {
            position,
            chain,
            low_watermark: new_watermark,
            legacy_max_id: legacy,
            signing_key_id: key.id,
        };
        write_checkpoint(tx, key, &cp).await?;
        pass.checkpoint = true;
    }
    Ok(pass)
}

/// Signs `cp` with `key` and stores it.
pub async fn write_checkpoint(
    tx: &impl GenericClient,
    key: &AuditKey,
    cp: &Checkpoint,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO audit_checkpoints (position, chain, low_watermark, signing_key_id, signature)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &cp.position,
            &cp.chain.as_slice(),
            &cp.low_watermark,
            &cp.signing_key_id,
            &key.sign(&cp.message()),
        ],
    )
    .await?;
    Ok(())
}

/// Runs [`seal_once`] every `audit_checkpoint_interval_ms` for as long as
/// the process runs; also loads the audit key when it was not available
/// at start-up.
pub fn spawn(state: web::Data<AppState>) {
    tokio::spawn(async move {
        let every = Duration::from_millis(state.settings.audit_checkpoint_interval_ms.max(100));
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = state.seal_audit_log().await {
                tracing::warn!(error = %e, "audit sealer");
            }
        }
    });
}

//! Verification of the audit log against its chain and signed checkpoints
//! (`pqfile-keyserver audit verify`, `GET /v1/admin/audit/verify`).

use std::collections::HashSet;

use deadpool_postgres::GenericClient;
use serde::Serialize;
use utoipa::ToSchema;

use super::key::{self, AuditKey, AuditKeyError};
use super::retention;
use super::rows::{Checkpoint, GENESIS, LOG_ROW_COLUMNS, LogRow, chain_step, digest};
use super::sealer::{latest, legacy_max_id, sealed_by_server};
use crate::kms::KeyWrapper;

/// What is wrong with one row (or the chain around it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The row's columns are not what was chained.
    Altered,
    /// The row was chained, then deleted.
    Deleted,
    /// The row has no valid seal: no key server wrote it.
    InsertedOutOfBand,
    /// The row has a valid seal but is below the low watermark and not in
    /// the chain (its seal was copied, or it was hidden while the sealer ran).
    NotChained,
    /// The stored chain value or a checkpoint does not match the rows.
    ChainBroken,
    /// A checkpoint's signature does not verify with the KMS-pinned key.
    BadSignature,
    /// A stored audit public key is not the one of its KMS-wrapped seed.
    SigningKeyReplaced,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// What.
    pub kind: ProblemKind,
    /// The `access_logs.id` concerned (for chain and signature problems,
    /// the last row the broken part covers).
    pub log_id: i64,
    /// The chain position, when the row was chained.
    pub position: Option<i64>,
}

/// The verdict.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Report {
    /// No problem found.
    pub ok: bool,
    /// Rows checked against the chain.
    pub rows_chained: i64,
    /// Checkpoints whose chain head and signature were checked.
    pub checkpoints: i64,
    /// Rows not chained yet (younger than the last pass), with valid seals.
    pub pending: i64,
    /// The first problem by row id, if any.
    pub first_problem: Option<Problem>,
    /// Every problem, by row id (at most 1000).
    pub problems: Vec<Problem>,
}

/// Why verification could not run.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The audit key.
    #[error(transparent)]
    Key(#[from] AuditKeyError),
    /// Database.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

impl From<tokio_postgres::Error> for VerifyError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e.into())
    }
}

const PAGE: i64 = 10_000;

/// Verifies every row, the chain and every checkpoint. The signing keys are
/// unwrapped through `kms` and checked against their stored public keys, so
/// a key swapped in the database is refused rather than trusted.
pub async fn verify(db: &impl GenericClient, kms: &dyn KeyWrapper) -> Result<Report, VerifyError> {
    let mut keys = Vec::new();
    let mut problems = Vec::new();
    for (id, public, wrapped) in key::stored(db).await? {
        match key::unwrap_stored(kms, id, &public, &wrapped).await {
            Ok(k) => keys.push(k),
            Err(AuditKeyError::Mismatch(_)) => problems.push(Problem {
                kind: ProblemKind::SigningKeyReplaced,
                log_id: 0,
                position: None,
            }),
            Err(e) => return Err(e.into()),
        }
    }
    let legacy = legacy_max_id(db).await?;
    let (_, _, watermark) = latest(db).await?;
    // Signed retention cuts: rows at or below the highest valid one may be
    // missing (deleted by retention); each is checked against the chain.
    let cuts = retention::cuts(db).await?;
    let valid_cut = |position: i64, chain: &[u8; 32]| {
        cuts.iter().any(|(p, c, cutoff, key_id, sig)| {
            *p == position
                && c.as_slice() == chain
                && keys
                    .iter()
                    .find(|k| k.id == *key_id)
                    .is_some_and(|k| k.verifies(&retention::message(*p, c, cutoff), sig))
        })
    };
    let mut retained_up_to = 0i64;
    let max_cut = cuts.iter().map(|c| c.0).max().unwrap_or(0);
    let mut report = Report::default();
    let checkpoints = checkpoint_list(db).await?;
    let mut next_cp = checkpoints.iter().peekable();
    // Retention removes the chain entries up to its cut with their rows, so
    // the walk starts after the cut below the lowest entry still there,
    // from the chain value that cut signed.
    let first: Option<i64> = db
        .query_one("SELECT min(position) FROM audit_chain", &[])
        .await?
        .get(0);
    let start = first.map_or(max_cut, |p| p - 1);
    let mut chain = GENESIS;
    if start > 0 {
        let at_cut = cuts
            .iter()
            .find(|c| c.0 == start)
            .and_then(|c| <[u8; 32]>::try_from(c.1.as_slice()).ok());
        if let Some(at_cut) = at_cut {
            chain = at_cut;
        }
        if at_cut.is_some_and(|c| valid_cut(start, &c)) {
            retained_up_to = start;
        } else {
            problems.push(Problem {
                kind: ProblemKind::Deleted,
                log_id: 0,
                position: Some(start),
            });
        }
    }
    // Checkpoints up to the start: their chain entries are gone (or there
    // were none yet); the signature is still checked, and the head at the
    // start itself.
    while let Some(cp) = next_cp.next_if(|cp| cp.0.position <= start) {
        report.checkpoints += 1;
        let head = if cp.0.position == start {
            chain
        } else {
            cp.0.chain
        };
        check_checkpoint(cp, cp.0.position, &head, 0, &keys, &mut problems);
    }

    // 1. The chain, in position order, with the rows it names. The join
    // names the row's month too (one partition probed, not every one); a
    // row it misses is looked up by id alone (its timestamp was changed,
    // or is NULL, or the row is gone).
    let sql = format!(
        "SELECT c.position, c.log_id, c.digest, c.chain, a.id IS NOT NULL, {LOG_ROW_COLUMNS}
         FROM audit_chain c LEFT JOIN access_logs a ON a.id = c.log_id AND a.timestamp = c.logged_at
         WHERE c.position > $1 ORDER BY c.position LIMIT $2"
    );
    let by_id = format!("SELECT {LOG_ROW_COLUMNS} FROM access_logs a WHERE a.id = $1 LIMIT 1");
    let mut found_by_id = HashSet::new();
    let (mut expected_position, mut after) = (start + 1, start);
    loop {
        let page = db.query(&sql, &[&after, &PAGE]).await?;
        for r in &page {
            let position: i64 = r.get(0);
            let log_id: i64 = r.get(1);
            let stored_digest: Vec<u8> = r.get(2);
            let stored_chain: Vec<u8> = r.get(3);
            let at = Some(position);
            if position != expected_position {
                // Chain entries were deleted.
                problems.push(Problem {
                    kind: ProblemKind::ChainBroken,
                    log_id,
                    position: at,
                });
            }
            expected_position = position + 1;
            let row = if r.get::<_, bool>(4) {
                Some(LogRow::from_row(r, 5))
            } else if let Some(f) = db.query_opt(&by_id, &[&log_id]).await? {
                found_by_id.insert(log_id);
                Some(LogRow::from_row(&f, 0))
            } else {
                None
            };
            let d: [u8; 32] = if let Some(row) = row {
                let d = digest(&row);
                if d.as_slice() != stored_digest {
                    problems.push(Problem {
                        kind: ProblemKind::Altered,
                        log_id,
                        position: at,
                    });
                }
                d
            } else {
                if position > max_cut {
                    problems.push(Problem {
                        kind: ProblemKind::Deleted,
                        log_id,
                        position: at,
                    });
                }
                stored_digest.clone().try_into().unwrap_or(GENESIS)
            };
            // Chain over the digests as chained; a rewritten digest column
            // shows at the next signed checkpoint.
            let as_chained: [u8; 32] = stored_digest.try_into().unwrap_or(d);
            chain = chain_step(&chain, &as_chained);
            if chain.as_slice() != stored_chain {
                problems.push(Problem {
                    kind: ProblemKind::ChainBroken,
                    log_id,
                    position: at,
                });
            }
            if cuts.iter().any(|c| c.0 == position) {
                if valid_cut(position, &chain) {
                    retained_up_to = position;
                } else {
                    problems.push(Problem {
                        kind: ProblemKind::BadSignature,
                        log_id,
                        position: at,
                    });
                }
            }
            while let Some(cp) = next_cp.next_if(|cp| cp.0.position <= position) {
                report.checkpoints += 1;
                check_checkpoint(cp, position, &chain, log_id, &keys, &mut problems);
            }
            report.rows_chained += 1;
        }
        match page.last() {
            Some(r) if page.len() as i64 == PAGE => after = r.get(0),
            _ => break,
        }
    }
    for cp in next_cp {
        // A checkpoint beyond the chain's end: chain entries were deleted.
        report.checkpoints += 1;
        problems.push(Problem {
            kind: ProblemKind::ChainBroken,
            log_id: 0,
            position: Some(cp.0.position),
        });
    }

    // 2. Rows that are not in the chain under their id and month (one
    // partition probed each). Of those, a row whose id the chain has under
    // another month was either found by id in step 1 (reported there) or
    // is a second row reusing a chained id.
    let sql = format!(
        "SELECT {LOG_ROW_COLUMNS}, EXISTS (SELECT 1 FROM audit_chain c WHERE c.log_id = a.id)
         FROM access_logs a
         WHERE a.id > $1 AND NOT EXISTS (SELECT 1 FROM audit_chain c
             WHERE c.log_id = a.id AND c.logged_at = COALESCE(a.timestamp, '-infinity'))
         ORDER BY a.id LIMIT $2"
    );
    let mut after = 0i64;
    let mut seals = HashSet::new();
    loop {
        let page = db.query(&sql, &[&after, &PAGE]).await?;
        for r in &page {
            let row = LogRow::from_row(r, 0);
            let id_is_chained: bool = r.get(11);
            if id_is_chained && found_by_id.contains(&row.id) {
                continue;
            }
            let genuine = keys.iter().any(|k| sealed_by_server(k, &row, legacy))
                && row.seal.as_ref().is_none_or(|s| seals.insert(s.clone()));
            let kind = if !genuine {
                Some(ProblemKind::InsertedOutOfBand)
            } else if row.id <= watermark || id_is_chained {
                Some(ProblemKind::NotChained)
            } else {
                report.pending += 1;
                None
            };
            if let Some(kind) = kind {
                problems.push(Problem {
                    kind,
                    log_id: row.id,
                    position: None,
                });
            }
        }
        match page.last() {
            Some(r) if page.len() as i64 == PAGE => after = r.get(0),
            _ => break,
        }
    }
    // Rows missing at or below a cut are retention's only when that cut is
    // valid; below an invalid one they are deletions.
    if retained_up_to < max_cut {
        problems.push(Problem {
            kind: ProblemKind::Deleted,
            log_id: 0,
            position: Some(max_cut),
        });
    }
    problems.sort_by_key(|p| (p.log_id, p.position));
    problems.dedup();
    report.first_problem = problems.first().cloned();
    problems.truncate(1000);
    report.ok = problems.is_empty();
    report.problems = problems;
    Ok(report)
}

/// Checkpoints (checkpoint, signature), by position.
async fn checkpoint_list(
    db: &impl GenericClient,
) -> Result<Vec<(Checkpoint, Vec<u8>)>, VerifyError> {
    let rows = db
        .query(
            "SELECT position, chain, low_watermark, signing_key_id, signature
             FROM audit_checkpoints ORDER BY position, id",
            &[],
        )
        .await?;
    let legacy = legacy_max_id(db).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let chain: Vec<u8> = r.get(1);
            (
                Checkpoint {
                    position: r.get(0),
                    chain: chain.try_into().unwrap_or(GENESIS),
                    low_watermark: r.get(2),
                    legacy_max_id: legacy,
                    signing_key_id: r.get(3),
                },
                r.get(4),
            )
        })
        .collect())
}

fn check_checkpoint(
    (cp, signature): &(Checkpoint, Vec<u8>),
    position: i64,
    chain: &[u8; 32],
    log_id: i64,
    keys: &[AuditKey],
    problems: &mut Vec<Problem>,
) {
    let at = Some(position);
    if cp.position != position || &cp.chain != chain {
        problems.push(Problem {
            kind: ProblemKind::ChainBroken,
            log_id,
            position: at,
        });
    }
    let signed = keys
        .iter()
        .find(|k| k.id == cp.signing_key_id)
        .is_some_and(|k| k.verifies(&cp.message(), signature));
    if !signed {
        problems.push(Problem {
            kind: ProblemKind::BadSignature,
            log_id,
            position: at,
        });
    }
}

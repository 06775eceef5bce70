//! `key_rotations`: `pending` (replacement ready) → `in_progress` (documents
//! still depend on the old key) → `completed`, or `failed` with a reason.
//! An open rotation is *stalled* when it can no longer finish on its own in
//! time (see [`STALLED_SQL`]).

use deadpool_postgres::GenericClient;
use serde::Serialize;
use utoipa::ToSchema;

use super::rfc3339;
use crate::db::DbError;
use crate::domain::KeyId;

/// The states of a rotation.
pub const ROTATION_STATUSES: [&str; 4] = ["pending", "in_progress", "completed", "failed"];

/// Whether the open rotation `r` (old key `ok`) is stalled: its old key no
/// longer unwraps (expired, past `expires_at`, or revoked) while the rotation
/// is still open, or documents still depend only on the old key and it
/// expires within a day. Either way the documents left need a client or an
/// admin to rewrap them; the server's own rewraps only move stored copies.
pub const STALLED_SQL: &str = "(r.status IN ('pending', 'in_progress') AND (
        ok.status IN ('expired', 'revoked') OR ok.expires_at <= CURRENT_TIMESTAMP
        OR (ok.expires_at <= CURRENT_TIMESTAMP + interval '1 day'
            AND EXISTS (SELECT 1 FROM documents d WHERE d.key_id = r.old_key_id))))";

/// Moves open rotations on: `completed` when no document depends on the old
/// key any more, else `in_progress`. `old_key_id` restricts it to one key.
pub const ADVANCE_ROTATIONS_SQL: &str = "UPDATE key_rotations r SET
    status = CASE WHEN EXISTS (SELECT 1 FROM documents d WHERE d.key_id = r.old_key_id)
                  THEN 'in_progress' ELSE 'completed' END,
    completed_at = CASE WHEN EXISTS (SELECT 1 FROM documents d WHERE d.key_id = r.old_key_id)
                  THEN NULL ELSE CURRENT_TIMESTAMP END
    WHERE r.status IN ('pending', 'in_progress') AND ($1::int4 IS NULL OR r.old_key_id = $1)
    RETURNING r.id, r.status";

/// Runs [`ADVANCE_ROTATIONS_SQL`]: the ids that completed and those still in progress.
pub async fn advance(
    db: &impl GenericClient,
    old: Option<KeyId>,
) -> Result<(Vec<i32>, Vec<i32>), DbError> {
    let rows = db
        .query(ADVANCE_ROTATIONS_SQL, &[&old.map(KeyId::get)])
        .await?;
    let (mut completed, mut in_progress) = (Vec::new(), Vec::new());
    for r in rows {
        let id: i32 = r.get(0);
        if r.get::<_, String>(1) == "completed" {
            completed.push(id);
        } else {
            in_progress.push(id);
        }
    }
    completed.sort_unstable();
    in_progress.sort_unstable();
    Ok((completed, in_progress))
}

/// Opens a rotation of `old` to `new` (`pending`), or records one that
/// could not start (`failed`, no replacement, `reason`); returns its id.
pub async fn open(
    tx: &impl GenericClient,
    old: i32,
    new: Option<KeyId>,
    reason: Option<&str>,
) -> Result<i32, DbError> {
    let status = if new.is_some() { "pending" } else { "failed" };
    Ok(tx
        .query_one(
            "INSERT INTO key_rotations (old_key_id, new_key_id, status, reason) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&old, &new.map(KeyId::get), &status, &reason],
        )
        .await?
        .get(0))
}

/// Locks the open rotation off `old`, if any: rewraps off a key under
/// rotation take turns on it, so the last one to move a document sees every
/// earlier move committed and completes the rotation (READ COMMITTED: each
/// statement after the lock gets a fresh snapshot).
pub async fn lock_open_from(tx: &impl GenericClient, old: KeyId) -> Result<(), DbError> {
    tx.execute(
        "SELECT id FROM key_rotations WHERE old_key_id = $1 AND status IN ('pending', 'in_progress') FOR UPDATE",
        &[&old.get()],
    )
    .await?;
    Ok(())
}

/// Fails the open rotations *to* key `new` (it was revoked).
pub async fn fail_to(tx: &impl GenericClient, new: KeyId) -> Result<(), DbError> {
    tx.execute(
        "UPDATE key_rotations SET status = 'failed', completed_at = CURRENT_TIMESTAMP,
             reason = 'replacement key ' || $1::int4 || ' was revoked'
         WHERE new_key_id = $1 AND status IN ('pending', 'in_progress')",
        &[&new.get()],
    )
    .await?;
    Ok(())
}

/// One rotation.
#[derive(Serialize, ToSchema)]
pub struct Rotation {
    /// `key_rotations.id`.
    pub id: i32,
    /// The key being retired.
    pub old_key_id: Option<i32>,
    /// Its replacement.
    pub new_key_id: Option<i32>,
    /// `pending`, `in_progress`, `completed` or `failed`.
    pub status: String,
    /// RFC 3339, UTC.
    pub initiated_at: Option<String>,
    /// RFC 3339, UTC.
    pub completed_at: Option<String>,
    /// Age of the old key in days.
    pub old_key_age_days: Option<f64>,
    /// Age of the new key in days.
    pub new_key_age_days: Option<f64>,
    /// Documents still depending only on the old key.
    pub documents_remaining: i64,
    /// Why it failed.
    pub reason: Option<String>,
    /// When the old key stops unwrapping (RFC 3339, UTC): set when it was
    /// queued, `rotation_grace_days` later.
    pub old_key_expires_at: Option<String>,
    /// Open, and it will not finish on its own before (or did not finish
    /// when) the old key expires: see [`STALLED_SQL`].
    pub stalled: bool,
}

/// Which rotations to list.
pub enum Which<'a> {
    /// Those in this status (all when `None`).
    Status(Option<&'a str>),
    /// `pending` and `in_progress` ones.
    Open,
}

/// Rotations by id, with the ages of both keys and the documents left to move.
pub async fn list(db: &impl GenericClient, which: Which<'_>) -> Result<Vec<Rotation>, DbError> {
    let (filter, status) = match which {
        Which::Status(s) => ("($1::text IS NULL OR r.status = $1)", s),
        Which::Open => (
            "r.status IN ('pending', 'in_progress') AND $1::text IS NULL",
            None,
        ),
    };
    let sql = format!(
        "SELECT r.id, r.old_key_id, r.new_key_id, COALESCE(r.status, 'pending'), r.initiated_at, r.completed_at,
        (EXTRACT(EPOCH FROM CURRENT_TIMESTAMP - ok.created_at) / 86400)::float8,
        (EXTRACT(EPOCH FROM CURRENT_TIMESTAMP - nk.created_at) / 86400)::float8,
        (SELECT count(*) FROM documents d WHERE d.key_id = r.old_key_id), r.reason,
        ok.expires_at, COALESCE({STALLED_SQL}, false)
     FROM key_rotations r
     LEFT JOIN encryption_keys ok ON ok.id = r.old_key_id
     LEFT JOIN encryption_keys nk ON nk.id = r.new_key_id WHERE {filter} ORDER BY r.id"
    );
    let rows = db.query(&sql, &[&status]).await?;
    Ok(rows
        .iter()
        .map(|r| Rotation {
            id: r.get(0),
            old_key_id: r.get(1),
            new_key_id: r.get(2),
            status: r.get(3),
            initiated_at: rfc3339(r.get(4)),
            completed_at: rfc3339(r.get(5)),
            old_key_age_days: r.get(6),
            new_key_age_days: r.get(7),
            documents_remaining: r.get(8),
            reason: r.get(9),
            old_key_expires_at: rfc3339(r.get(10)),
            stalled: r.get(11),
        })
        .collect())
}

/// Number of stalled rotations (the `pqfile_rotations_stalled` gauge).
pub async fn count_stalled(db: &impl GenericClient) -> Result<i64, DbError> {
    let sql = format!(
        "SELECT count(*) FROM key_rotations r LEFT JOIN encryption_keys ok ON ok.id = r.old_key_id
         WHERE {STALLED_SQL}"
    );
    Ok(db.query_one(&sql, &[]).await?.get(0))
}

//! The key lifecycle (issue 5): `active` → `rotation_queued` (old enough to
//! rotate; a replacement is generated and a `key_rotations` row tracks the
//! move of its documents), `expired` (past `expires_at`) and `revoked`
//! (admin). Queued and expired keys are never handed out but still unwrap;
//! revoked keys unwrap for nobody (an admin may still rewrap to rescue data).
//!
//! A rotation goes `pending` (replacement ready) → `in_progress` (documents
//! still depend on the old key) → `completed` (none do: they moved off it
//! through rewrap), or `failed` with a reason.
//!
//! Correct across processes on one database: the rotation check runs under a
//! transaction advisory lock (`pg_try_advisory_xact_lock`: a second process
//! skips instead of rotating again), re-checks each key's status under its
//! row lock, and a unique partial index allows one open rotation per key.
//! Every other step is a single idempotent statement.

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use deadpool_postgres::Pool;
use pqfile_core::mlkem768::SecretKey;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::domain::{KeyId, rng};
use crate::kms::KeyWrapper;
use crate::pool::{self, FillError};

/// Arbitrary constant naming the rotation advisory lock.
const ROTATION_LOCK: i64 = 0x7071_6669_6c65_0003;

/// The key states of the original schema's `status_check`.
pub const KEY_STATUSES: [&str; 4] = ["active", "rotation_queued", "expired", "revoked"];

/// The states of a rotation.
pub const ROTATION_STATUSES: [&str; 4] = ["pending", "in_progress", "completed", "failed"];

/// What one rotation check did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct RotationCheck {
    /// Keys moved to `rotation_queued`.
    pub queued: Vec<i32>,
    /// The `key_rotations` rows opened (or failed) by this check.
    pub rotations: Vec<RotationStarted>,
}

/// One rotation opened by a check.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotationStarted {
    /// `key_rotations.id`.
    pub id: i32,
    /// The key being retired.
    pub old_key_id: i32,
    /// Its replacement (`null` when the rotation failed to start).
    pub new_key_id: Option<i32>,
    /// `pending`, or `failed` (then `reason` says why).
    pub status: String,
    /// Why the rotation failed.
    pub reason: Option<String>,
}

/// Keys past `expires_at` become `expired`; returns their ids.
pub async fn expire_keys(db: &Pool) -> Result<Vec<i32>, DbError> {
    let client = db.get().await?;
    let rows = client
        .query(
            "UPDATE encryption_keys SET status = 'expired'
             WHERE status IN ('active', 'rotation_queued') AND expires_at <= CURRENT_TIMESTAMP
             RETURNING id",
            &[],
        )
        .await?;
    let mut ids: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// `check_for_keys_to_rotate`: queues every active key older than
/// `rotation_age_days`, generates one replacement for each and opens a
/// `pending` rotation. When the KMS cannot wrap a replacement the key stays
/// active (it is retried next time) and a `failed` rotation records why.
/// Returns an empty check when another process is rotating right now.
pub async fn check_for_keys_to_rotate(
    db: &Pool,
    kms: &dyn KeyWrapper,
    rotation_age_days: u32,
) -> Result<RotationCheck, FillError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let got: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&ROTATION_LOCK])
        .await?
        .get(0);
    if !got {
        return Ok(RotationCheck::default());
    }
    let days = i32::try_from(rotation_age_days).unwrap_or(i32::MAX);
    let candidates: Vec<i32> = tx
        .query(
            "SELECT id FROM encryption_keys
             WHERE status = 'active' AND created_at <= CURRENT_TIMESTAMP - make_interval(days => $1)
               AND (expires_at IS NULL OR expires_at > CURRENT_TIMESTAMP)
             ORDER BY id",
            &[&days],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut check = RotationCheck::default();
    if candidates.is_empty() {
        return Ok(check);
    }
    let next_id = tx
        .prepare("SELECT nextval(pg_get_serial_sequence('encryption_keys', 'id'))::int4")
        .await?;
    let insert_key = tx
        .prepare(
            "INSERT INTO encryption_keys (id, public_key, private_key, kms_key_id, kms_key_arn, algorithm, status, usage_count)
             VALUES ($1, $2, $3, $4, $5, 'ML-KEM-768', 'active', 0)",
        )
        .await?;
    let queue = tx
        .prepare(
            "UPDATE encryption_keys SET status = 'rotation_queued' WHERE id = $1 AND status = 'active' RETURNING id",
        )
        .await?;
    let open = tx
        .prepare(
            "INSERT INTO key_rotations (old_key_id, new_key_id, status, reason) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .await?;
    // KMS calls first, row locks last: the keys being queued are locked only
    // for the few statements at the end, so registrations barely wait.
    let mut prepared = Vec::with_capacity(candidates.len());
    for old in candidates {
        let new_id = KeyId::from_db(tx.query_one(&next_id, &[]).await?.get(0));
        let sk = SecretKey::generate(&mut rng());
        match kms.wrap(new_id, &sk.to_seed()).await {
            Ok(w) => prepared.push((old, new_id, STANDARD.encode(sk.public_key().to_bytes()), w)),
            Err(e) => {
                let reason = format!("could not generate a replacement key: {e}");
                tracing::warn!(old_key_id = old, %reason, "rotation failed to start");
                let id: i32 = tx
                    .query_one(&open, &[&old, &None::<i32>, &"failed", &reason])
                    .await?
                    .get(0);
                check.rotations.push(RotationStarted {
                    id,
                    old_key_id: old,
                    new_key_id: None,
                    status: "failed".into(),
                    reason: Some(reason),
                });
            }
        }
    }
    for (old, new_id, public, wrapped) in prepared {
        // Re-checked under the row lock: a key revoked or expired meanwhile stays as it is.
        if tx.query_opt(&queue, &[&old]).await?.is_none() {
            continue;
        }
        tx.execute(
            &insert_key,
            &[
                &new_id.get(),
                &public,
                &wrapped.ciphertext,
                &wrapped.kms_key_id,
                &wrapped.kms_key_arn,
            ],
        )
        .await?;
        let id: i32 = tx
            .query_one(
                &open,
                &[&old, &Some(new_id.get()), &"pending", &None::<String>],
            )
            .await?
            .get(0);
        check.queued.push(old);
        check.rotations.push(RotationStarted {
            id,
            old_key_id: old,
            new_key_id: Some(new_id.get()),
            status: "pending".into(),
            reason: None,
        });
    }
    tx.commit().await?;
    if !check.queued.is_empty() {
        tracing::info!(queued = ?check.queued, "keys queued for rotation");
    }
    Ok(check)
}

/// Moves open rotations on: `completed` when no document depends on the old
/// key any more, else `in_progress`. `old_key_id` restricts it to one key.
pub const ADVANCE_ROTATIONS_SQL: &str = "UPDATE key_rotations r SET
    status = CASE WHEN EXISTS (SELECT 1 FROM documents d WHERE d.key_id = r.old_key_id)
                  THEN 'in_progress' ELSE 'completed' END,
    completed_at = CASE WHEN EXISTS (SELECT 1 FROM documents d WHERE d.key_id = r.old_key_id)
                  THEN NULL ELSE CURRENT_TIMESTAMP END
    WHERE r.status IN ('pending', 'in_progress') AND ($1::int4 IS NULL OR r.old_key_id = $1)
    RETURNING r.id, r.status";

/// Rotations advanced by [`advance_rotations`].
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct RotationProgress {
    /// Rotations that completed now.
    pub completed: Vec<i32>,
    /// Rotations still waiting for documents to be rewrapped.
    pub in_progress: Vec<i32>,
}

/// Runs [`ADVANCE_ROTATIONS_SQL`] for every open rotation.
pub async fn advance_rotations(db: &Pool) -> Result<RotationProgress, DbError> {
    let client = db.get().await?;
    let rows = client.query(ADVANCE_ROTATIONS_SQL, &[&None::<i32>]).await?;
    let mut p = RotationProgress::default();
    for r in rows {
        let id: i32 = r.get(0);
        if r.get::<_, String>(1) == "completed" {
            p.completed.push(id);
        } else {
            p.in_progress.push(id);
        }
    }
    p.completed.sort_unstable();
    p.in_progress.sort_unstable();
    Ok(p)
}

/// Revokes a key: it leaves the pool at once and unwraps for nobody. An open
/// rotation *to* this key fails (its documents can be rewrapped to another
/// key); one *from* it stays open until admins have rescued its documents.
/// Returns the previous status, `None` for an unknown key.
pub async fn revoke_key(db: &Pool, id: KeyId) -> Result<Option<String>, DbError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let Some(row) = tx
        .query_opt(
            "SELECT status FROM encryption_keys WHERE id = $1 FOR UPDATE",
            &[&id.get()],
        )
        .await?
    else {
        return Ok(None);
    };
    let previous: Option<String> = row.get(0);
    tx.execute(
        "UPDATE encryption_keys SET status = 'revoked' WHERE id = $1",
        &[&id.get()],
    )
    .await?;
    tx.execute(
        "UPDATE key_rotations SET status = 'failed', completed_at = CURRENT_TIMESTAMP,
             reason = 'replacement key ' || $1::int4 || ' was revoked'
         WHERE new_key_id = $1 AND status IN ('pending', 'in_progress')",
        &[&id.get()],
    )
    .await?;
    tx.commit().await?;
    tracing::warn!(key_id = %id, "key revoked");
    Ok(Some(previous.unwrap_or_default()))
}

/// Deletes access-log rows older than `days` days; returns how many.
pub async fn apply_retention(db: &Pool, days: u32) -> Result<u64, DbError> {
    let client = db.get().await?;
    let days = i32::try_from(days).unwrap_or(i32::MAX);
    Ok(client
        .execute(
            "DELETE FROM access_logs WHERE timestamp < CURRENT_TIMESTAMP - make_interval(days => $1)",
            &[&days],
        )
        .await?)
}

/// Keys per status.
pub async fn keys_by_status(db: &Pool) -> Result<Vec<(String, i64)>, DbError> {
    let client = db.get().await?;
    Ok(client
        .query(
            "SELECT COALESCE(status, 'active'), count(*) FROM encryption_keys GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// What one maintenance run did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct MaintenanceReport {
    /// Keys that expired.
    pub expired: Vec<i32>,
    /// The rotation check.
    pub rotation: RotationCheck,
    /// Open rotations moved on.
    pub rotations: RotationProgress,
    /// Keys generated to refill the pool.
    pub keys_generated: u32,
    /// Access-log rows deleted by retention.
    pub access_logs_deleted: u64,
    /// Wall-clock milliseconds.
    pub elapsed_ms: u64,
}

/// What maintenance needs to know.
pub struct MaintenancePolicy {
    /// Keys kept active.
    pub pool_size: u32,
    /// Rotation age.
    pub rotation_age_days: u32,
    /// Access-log retention.
    pub access_log_retention_days: u32,
}

/// Expiry, rotation check, rotation progress, pool refill and access-log
/// retention, once, in that order.
pub async fn run_maintenance(
    db: &Pool,
    kms: &dyn KeyWrapper,
    policy: &MaintenancePolicy,
) -> Result<MaintenanceReport, FillError> {
    let started = Instant::now();
    let expired = expire_keys(db).await?;
    let rotation = check_for_keys_to_rotate(db, kms, policy.rotation_age_days).await?;
    let rotations = advance_rotations(db).await?;
    let keys_generated = pool::fill(db, kms, policy.pool_size, true).await?;
    let access_logs_deleted = apply_retention(db, policy.access_log_retention_days).await?;
    Ok(MaintenanceReport {
        expired,
        rotation,
        rotations,
        keys_generated,
        access_logs_deleted,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

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

use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{AccessType, ClientInfo, Entry};
use crate::audit_chain::key::AuditKey;
use crate::audit_chain::retention;
use crate::db::{self, DbError, DbPool};
use crate::domain::KeyId;
use crate::key_pool::{self, FillError};
use crate::kms::{KeyWrapper, KmsError};
use crate::revocation;
use crate::store::keys::{self, KeyStatus};
use crate::store::stats::{self, KeyStatistics, UnusedKey};
use crate::store::{access_logs, rotations};

/// Arbitrary constant naming the rotation advisory lock.
const ROTATION_LOCK: i64 = 0x7071_6669_6c65_0003;

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

/// Keys past `expires_at` become `expired` and are announced to every
/// process (`revocation`), in one transaction; returns their ids.
pub async fn expire_keys(db: &DbPool) -> Result<Vec<i32>, DbError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let expired = keys::expire_due(&tx).await?;
    revocation::announce(&tx, &expired).await?;
    tx.commit().await?;
    Ok(expired)
}

/// `check_for_keys_to_rotate`: queues every active key older than
/// `rotation_age_days` (it expires `grace_days` later), generates one
/// replacement for each and opens a `pending` rotation. When the KMS cannot wrap a replacement the key stays
/// active (it is retried next time) and a `failed` rotation records why.
/// Returns an empty check when another process is rotating right now.
pub async fn check_for_keys_to_rotate(
    db: &DbPool,
    kms: &dyn KeyWrapper,
    rotation_age_days: u32,
    grace_days: u32,
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
    let candidates = keys::due_for_rotation(&tx, days).await?;
    let mut check = RotationCheck::default();
    // KMS calls first, row locks last: the keys being queued are locked only
    // for the few statements at the end, so registrations barely wait.
    let mut prepared = Vec::with_capacity(candidates.len());
    for old in candidates {
        let new_id = keys::reserve_key_id(&tx).await?;
        match keys::generate_key(new_id, kms).await {
            Ok(key) => prepared.push((old, key)),
            Err(e) => {
                let reason = format!("could not generate a replacement key: {e}");
                tracing::warn!(old_key_id = old, %reason, "rotation failed to start");
                let id = rotations::open(&tx, old, None, Some(&reason)).await?;
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
    for (old, key) in prepared {
        if !keys::queue_for_rotation(&tx, old, grace_days).await? {
            continue;
        }
        keys::insert_key(&tx, &key).await?;
        let id = rotations::open(&tx, old, Some(key.id), None).await?;
        check.queued.push(old);
        check.rotations.push(RotationStarted {
            id,
            old_key_id: old,
            new_key_id: Some(key.id.get()),
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

/// Rotations advanced by [`advance_rotations`].
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct RotationProgress {
    /// Rotations that completed now.
    pub completed: Vec<i32>,
    /// Rotations still waiting for documents to be rewrapped.
    pub in_progress: Vec<i32>,
}

/// Moves every open rotation on (see [`rotations::ADVANCE_ROTATIONS_SQL`]).
pub async fn advance_rotations(db: &DbPool) -> Result<RotationProgress, DbError> {
    let (completed, in_progress) = rotations::advance(&db.get().await?, None).await?;
    Ok(RotationProgress {
        completed,
        in_progress,
    })
}

/// Revokes a key: it leaves the pool at once and unwraps for nobody. An open
/// rotation *to* this key fails (its documents can be rewrapped to another
/// key); one *from* it stays open until admins have rescued its documents.
/// Returns the previous status, `None` for an unknown key.
pub async fn revoke_key(db: &DbPool, id: KeyId) -> Result<Option<KeyStatus>, DbError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let Some(previous) = keys::revoke(&tx, id).await? else {
        return Ok(None);
    };
    rotations::fail_to(&tx, id).await?;
    revocation::announce(&tx, &[id.get()]).await?;
    tx.commit().await?;
    tracing::warn!(key_id = %id, "key revoked");
    Ok(Some(previous))
}

/// Who runs a retention, for its audit row.
pub struct RetentionBy<'a> {
    /// The admin (`None`: the background maintenance).
    pub user_id: Option<i32>,
    /// Their client.
    pub client: &'a ClientInfo,
}

/// Deletes access-log rows older than `days` days, keeping the log
/// verifiable (`audit_chain::retention`); returns how many. Runs as the
/// owner (`owner_url`, a short-lived connection): the server's own role may
/// not delete audit rows. Fails closed: without the audit key (to sign the
/// cut) or its audit row, nothing is deleted.
pub async fn apply_retention(
    owner_url: &str,
    key: Option<&AuditKey>,
    days: u32,
    by: &RetentionBy<'_>,
) -> Result<retention::Retained, FillError> {
    let key = key.ok_or_else(|| {
        KmsError::Unavailable(
            "the audit key is not loaded, so retention cannot sign its cut".into(),
        )
    })?;
    let mut client = db::owner_connection(owner_url).await?;
    let tx = client.transaction().await?;
    let write_row = async |note: &str| {
        let entry = Entry {
            document_id: None,
            access_type: AccessType::Admin,
            user_id: by.user_id,
            client: by.client,
            key_id: None,
            refusal: None,
            seal: Some(key.seal()),
        };
        access_logs::insert_allowed(&tx, &entry, Some(note)).await
    };
    let done = retention::apply(&tx, key, days, write_row).await?;
    tx.commit().await?;
    Ok(done)
}

/// Open rotations that are stalled (`store::rotations::STALLED_SQL`).
pub async fn stalled_rotations(db: &DbPool) -> Result<i64, DbError> {
    rotations::count_stalled(&db.get().await?).await
}

/// Keys per status.
pub async fn keys_by_status(db: &DbPool) -> Result<Vec<(KeyStatus, i64)>, DbError> {
    keys::count_by_status(&db.get().await?).await
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
    /// Audit-log partitions created ahead (`audit_partitions`).
    pub partitions_created: Vec<String>,
    /// Access-log rows deleted by retention.
    pub access_logs_deleted: u64,
    /// Audit-log partitions retention dropped (whole months).
    pub partitions_dropped: Vec<String>,
    /// The seed's "key statistics" after the run: keys per status, usage of
    /// active keys.
    pub key_statistics: KeyStatistics,
    /// The seed's "unused keys": active keys never used, older than 7 days.
    pub unused_keys: Vec<UnusedKey>,
    /// Open rotations that are stalled after the run.
    pub stalled_rotations: i64,
    /// Stored ciphertexts moved off keys under rotation (`rewrap`).
    pub stored_rewraps: crate::rewrap::StoredRewraps,
    /// Wall-clock milliseconds.
    pub elapsed_ms: u64,
}

/// What maintenance needs to know.
pub struct MaintenancePolicy {
    /// Keys kept active.
    pub pool_size: u32,
    /// Rotation age.
    pub rotation_age_days: u32,
    /// Days a queued key keeps unwrapping before it expires.
    pub rotation_grace_days: u32,
    /// Access-log retention.
    pub access_log_retention_days: u32,
    /// The owner's database URL (retention deletes as the owner).
    pub owner_url: String,
    /// The audit key (retention signs its cut).
    pub audit_key: Option<std::sync::Arc<AuditKey>>,
}

/// Expiry, rotation check, rotation progress, pool refill and access-log
/// retention, once, in that order.
pub async fn run_maintenance(
    db: &DbPool,
    kms: &dyn KeyWrapper,
    policy: &MaintenancePolicy,
) -> Result<MaintenanceReport, FillError> {
    let started = Instant::now();
    let expired = expire_keys(db).await?;
    let rotation = check_for_keys_to_rotate(
        db,
        kms,
        policy.rotation_age_days,
        policy.rotation_grace_days,
    )
    .await?;
    let rotations = advance_rotations(db).await?;
    let keys_generated = key_pool::fill(db, kms, policy.pool_size, true).await?;
    let partitions_created =
        db::ensure_partitions(&mut db::owner_connection(&policy.owner_url).await?).await?;
    let retained = apply_retention(
        &policy.owner_url,
        policy.audit_key.as_deref(),
        policy.access_log_retention_days,
        &RetentionBy {
            user_id: None,
            client: &ClientInfo::default(),
        },
    )
    .await?;
    let client = db.get().await?;
    let key_statistics = stats::key_statistics(&client).await?;
    let unused_keys = stats::unused_keys(&client).await?;
    let stalled_rotations = rotations::count_stalled(&client).await?;
    Ok(MaintenanceReport {
        expired,
        rotation,
        rotations,
        keys_generated,
        partitions_created,
        access_logs_deleted: retained.deleted,
        partitions_dropped: retained.partitions_dropped,
        key_statistics,
        unused_keys,
        stalled_rotations,
        stored_rewraps: Default::default(),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

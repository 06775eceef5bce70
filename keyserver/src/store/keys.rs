//! `encryption_keys`: the one place that generates a key, picks the
//! least-used active key and changes a key's status.

use std::error::Error;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use deadpool_postgres::GenericClient;
use pqfile_core::mlkem768::SecretKey;
use serde::Serialize;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use utoipa::ToSchema;

use super::rfc3339;
use crate::db::DbError;
use crate::domain::{KeyId, rng};
use crate::kms::{KeyWrapper, KmsError, Purpose, WrappedKey};

/// A key's state (the schema's `status_check`). `active` keys are handed
/// out; `rotation_queued` ones are not, but still unwrap until their
/// `expires_at`; `expired` and `revoked` ones unwrap for nobody (admins may
/// still rewrap to rescue).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyStatus {
    /// Handed out to new documents.
    Active,
    /// Old enough to rotate: a replacement exists, documents move off it.
    RotationQueued,
    /// Past `expires_at`: unwraps for nobody.
    Expired,
    /// Taken out by an admin.
    Revoked,
}

impl KeyStatus {
    /// Every state, in the constraint's order.
    pub const ALL: [KeyStatus; 4] = [
        Self::Active,
        Self::RotationQueued,
        Self::Expired,
        Self::Revoked,
    ];

    /// The database (and API) value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::RotationQueued => "rotation_queued",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    /// Parses the database (and API) value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stored as text (`VARCHAR(20)` under a CHECK constraint), not a
/// PostgreSQL enum type, so the schema stays as it is.
impl ToSql for KeyStatus {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        self.as_str().to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        <&str as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for KeyStatus {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let s = <&str as FromSql>::from_sql(ty, raw)?;
        Self::parse(s).ok_or_else(|| format!("unknown key status {s:?}").into())
    }

    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty)
    }
}

/// `UPDATE` taking the least-used active key (`$except` may exclude one),
/// counting the use. `FOR UPDATE SKIP LOCKED` makes N concurrent takers add
/// exactly N; the `WAIT` form waits for a locked key instead (the fallback
/// when every active key is momentarily locked). The `'active'` literal
/// lets the planner use the partial index on active keys.
macro_rules! take_least_used_key {
    ($except:literal, $lock:literal, $returning:literal) => {
        concat!(
            "UPDATE encryption_keys SET usage_count = COALESCE(usage_count, 0) + 1
    WHERE id = (SELECT id FROM encryption_keys
                WHERE status = 'active' AND (expires_at IS NULL OR expires_at > CURRENT_TIMESTAMP)",
            $except,
            "
                ORDER BY usage_count, id LIMIT 1 ",
            $lock,
            ")
    RETURNING ",
            $returning
        )
    };
}
pub(crate) use take_least_used_key;

/// Active keys that may be handed out for new documents.
pub const ACTIVE_KEYS_SQL: &str = "SELECT count(*) FROM encryption_keys \
     WHERE status = 'active' AND (expires_at IS NULL OR expires_at > CURRENT_TIMESTAMP)";

/// Takes the least-used active key that is none of `$1` (the keys the
/// header already has stanzas for).
pub const REWRAP_KEY_SQL: &str = take_least_used_key!(
    " AND id <> ALL($1)",
    "FOR UPDATE SKIP LOCKED",
    "id, public_key"
);

/// As [`REWRAP_KEY_SQL`] but waits when every candidate is locked.
pub const REWRAP_KEY_WAIT_SQL: &str =
    take_least_used_key!(" AND id <> ALL($1)", "FOR UPDATE", "id, public_key");

/// Number of keys that can be handed out now.
pub async fn active_keys(db: &impl GenericClient) -> Result<i64, DbError> {
    Ok(db.query_one(ACTIVE_KEYS_SQL, &[]).await?.get(0))
}

/// Takes the least-used active key that is none of `except` for a rewrap
/// (skipping locked keys first, then waiting), counted as used: its id and
/// base64 public key.
pub async fn take_for_rewrap(
    tx: &impl GenericClient,
    except: &[i32],
) -> Result<Option<(KeyId, String)>, DbError> {
    for sql in [REWRAP_KEY_SQL, REWRAP_KEY_WAIT_SQL] {
        if let Some(row) = tx.query_opt(sql, &[&except]).await? {
            return Ok(Some((KeyId::from_db(row.get(0)), row.get(1))));
        }
    }
    Ok(None)
}

/// A generated key pair, its private half wrapped by the KMS.
pub struct NewKey {
    /// The reserved `encryption_keys.id` the KMS bound the wrapped key to.
    pub id: KeyId,
    /// Standard base64 of the public key.
    pub public_key: String,
    /// The wrapped private key.
    pub wrapped: WrappedKey,
}

/// Reserves the next key id, so the KMS can bind the wrapped key to it.
pub async fn reserve_key_id(tx: &impl GenericClient) -> Result<KeyId, DbError> {
    let sql = "SELECT nextval(pg_get_serial_sequence('encryption_keys', 'id'))::int4";
    Ok(KeyId::from_db(tx.query_one(sql, &[]).await?.get(0)))
}

/// Generates an ML-KEM-768 key pair for `id` and wraps its seed.
pub async fn generate_key(id: KeyId, kms: &dyn KeyWrapper) -> Result<NewKey, KmsError> {
    let sk = SecretKey::generate(&mut rng());
    let wrapped = kms.wrap(Purpose::PoolKey, id, &sk.to_seed()).await?;
    Ok(NewKey {
        id,
        public_key: STANDARD.encode(sk.public_key().to_bytes()),
        wrapped,
    })
}

/// Stores a generated key as `active`, unused.
pub async fn insert_key(tx: &impl GenericClient, key: &NewKey) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO encryption_keys (id, public_key, private_key, kms_key_id, kms_key_arn, algorithm, status, usage_count)
         VALUES ($1, $2, $3, $4, $5, 'ML-KEM-768', $6, 0)",
        &[
            &key.id.get(),
            &key.public_key,
            &key.wrapped.ciphertext,
            &key.wrapped.kms_key_id,
            &key.wrapped.kms_key_arn,
            &KeyStatus::Active,
        ],
    )
    .await?;
    Ok(())
}

/// Keys that are still handed out or queued but past `expires_at` become
/// `expired`; returns their ids, sorted.
pub async fn expire_due(db: &impl GenericClient) -> Result<Vec<i32>, DbError> {
    let rows = db
        .query(
            "UPDATE encryption_keys SET status = $1
             WHERE status = ANY($2) AND expires_at <= CURRENT_TIMESTAMP
             RETURNING id",
            &[
                &KeyStatus::Expired,
                &[KeyStatus::Active, KeyStatus::RotationQueued].as_slice(),
            ],
        )
        .await?;
    let mut ids: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Active, unexpired keys at least `days` old, by id.
pub async fn due_for_rotation(tx: &impl GenericClient, days: i32) -> Result<Vec<i32>, DbError> {
    Ok(tx
        .query(
            "SELECT id FROM encryption_keys
             WHERE status = $2 AND created_at <= CURRENT_TIMESTAMP - make_interval(days => $1)
               AND (expires_at IS NULL OR expires_at > CURRENT_TIMESTAMP)
             ORDER BY id",
            &[&days, &KeyStatus::Active],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Queues key `id` for rotation if it is still active (checked under the
/// row lock: a key revoked or expired meanwhile stays as it is). It keeps
/// unwrapping for `grace_days` (its `expires_at`), the time its documents
/// have to move to a current key.
pub async fn queue_for_rotation(
    tx: &impl GenericClient,
    id: i32,
    grace_days: u32,
) -> Result<bool, DbError> {
    // At most a century: beyond that the timestamp would overflow.
    let days = i32::try_from(grace_days.min(36_500)).unwrap_or(36_500);
    Ok(tx
        .query_opt(
            "UPDATE encryption_keys SET status = $2,
                 expires_at = CURRENT_TIMESTAMP + make_interval(days => $4)
             WHERE id = $1 AND status = $3 RETURNING id",
            &[&id, &KeyStatus::RotationQueued, &KeyStatus::Active, &days],
        )
        .await?
        .is_some())
}

/// Marks key `id` revoked; returns its previous status (`None`: no such key).
pub async fn revoke(tx: &impl GenericClient, id: KeyId) -> Result<Option<KeyStatus>, DbError> {
    let Some(row) = tx
        .query_opt(
            "SELECT COALESCE(status, 'active') FROM encryption_keys WHERE id = $1 FOR UPDATE",
            &[&id.get()],
        )
        .await?
    else {
        return Ok(None);
    };
    tx.execute(
        "UPDATE encryption_keys SET status = $2 WHERE id = $1",
        &[&id.get(), &KeyStatus::Revoked],
    )
    .await?;
    Ok(Some(row.get(0)))
}

/// Keys per status (a missing status counts as `active`).
pub async fn count_by_status(db: &impl GenericClient) -> Result<Vec<(KeyStatus, i64)>, DbError> {
    Ok(db
        .query(
            "SELECT COALESCE(status, 'active'), count(*) FROM encryption_keys GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Whether a key with this (stanza) id exists.
pub async fn exists(db: &impl GenericClient, id: u32) -> Result<bool, DbError> {
    let Ok(id) = i32::try_from(id) else {
        return Ok(false);
    };
    Ok(db
        .query_opt("SELECT 1 FROM encryption_keys WHERE id = $1", &[&id])
        .await?
        .is_some())
}

/// A key as clients see it.
#[derive(Serialize, ToSchema)]
pub struct KeyInfo {
    /// `encryption_keys.id`.
    pub key_id: i32,
    /// `ML-KEM-768`.
    pub algorithm: String,
    /// Standard base64 of the 1184-byte encapsulation key.
    pub public_key: String,
    /// `active`, `rotation_queued`, `expired` or `revoked`.
    pub status: String,
    /// RFC 3339, UTC.
    pub created_at: Option<String>,
    /// RFC 3339, UTC; `null` when the key does not expire.
    pub expires_at: Option<String>,
}

/// Key `id`'s public half and status.
pub async fn get(db: &impl GenericClient, id: KeyId) -> Result<Option<KeyInfo>, DbError> {
    let secs = |t: Option<chrono::NaiveDateTime>| {
        t.map(|t| {
            t.and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
    };
    Ok(db
        .query_opt(
            "SELECT id, algorithm, public_key, status, created_at, expires_at FROM encryption_keys WHERE id = $1",
            &[&id.get()],
        )
        .await?
        .map(|row| KeyInfo {
            key_id: row.get(0),
            algorithm: row.get(1),
            public_key: row.get(2),
            status: row
                .get::<_, Option<KeyStatus>>(3)
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            created_at: secs(row.get(4)),
            expires_at: secs(row.get(5)),
        }))
}

/// One key of the pool.
#[derive(Serialize, ToSchema)]
pub struct AdminKey {
    /// `encryption_keys.id`.
    pub key_id: i32,
    /// `active`, `rotation_queued`, `expired` or `revoked`.
    pub status: String,
    /// `ML-KEM-768`.
    pub algorithm: String,
    /// Documents (and rewraps) handed this key.
    pub usage_count: i32,
    /// RFC 3339, UTC.
    pub created_at: Option<String>,
    /// RFC 3339, UTC.
    pub expires_at: Option<String>,
    /// Documents that depend on this key now.
    pub documents: i64,
}

/// Every key (or those in `status`), by id, with the documents depending on it.
pub async fn list(
    db: &impl GenericClient,
    status: Option<KeyStatus>,
) -> Result<Vec<AdminKey>, DbError> {
    let rows = db
        .query(
            "SELECT k.id, COALESCE(k.status, 'active'), k.algorithm, COALESCE(k.usage_count, 0), k.created_at, k.expires_at,
                    (SELECT count(*) FROM documents d WHERE d.key_id = k.id)
             FROM encryption_keys k WHERE ($1::text IS NULL OR k.status = $1) ORDER BY k.id",
            &[&status.map(KeyStatus::as_str)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AdminKey {
            key_id: r.get(0),
            status: r.get::<_, KeyStatus>(1).as_str().to_owned(),
            algorithm: r.get(2),
            usage_count: r.get(3),
            created_at: rfc3339(r.get(4)),
            expires_at: rfc3339(r.get(5)),
            documents: r.get(6),
        })
        .collect())
}

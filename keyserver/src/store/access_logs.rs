//! `access_logs`: the audit rows, their queries and their retention.

use deadpool_postgres::GenericClient;
use serde::Serialize;
use tokio_postgres::types::ToSql;
use utoipa::ToSchema;

use super::rfc3339;
use crate::audit::Entry;
use crate::db::DbError;
use crate::pipeline::Pipelined;

/// The audit row of one access.
pub const INSERT_SQL: &str = "INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome, reason, seal)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// The audit row of an unwrap that is about to release a file key, written
/// only if key `$6` still unwraps (neither revoked nor expired) when the
/// statement runs: the status is re-checked in the statement that commits
/// the unwrap, so a revocation that committed before it is never missed,
/// whatever a process read or cached earlier. Same values as [`INSERT_SQL`].
pub const INSERT_IF_KEY_USABLE_SQL: &str = "INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome, reason, seal)
             SELECT $1::text, $2::text, $3::text, $4::inet, $5::text, $6::int4, $7::text, $8::text, $9::bytea
             WHERE EXISTS (SELECT 1 FROM encryption_keys k WHERE k.id = $6::int4
                 AND COALESCE(k.status, 'active') IN ('active', 'rotation_queued')
                 AND (k.expires_at IS NULL OR k.expires_at > CURRENT_TIMESTAMP))";

/// The values of one row, in `INSERT_SQL`'s order.
struct Row<'a> {
    e: &'a Entry<'a>,
    access_type: &'static str,
    user_id: Option<String>,
    outcome: &'static str,
    reason: Option<&'a str>,
}

impl<'a> Row<'a> {
    fn new(e: &'a Entry<'a>, outcome: &'static str, reason: Option<&'a str>) -> Self {
        Self {
            e,
            access_type: e.access_type.as_str(),
            user_id: e.user_id.map(|u| u.to_string()),
            outcome,
            reason,
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 9] {
        [
            &self.e.document_id,
            &self.access_type,
            &self.user_id,
            &self.e.client.ip,
            &self.e.client.user_agent,
            &self.e.key_id,
            &self.outcome,
            &self.reason,
            &self.e.seal,
        ]
    }
}

/// Inserts `e` on a pipelined connection (one statement per request).
pub async fn insert(db: &Pipelined, e: &Entry<'_>) -> Result<(), DbError> {
    let outcome = if e.refusal.is_some() {
        "refused"
    } else {
        "allowed"
    };
    insert_with(db, e, outcome, e.refusal).await
}

/// Inserts `e` with this outcome and reason on a pipelined connection.
pub async fn insert_with(
    db: &Pipelined,
    e: &Entry<'_>,
    outcome: &'static str,
    reason: Option<&str>,
) -> Result<(), DbError> {
    let client = db.conn().await?;
    let stmt = client.prepare_cached(INSERT_SQL).await?;
    client
        .execute(&stmt, &Row::new(e, outcome, reason).params())
        .await?;
    Ok(())
}

/// Inserts the row of an allowed unwrap `e` with [`INSERT_IF_KEY_USABLE_SQL`]
/// on a pipelined connection; `false` (no row) when its key no longer
/// unwraps: the caller must refuse.
pub async fn insert_if_key_usable(db: &Pipelined, e: &Entry<'_>) -> Result<bool, DbError> {
    let client = db.conn().await?;
    let stmt = client.prepare_cached(INSERT_IF_KEY_USABLE_SQL).await?;
    let n = client
        .execute(&stmt, &Row::new(e, "allowed", None).params())
        .await?;
    Ok(n == 1)
}

/// The audit row of a rewrap the server did itself (maintenance moving a
/// stored ciphertext off a key under rotation): no user, no client; in `tx`,
/// so the rewrap commits only with it.
pub async fn insert_server_rewrap(
    tx: &impl GenericClient,
    doc: &str,
    key: crate::domain::KeyId,
    note: &str,
    seal: Option<Vec<u8>>,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO access_logs (document_id, access_type, user_id, key_id, outcome, reason, seal)
         VALUES ($1, 'rewrap', NULL, $2, 'allowed', $3, $4)",
        &[&doc, &key.get(), &note, &seal],
    )
    .await?;
    Ok(())
}

/// Inserts the row of an allowed access `e` inside a transaction, so the
/// change it records commits only with it; `note` fills `reason`.
pub async fn insert_allowed(
    tx: &impl GenericClient,
    e: &Entry<'_>,
    note: Option<&str>,
) -> Result<(), DbError> {
    tx.execute(INSERT_SQL, &Row::new(e, "allowed", note).params())
        .await?;
    Ok(())
}

/// One audit-log entry of a document.
#[derive(Serialize, ToSchema)]
pub struct AccessEntry {
    /// `encrypt` or `decrypt`.
    pub access_type: Option<String>,
    /// RFC 3339, UTC.
    pub timestamp: Option<String>,
    /// The user's name (or id, if the user no longer exists).
    pub user: Option<String>,
    /// Client IP address.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// `allowed` or `refused`.
    pub outcome: String,
    /// The refusal's error code.
    pub reason: Option<String>,
}

/// Document `id`'s entries, newest first, at most `limit`.
pub async fn of_document(
    db: &impl GenericClient,
    id: &str,
    limit: i64,
) -> Result<Vec<AccessEntry>, DbError> {
    let rows = db
        .query(
            "SELECT a.access_type, a.timestamp, COALESCE(u.name, a.user_id), host(a.ip_address), a.user_agent, a.outcome, a.reason
             FROM access_logs a LEFT JOIN users u ON u.id::text = a.user_id
             WHERE a.document_id = $1 ORDER BY a.timestamp DESC, a.id DESC LIMIT $2",
            &[&id, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AccessEntry {
            access_type: r.get(0),
            timestamp: rfc3339(r.get(1)),
            user: r.get(2),
            ip_address: r.get(3),
            user_agent: r.get(4),
            outcome: r.get(5),
            reason: r.get(6),
        })
        .collect())
}

/// One access-log row.
#[derive(Serialize, ToSchema)]
pub struct LogEntry {
    /// Row id.
    pub id: i64,
    /// The document.
    pub document_id: Option<String>,
    /// What was attempted.
    pub access_type: Option<String>,
    /// RFC 3339, UTC.
    pub timestamp: Option<String>,
    /// The user's name (or id).
    pub user: Option<String>,
    /// Client IP.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// The key involved.
    pub key_id: Option<i32>,
    /// `allowed` or `refused`.
    pub outcome: String,
    /// The refusal's code (or a note).
    pub reason: Option<String>,
}

/// The filters of an access-log query, already validated.
pub struct LogFilter {
    /// 32 hex digits.
    pub document_id: Option<String>,
    /// A user name.
    pub user: Option<String>,
    /// An `access_type` value.
    pub access_type: Option<String>,
    /// Entries at or after.
    pub since: Option<chrono::NaiveDateTime>,
    /// Entries before.
    pub until: Option<chrono::NaiveDateTime>,
}

const LOG_FILTER: &str = "($1::text IS NULL OR a.document_id = $1)
      AND ($2::text IS NULL OR a.user_id = (SELECT id::text FROM users WHERE name = $2))
      AND ($3::text IS NULL OR a.access_type = $3)
      AND ($4::timestamp IS NULL OR a.timestamp >= $4)
      AND ($5::timestamp IS NULL OR a.timestamp < $5)";

/// The rows matching `f` over all pages, and page `page` (from 1) of
/// `per_page` rows, newest first.
pub async fn page(
    db: &impl GenericClient,
    f: &LogFilter,
    page: i64,
    per_page: i64,
) -> Result<(i64, Vec<LogEntry>), DbError> {
    let params: [&(dyn ToSql + Sync); 5] =
        [&f.document_id, &f.user, &f.access_type, &f.since, &f.until];
    let total: i64 = db
        .query_one(
            &format!("SELECT count(*) FROM access_logs a WHERE {LOG_FILTER}"),
            &params,
        )
        .await?
        .get(0);
    let offset = (page - 1) * per_page;
    let mut all: Vec<&(dyn ToSql + Sync)> = params.to_vec();
    all.push(&per_page);
    all.push(&offset);
    let rows = db
        .query(
            &format!(
                "SELECT a.id, a.document_id, a.access_type, a.timestamp, COALESCE(u.name, a.user_id),
                        host(a.ip_address), a.user_agent, a.key_id, a.outcome, a.reason
                 FROM access_logs a LEFT JOIN users u ON u.id::text = a.user_id
                 WHERE {LOG_FILTER} ORDER BY a.timestamp DESC, a.id DESC LIMIT $6 OFFSET $7"
            ),
            &all,
        )
        .await?;
    let entries = rows
        .iter()
        .map(|r| LogEntry {
            id: r.get(0),
            document_id: r.get(1),
            access_type: r.get(2),
            timestamp: rfc3339(r.get(3)),
            user: r.get(4),
            ip_address: r.get(5),
            user_agent: r.get(6),
            key_id: r.get(7),
            outcome: r.get(8),
            reason: r.get(9),
        })
        .collect();
    Ok((total, entries))
}

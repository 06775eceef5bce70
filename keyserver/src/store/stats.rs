//! The original system's monitoring queries, for `GET /v1/admin/stats` and
//! every maintenance run (its report and gauges).

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;
use serde::Serialize;
use utoipa::ToSchema;

use super::keys::KeyStatus;
use super::rfc3339;
use crate::db::DbError;

/// Distribution of `usage_count` over active keys.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct UsageStats {
    /// Least-used active key's count.
    pub min: Option<i64>,
    /// Most-used.
    pub max: Option<i64>,
    /// Mean.
    pub avg: Option<f64>,
    /// Population standard deviation.
    pub stddev: Option<f64>,
}

/// The "key statistics" query: keys per status and the usage of active keys.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct KeyStatistics {
    /// Keys per status (statuses without keys are left out).
    pub keys_by_status: BTreeMap<String, i64>,
    /// Usage distribution of active keys.
    pub usage: UsageStats,
}

/// Keys per status and the usage distribution of active keys.
pub async fn key_statistics(db: &impl GenericClient) -> Result<KeyStatistics, DbError> {
    let keys_by_status = super::keys::count_by_status(db)
        .await?
        .into_iter()
        .map(|(s, n)| (s.as_str().to_owned(), n))
        .collect();
    Ok(KeyStatistics {
        keys_by_status,
        usage: usage(db).await?,
    })
}

/// Accesses of one type on one day.
#[derive(Serialize, ToSchema)]
pub struct DailyAccess {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// `encrypt`, `decrypt`, ...
    pub access_type: Option<String>,
    /// Rows.
    pub count: i64,
}

/// An active key nobody used.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnusedKey {
    /// The key.
    pub key_id: i32,
    /// RFC 3339, UTC.
    pub created_at: Option<String>,
    /// Age in days.
    pub age_days: f64,
}

/// One table's size.
#[derive(Serialize, ToSchema)]
pub struct TableSize {
    /// Table name.
    pub name: String,
    /// Bytes including indexes and TOAST.
    pub size_bytes: i64,
    /// Exact row count.
    pub rows: i64,
}

/// The tables the stats report on.
const TABLES: [&str; 7] = [
    "encryption_keys",
    "access_logs",
    "key_rotations",
    "documents",
    "document_grants",
    "users",
    "api_tokens",
];

/// Usage distribution of active keys.
pub async fn usage(db: &impl GenericClient) -> Result<UsageStats, DbError> {
    let u = db
        .query_one(
            "SELECT min(usage_count)::int8, max(usage_count)::int8, avg(usage_count)::float8, stddev_pop(usage_count)::float8
             FROM encryption_keys WHERE status = $1",
            &[&KeyStatus::Active],
        )
        .await?;
    Ok(UsageStats {
        min: u.get(0),
        max: u.get(1),
        avg: u.get(2),
        stddev: u.get(3),
    })
}

/// Access volume by day and type over the last 7 days.
pub async fn daily_access(db: &impl GenericClient) -> Result<Vec<DailyAccess>, DbError> {
    Ok(db
        .query(
            "SELECT to_char(date_trunc('day', timestamp), 'YYYY-MM-DD'), access_type, count(*)
             FROM access_logs WHERE timestamp >= date_trunc('day', CURRENT_TIMESTAMP) - interval '6 days'
             GROUP BY 1, 2 ORDER BY 1, 2",
            &[],
        )
        .await?
        .iter()
        .map(|r| DailyAccess {
            day: r.get(0),
            access_type: r.get(1),
            count: r.get(2),
        })
        .collect())
}

/// Active keys never used and older than 7 days.
pub async fn unused_keys(db: &impl GenericClient) -> Result<Vec<UnusedKey>, DbError> {
    Ok(db
        .query(
            "SELECT id, created_at, (EXTRACT(EPOCH FROM CURRENT_TIMESTAMP - created_at) / 86400)::float8
             FROM encryption_keys
             WHERE status = $1 AND COALESCE(usage_count, 0) = 0 AND created_at < CURRENT_TIMESTAMP - interval '7 days'
             ORDER BY id",
            &[&KeyStatus::Active],
        )
        .await?
        .iter()
        .map(|r| UnusedKey {
            key_id: r.get(0),
            created_at: rfc3339(r.get(1)),
            age_days: r.get(2),
        })
        .collect())
}

/// `pg_database_size` of the current database.
pub async fn database_size(db: &impl GenericClient) -> Result<i64, DbError> {
    Ok(db
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await?
        .get(0))
}

/// The key server's tables: size and exact row count.
pub async fn tables(db: &impl GenericClient) -> Result<Vec<TableSize>, DbError> {
    let mut tables = Vec::with_capacity(TABLES.len());
    for name in TABLES {
        // Names come from the constant list above, never from the request.
        let row = db
            .query_one(
                // A partitioned table (access_logs) has no storage of its
                // own: its size is its partitions'.
                &format!(
                    "SELECT COALESCE((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('{name}')), 0)::int8,
                            (SELECT count(*) FROM {name})"
                ),
                &[],
            )
            .await?;
        tables.push(TableSize {
            name: name.to_owned(),
            size_bytes: row.get(0),
            rows: row.get(1),
        });
    }
    Ok(tables)
}

//! PostgreSQL: the connection pool ([`DbPool`]; not to be confused with the
//! key pool, `key_pool`) and the refinery migrations in `../migrations`.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// The pool of PostgreSQL connections (deadpool). The *key* pool is
/// `crate::key_pool`.
pub type DbPool = Pool;

/// Arbitrary constant naming the migration advisory lock.
const MIGRATION_LOCK: i64 = 0x7071_6669_6c65_0001;

/// Why the database could not be reached or prepared.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database URL does not parse.
    #[error("invalid database URL: {0}")]
    Url(tokio_postgres::Error),
    /// The pool could not be built.
    #[error("cannot build the connection pool: {0}")]
    Build(#[from] deadpool_postgres::BuildError),
    /// No connection could be checked out of the connection pool.
    #[error("cannot connect to PostgreSQL: {0}")]
    Checkout(#[from] deadpool_postgres::PoolError),
    /// A pipelined connection closed and could not be reopened.
    #[error("the PostgreSQL connection closed")]
    Closed,
    /// A query failed.
    #[error("PostgreSQL error: {0}")]
    Query(#[from] tokio_postgres::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] refinery::Error),
}

/// Parses `url` and forces UTC, so `TIMESTAMP` columns (which have no zone)
/// always hold UTC whatever the server's default time zone is.
pub fn pg_config(url: &str) -> Result<tokio_postgres::Config, DbError> {
    let mut cfg = tokio_postgres::Config::from_str(url).map_err(DbError::Url)?;
    cfg.options("-c TimeZone=UTC");
    cfg.application_name("pqfile-keyserver");
    cfg.connect_timeout(Duration::from_secs(5));
    Ok(cfg)
}

/// A connection pool of at most `max_size` connections.
pub fn connect(url: &str, max_size: usize) -> Result<DbPool, DbError> {
    let mgr = Manager::from_config(
        pg_config(url)?,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(mgr)
        .max_size(max_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(5)))
        .build()?)
}

/// A short-lived connection as the owner of the tables (migrations,
/// access-log retention): the role the server runs as may not change or
/// delete the audit log, so that work needs its own connection. It is not
/// pooled: dropping it closes it (its one-connection pool is already gone).
pub async fn owner_connection(url: &str) -> Result<deadpool_postgres::Object, DbError> {
    Ok(connect(url, 1)?.get().await?)
}

/// Creates the audit log's partitions of this month and the next ones
/// (`audit_partitions`), in `client`, an owner's connection.
/// Returns the partitions created.
pub async fn ensure_partitions(
    client: &mut deadpool_postgres::Object,
) -> Result<Vec<String>, DbError> {
    let tx = client.transaction().await?;
    let created = crate::audit_partitions::ensure_ahead(&tx).await?;
    tx.commit().await?;
    Ok(created)
}

/// Applies the migrations up to and including `version` only, as the owner
/// (upgrade tests: a database as an older release left it).
pub async fn migrate_to(owner_url: &str, version: i32) -> Result<(), DbError> {
    let mut client = owner_connection(owner_url).await?;
    embedded::migrations::runner()
        .set_target(refinery::Target::Version(version))
        .run_async(&mut **client)
        .await?;
    Ok(())
}

/// Applies pending migrations as the owner (`owner_url`). Several processes
/// may start at once: a session advisory lock makes them take turns.
pub async fn migrate(owner_url: &str) -> Result<(), DbError> {
    let mut client = owner_connection(owner_url).await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = match embedded::migrations::runner()
        .run_async(&mut **client)
        .await
    {
        Ok(report) => ensure_partitions(&mut client).await.map(|_| report),
        Err(e) => Err(e.into()),
    };
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    let report = result?;
    for m in report.applied_migrations() {
        tracing::info!(migration = %m, "applied migration");
    }
    Ok(())
}

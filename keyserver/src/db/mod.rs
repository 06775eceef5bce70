//! PostgreSQL: the connection pool ([`DbPool`]; not to be confused with the
//! key pool, `key_pool`) and the refinery migrations in `../migrations`.

pub mod tls;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

pub use tls::Target;

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
    #[error("invalid database URL: {}", describe(.0))]
    Url(tokio_postgres::Error),
    /// The URL's TLS settings cannot be used (`tls`).
    #[error("database TLS: {0}")]
    Tls(String),
    /// The pool could not be built.
    #[error("cannot build the connection pool: {0}")]
    Build(#[from] deadpool_postgres::BuildError),
    /// No connection could be checked out of the connection pool.
    #[error("cannot connect to PostgreSQL: {}", describe(.0))]
    Checkout(#[from] deadpool_postgres::PoolError),
    /// A pipelined connection closed and could not be reopened.
    #[error("the PostgreSQL connection closed")]
    Closed,
    /// A query failed.
    #[error("PostgreSQL error: {}", describe(.0))]
    Query(#[from] tokio_postgres::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] refinery::Error),
}

/// `e` with its causes: tokio-postgres says only "error performing TLS
/// handshake" or "db error" and keeps the reason (the certificate check,
/// the server's message) in `source()`.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// Parses `url` (with its TLS settings, `tls`) and forces UTC, so
/// `TIMESTAMP` columns (which have no zone) always hold UTC whatever the
/// server's default time zone is.
pub fn pg_config(url: &str) -> Result<Target, DbError> {
    let mut target = Target::parse(url)?;
    target.config.options("-c TimeZone=UTC");
    target.config.application_name("pqfile-keyserver");
    target.config.connect_timeout(Duration::from_secs(5));
    Ok(target)
}

/// A connection pool of at most `max_size` connections.
pub fn connect(url: &str, max_size: usize) -> Result<DbPool, DbError> {
    let target = pg_config(url)?;
    let mgr = Manager::from_config(
        target.config,
        target.tls,
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

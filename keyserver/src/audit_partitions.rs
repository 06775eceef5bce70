//! The monthly partitions of the audit log (migration V11): `access_logs`
//! by `timestamp` and `audit_chain` by `logged_at` (the timestamp of the row
//! an entry chains), month by month under the same names
//! (`access_logs_2026_12`, `audit_chain_2026_12`), so that one month of rows
//! and its chain entries are dropped together by retention
//! (`audit_chain::retention`). Creating and dropping tables is the owner's
//! work: the runtime role can do neither.
//!
//! A row whose month has no partition lands in the table's DEFAULT
//! partition (an insert never fails for want of one). Creating a month moves
//! the rows the default partition already holds for it, in the same
//! transaction, so nothing is lost or duplicated.

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use deadpool_postgres::GenericClient;

use crate::db::DbError;

/// Months kept created ahead of the current one.
pub const MONTHS_AHEAD: u32 = 3;

/// Arbitrary constant naming the lock under which partitions are created.
const PARTITION_LOCK: i64 = 0x7071_6669_6c65_0006;

/// A partitioned table of the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// `access_logs`, by `timestamp`.
    AccessLogs,
    /// `audit_chain`, by `logged_at`.
    AuditChain,
}

impl Table {
    /// Both, in the order they are created and dropped.
    pub const ALL: [Table; 2] = [Table::AccessLogs, Table::AuditChain];

    /// The parent table's name.
    pub fn name(self) -> &'static str {
        match self {
            Table::AccessLogs => "access_logs",
            Table::AuditChain => "audit_chain",
        }
    }

    /// The partition key column.
    pub fn key(self) -> &'static str {
        match self {
            Table::AccessLogs => "timestamp",
            Table::AuditChain => "logged_at",
        }
    }

    /// The partition that catches rows outside every month.
    pub fn default_partition(self) -> String {
        format!("{}_default", self.name())
    }

    /// The partition of `month`.
    pub fn partition(self, month: &Month) -> String {
        format!("{}_{}", self.name(), month.suffix)
    }
}

/// One calendar month (UTC, like every `TIMESTAMP` the server writes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Month {
    /// `YYYY_MM`.
    pub suffix: String,
    /// First instant it holds.
    pub from: NaiveDateTime,
    /// First instant it no longer holds.
    pub to: NaiveDateTime,
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("day 1 exists")
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("first of a month exists")
}

/// The month starting at `first`.
fn month(first: NaiveDate) -> Month {
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight exists");
    Month {
        suffix: format!("{:04}_{:02}", first.year(), first.month()),
        from: midnight(first),
        to: midnight(next_month(first)),
    }
}

/// The monthly partitions of `table` that exist, oldest first (the default
/// partition is not among them).
pub async fn list(db: &impl GenericClient, table: Table) -> Result<Vec<Month>, DbError> {
    let rows = db
        .query(
            "SELECT c.relname, b.m[1]::timestamp, b.m[2]::timestamp
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid,
                  LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid),
                      'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)') AS b(m)
             WHERE i.inhparent = $1::text::regclass
             ORDER BY 2",
            &[&table.name()],
        )
        .await?;
    let prefix = format!("{}_", table.name());
    Ok(rows
        .iter()
        .filter_map(|r| {
            let name: String = r.get(0);
            Some(Month {
                suffix: name.strip_prefix(&prefix)?.to_owned(),
                from: r.get::<_, Option<NaiveDateTime>>(1)?,
                to: r.get::<_, Option<NaiveDateTime>>(2)?,
            })
        })
        .collect())
}

/// Creates, in both tables, the partitions of the months from the current
/// one to [`MONTHS_AHEAD`] later that do not exist yet, moving the rows the
/// default partitions hold for them (one process at a time). Returns the
/// partitions created. Run it in a transaction, as the owner.
pub async fn ensure_ahead(tx: &impl GenericClient) -> Result<Vec<String>, DbError> {
    let now: NaiveDateTime = tx
        .query_one("SELECT CURRENT_TIMESTAMP::timestamp", &[])
        .await?
        .get(0);
    ensure_months(tx, now.date(), MONTHS_AHEAD).await
}

/// Creates, in both tables, the partitions of the month of `first` and the
/// `more` months after it that do not exist yet, moving the rows the
/// default partitions hold for them. Returns the partitions created.
pub async fn ensure_months(
    tx: &impl GenericClient,
    first: NaiveDate,
    more: u32,
) -> Result<Vec<String>, DbError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])
        .await?;
    let mut created = Vec::new();
    for table in Table::ALL {
        let existing = list(tx, table).await?;
        let mut start = month_start(first);
        for _ in 0..=more {
            let m = month(start);
            if !existing.iter().any(|e| e.from < m.to && m.from < e.to) {
                create(tx, table, &m).await?;
                created.push(table.partition(&m));
            }
            start = next_month(start);
        }
    }
    Ok(created)
}

async fn create(tx: &impl GenericClient, table: Table, m: &Month) -> Result<(), DbError> {
    // Built detached, filled from the default partition, then attached: the
    // attach checks that the default partition holds nothing of this month.
    // Names and bounds come from `month`, never from a request.
    tx.batch_execute(&format!(
        "CREATE TABLE {part} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
         WITH moved AS (
             DELETE FROM {default} WHERE {key} >= '{from}' AND {key} < '{to}' RETURNING *)
         INSERT INTO {part} SELECT * FROM moved;
         ALTER TABLE {parent} ATTACH PARTITION {part} FOR VALUES FROM ('{from}') TO ('{to}');",
        part = table.partition(m),
        parent = table.name(),
        default = table.default_partition(),
        key = table.key(),
        from = m.from,
        to = m.to,
    ))
    .await?;
    tracing::info!(partition = %table.partition(m), "audit-log partition created");
    Ok(())
}

/// Detaches `month`'s partition of `table` (its rows leave the table; the
/// detached table keeps them until [`drop_detached`]).
pub async fn detach(tx: &impl GenericClient, table: Table, month: &Month) -> Result<(), DbError> {
    tx.batch_execute(&format!(
        "ALTER TABLE {} DETACH PARTITION {}",
        table.name(),
        table.partition(month)
    ))
    .await?;
    Ok(())
}

/// Drops a partition [`detach`]ed before.
pub async fn drop_detached(
    tx: &impl GenericClient,
    table: Table,
    month: &Month,
) -> Result<(), DbError> {
    tx.batch_execute(&format!("DROP TABLE {}", table.partition(month)))
        .await?;
    tracing::info!(partition = %table.partition(month), "audit-log partition dropped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_named_and_bounded_by_their_first_days() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 17).unwrap();
        let m = month(month_start(d));
        assert_eq!(Table::AccessLogs.partition(&m), "access_logs_2026_12");
        assert_eq!(Table::AuditChain.partition(&m), "audit_chain_2026_12");
        assert_eq!(m.from.to_string(), "2026-12-01 00:00:00");
        assert_eq!(m.to.to_string(), "2027-01-01 00:00:00");
    }
}

//! The monthly partitions of `access_logs` (migration V10): created ahead of
//! time, dropped whole by retention. Both run as the owner role; the runtime
//! role can neither create nor drop tables.
//!
//! A row is stored in the partition of its `timestamp`'s month, or in
//! `access_logs_default` when that month has no partition (an insert never
//! fails for want of one). Creating a month moves any rows the default
//! partition already holds for it, in the same transaction, so nothing is
//! lost or duplicated.

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use deadpool_postgres::GenericClient;

use crate::db::DbError;

/// Months kept created ahead of the current one.
pub const MONTHS_AHEAD: u32 = 3;

/// The partition that catches rows outside every month.
pub const DEFAULT_PARTITION: &str = "access_logs_default";

/// One monthly partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Table name, `access_logs_YYYY_MM`.
    pub name: String,
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

/// The partition of the month starting at `first`.
fn month(first: NaiveDate) -> Partition {
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight exists");
    Partition {
        name: format!("access_logs_{:04}_{:02}", first.year(), first.month()),
        from: midnight(first),
        to: midnight(next_month(first)),
    }
}

/// The monthly partitions that exist, oldest first.
pub async fn list(db: &impl GenericClient) -> Result<Vec<Partition>, DbError> {
    let rows = db
        .query(
            "SELECT c.relname,
                    (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)'))[1]::timestamp,
                    (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)'))[2]::timestamp
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'access_logs'::regclass AND c.relname <> $1
             ORDER BY 2",
            &[&DEFAULT_PARTITION],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(Partition {
                name: r.get(0),
                from: r.get::<_, Option<NaiveDateTime>>(1)?,
                to: r.get::<_, Option<NaiveDateTime>>(2)?,
            })
        })
        .collect())
}

/// Creates the partitions of the months from `now`'s to [`MONTHS_AHEAD`]
/// later that do not exist yet, moving rows the default partition holds for
/// them. Returns the names created. Run it in a transaction.
pub async fn ensure_ahead(
    tx: &impl GenericClient,
    now: NaiveDateTime,
) -> Result<Vec<String>, DbError> {
    let existing = list(tx).await?;
    let mut created = Vec::new();
    let mut first = month_start(now.date());
    for _ in 0..=MONTHS_AHEAD {
        let p = month(first);
        if !existing.iter().any(|e| e.from < p.to && p.from < e.to) {
            create(tx, &p).await?;
            created.push(p.name);
        }
        first = next_month(first);
    }
    Ok(created)
}

async fn create(tx: &impl GenericClient, p: &Partition) -> Result<(), DbError> {
    // Built detached, filled from the default partition, then attached: the
    // attach checks that the default partition holds nothing of this month.
    tx.batch_execute(&format!(
        "CREATE TABLE {name} (LIKE access_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
         WITH moved AS (
             DELETE FROM {DEFAULT_PARTITION}
             WHERE timestamp >= '{from}' AND timestamp < '{to}' RETURNING *)
         INSERT INTO {name} SELECT * FROM moved;
         ALTER TABLE access_logs ATTACH PARTITION {name} FOR VALUES FROM ('{from}') TO ('{to}');",
        name = p.name,
        from = p.from,
        to = p.to,
    ))
    .await?;
    tracing::info!(partition = %p.name, "access-log partition created");
    Ok(())
}

/// What dropping old partitions removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Partitions dropped, oldest first.
    pub partitions: Vec<String>,
    /// Rows they held, plus rows deleted from the default partition.
    pub rows: u64,
}

/// Removes every row older than `cutoff` that sits in a partition wholly
/// before it (dropped) or in the default partition (deleted). Rows of the
/// month `cutoff` falls in stay until that whole month is past the cutoff:
/// retention's granularity is one month. Run it in a transaction, after
/// the retention has been recorded.
pub async fn drop_before(
    tx: &impl GenericClient,
    cutoff: NaiveDateTime,
) -> Result<Dropped, DbError> {
    let mut out = Dropped::default();
    for p in list(tx).await?.into_iter().filter(|p| p.to <= cutoff) {
        let n: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {}", p.name), &[])
            .await?
            .get(0);
        tx.batch_execute(&format!(
            "ALTER TABLE access_logs DETACH PARTITION {name}; DROP TABLE {name};",
            name = p.name
        ))
        .await?;
        out.rows += u64::try_from(n).unwrap_or(0);
        out.partitions.push(p.name);
    }
    out.rows += tx
        .execute(
            &format!("DELETE FROM {DEFAULT_PARTITION} WHERE timestamp < $1"),
            &[&cutoff],
        )
        .await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_named_and_bounded_by_their_first_days() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 17).unwrap();
        let p = month(month_start(d));
        assert_eq!(p.name, "access_logs_2026_12");
        assert_eq!(p.from.to_string(), "2026-12-01 00:00:00");
        assert_eq!(p.to.to_string(), "2027-01-01 00:00:00");
    }
}

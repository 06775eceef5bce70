//! Benchmark helper: fills the audit log of a migrated database with ROWS
//! past rows, spread evenly over the last MONTHS months (one partition each),
//! sealed, chained and covered by a signed checkpoint exactly as a key
//! server would have written them, so a server started on the database
//! afterwards (and `audit verify`) sees a genuine year of history.
//!
//! `PQFILE_*` settings as for the server (the owner's URL and the KMS);
//! run it on a migrated database before any server writes to it (it fills
//! the key pool first): the rows it writes are in the past and take the
//! next ids.
//!
//! `cargo run --release --example fill_audit -- ROWS [MONTHS=13]`
#![allow(missing_docs)]

use std::net::{IpAddr, Ipv4Addr};
use std::pin::pin;

use chrono::{Duration, NaiveDateTime, Timelike, Utc};
use pqfile_keyserver::audit_chain::key::AuditKeys;
use pqfile_keyserver::audit_chain::rows::{Checkpoint, LogRow, chain_step, digest};
use pqfile_keyserver::audit_chain::sealer;
use pqfile_keyserver::configuration::Settings;
use pqfile_keyserver::{audit_partitions, db, key_pool, startup};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

const BATCH: usize = 250_000;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args
        .get(1)
        .ok_or("usage: fill_audit ROWS [MONTHS]")?
        .parse()?;
    let months: u32 = args.get(2).map_or(Ok(13), |m| m.parse())?;
    let settings = Settings::load(None)?;
    let owner_url = settings.owner_url().to_owned();
    let pool = db::connect(&owner_url, 2)?;
    let kms = startup::build_kms(&settings).await?;
    let keys = AuditKeys::default();
    keys.load(&pool, kms.as_ref()).await?;
    let key = keys.get().ok_or("no audit key")?;
    let mut client = db::owner_connection(&owner_url).await?;
    client.batch_execute("SET synchronous_commit = off").await?;

    let now = Utc::now().naive_utc().with_nanosecond(0).ok_or("clock")?;
    let start = now - Duration::days(i64::from(months) * 30);
    {
        let tx = client.transaction().await?;
        audit_partitions::ensure_months(&tx, start.date(), months + 1).await?;
        tx.commit().await?;
    }
    // The pool a server would fill at start (audit rows name its keys).
    key_pool::fill(&pool, kms.as_ref(), settings.pool_size, false).await?;
    let key_ids: Vec<i32> = client
        .query("SELECT id FROM encryption_keys ORDER BY id LIMIT 100", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if key_ids.is_empty() {
        return Err("no encryption keys".into());
    }
    // Whole seconds, so the digest's text form is PostgreSQL's.
    let span = (now - start).num_seconds() - 60;
    let at = |i: usize| -> NaiveDateTime {
        start
            + Duration::seconds(
                span * i64::try_from(i).unwrap_or(0) / i64::try_from(rows.max(1)).unwrap_or(1),
            )
    };

    let started = std::time::Instant::now();
    let mut done = 0usize;
    while done < rows {
        let n = BATCH.min(rows - done);
        let tx = client.transaction().await?;
        sealer::lock(&tx).await?;
        // Whatever a server left unchained goes first, as the sealer would.
        sealer::seal_in(&tx, &key).await?;
        let (mut position, mut chain, _) = sealer::latest(&tx).await?;
        let legacy = sealer::legacy_max_id(&tx).await?;
        let n_i64 = i64::try_from(n)?;
        let ids: Vec<i64> = tx
            .query(
                "SELECT nextval('access_logs_id_seq') FROM generate_series(1, $1::int8)",
                &[&n_i64],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let logs = tx
            .copy_in(
                "COPY access_logs (id, document_id, access_type, timestamp, user_id, ip_address, user_agent, key_id, outcome, reason, seal) FROM STDIN BINARY",
            )
            .await?;
        let mut logs = pin!(BinaryCopyInWriter::new(
            logs,
            &[
                Type::INT8,
                Type::TEXT,
                Type::VARCHAR,
                Type::TIMESTAMP,
                Type::TEXT,
                Type::INET,
                Type::TEXT,
                Type::INT4,
                Type::VARCHAR,
                Type::TEXT,
                Type::BYTEA,
            ],
        ));
        let mut entries = Vec::with_capacity(n);
        for (k, id) in ids.iter().enumerate() {
            let i = done + k;
            let ts = at(i);
            let octet = |v: usize| u8::try_from(v % 250).unwrap_or(0);
            let ip = IpAddr::V4(Ipv4Addr::new(
                10,
                octet(i),
                octet(i / 250),
                octet(i / 62_500) + 1,
            ));
            let row = LogRow {
                id: *id,
                document_id: Some(format!("{:032x}", i / 4)),
                access_type: Some(
                    if i.is_multiple_of(4) {
                        "encrypt"
                    } else {
                        "decrypt"
                    }
                    .into(),
                ),
                timestamp: Some(ts.format("%Y-%m-%d %H:%M:%S").to_string()),
                user_id: Some(((i % 500) + 1).to_string()),
                // `ip_address::text` of a host address carries its /32.
                ip_address: Some(format!("{ip}/32")),
                user_agent: Some("pqfile-cli/0.1".into()),
                key_id: Some(key_ids[i % key_ids.len()]),
                outcome: Some("allowed".into()),
                reason: None,
                seal: Some(key.seal()),
            };
            let d = digest(&row);
            chain = chain_step(&chain, &d);
            position += 1;
            entries.push((position, *id, d, chain, ts));
            let values: [&(dyn ToSql + Sync); 11] = [
                &row.id,
                &row.document_id,
                &row.access_type,
                &ts,
                &row.user_id,
                &ip,
                &row.user_agent,
                &row.key_id,
                &row.outcome,
                &row.reason,
                &row.seal,
            ];
            logs.as_mut().write(&values).await?;
        }
        logs.finish().await?;
        let sink = tx
            .copy_in(
                "COPY audit_chain (position, log_id, digest, chain, logged_at) FROM STDIN BINARY",
            )
            .await?;
        let mut sink = pin!(BinaryCopyInWriter::new(
            sink,
            &[
                Type::INT8,
                Type::INT8,
                Type::BYTEA,
                Type::BYTEA,
                Type::TIMESTAMP
            ],
        ));
        for (p, id, d, c, ts) in &entries {
            sink.as_mut()
                .write(&[p, id, &d.as_slice(), &c.as_slice(), ts])
                .await?;
        }
        sink.finish().await?;
        let cp = Checkpoint {
            position,
            chain,
            low_watermark: *ids.last().unwrap_or(&0),
            legacy_max_id: legacy,
            signing_key_id: key.id,
        };
        sealer::write_checkpoint(&tx, &key, &cp).await?;
        tx.commit().await?;
        done += n;
        eprintln!(
            "[fill_audit] {done} rows ({:.0} rows/s)",
            done as f64 / started.elapsed().as_secs_f64()
        );
    }
    client
        .batch_execute("ANALYZE access_logs; ANALYZE audit_chain")
        .await?;
    Ok(())
}

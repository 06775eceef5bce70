//! Upgrades keep the audit log: a database as an earlier release left it
//! (migrations applied up to that release's last one, rows written in SQL
//! the way that release wrote them) is migrated to today's schema.

use crate::helpers::*;

/// Every column of every audit row, in id order, as one digest.
const ALL_ROWS: &str =
    "SELECT md5(COALESCE(string_agg(t::text, ',' ORDER BY id), '')) FROM access_logs t";

#[tokio::test]
async fn an_existing_audit_log_moves_into_monthly_partitions_whole() {
    ensure_app_role().await;
    let url = fresh_database().await;
    // Issue 11 before partitioning: V10.
    pqfile_keyserver::db::migrate_to(&url, 10).await.unwrap();
    let db = connect(&url).await;
    db.batch_execute(
        "INSERT INTO access_logs (document_id, access_type, timestamp, user_id, ip_address, user_agent, outcome, reason, seal)
         VALUES ('d1', 'encrypt', now() - interval '400 days', '1', '10.0.0.1', 'ua', 'allowed', NULL, '\\x01'),
                ('d1', 'decrypt', now() - interval '10 days', '2', NULL, NULL, 'refused', 'forbidden', NULL),
                (NULL, 'admin', NULL, NULL, NULL, NULL, 'allowed', 'by hand', NULL),
                ('d2', 'decrypt', now(), '1', '::1', 'ua', 'allowed', NULL, '\\x02');
         INSERT INTO audit_chain (position, log_id, digest, chain)
         SELECT row_number() OVER (ORDER BY id), id, '\\xaa', '\\xbb' FROM access_logs WHERE seal IS NOT NULL;
         -- The entry of a row retention deleted before the upgrade.
         INSERT INTO audit_chain VALUES (3, 999, '\\xcc', '\\xdd');",
    )
    .await
    .unwrap();
    let rows_before: String = db.query_one(ALL_ROWS, &[]).await.unwrap().get(0);
    let max_id: i64 = db
        .query_one("SELECT max(id) FROM access_logs", &[])
        .await
        .unwrap()
        .get(0);
    drop(db);

    pqfile_keyserver::db::migrate(&url).await.unwrap();
    let db = connect(&url).await;
    let one = |sql: &'static str| {
        let db = &db;
        async move { db.query_one(sql, &[]).await.unwrap() }
    };
    let rows_after: String = one(ALL_ROWS).await.get(0);
    assert_eq!(
        rows_after, rows_before,
        "every row, every column, unchanged"
    );
    // The old row sits in its month, the one without a timestamp in the
    // default partition, and new rows continue the id sequence.
    let r = one(
        "SELECT tableoid::regclass::text FROM access_logs WHERE timestamp < now() - interval '399 days'",
    )
    .await;
    let month: String = r.get(0);
    assert!(month.starts_with("access_logs_2"), "{month}");
    let r = one("SELECT tableoid::regclass::text FROM access_logs WHERE timestamp IS NULL").await;
    assert_eq!(r.get::<_, String>(0), "access_logs_default");
    let r = one(
        "INSERT INTO access_logs (access_type, outcome) VALUES ('read', 'allowed') RETURNING id",
    )
    .await;
    assert_eq!(r.get::<_, i64>(0), max_id + 1);
    // Chain entries keep their values and learn their row's month.
    let r = one(
        "SELECT count(*), count(*) FILTER (WHERE c.logged_at = a.timestamp),
                count(*) FILTER (WHERE c.log_id = 999 AND c.logged_at = '-infinity'
                                   AND c.tableoid::regclass::text = 'audit_chain_default')
         FROM audit_chain c LEFT JOIN access_logs a ON a.id = c.log_id",
    )
    .await;
    assert_eq!(
        (r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, i64>(2)),
        (3, 2, 1)
    );
    let r = one("SELECT digest, chain FROM audit_chain WHERE position = 3").await;
    assert_eq!(
        (r.get::<_, Vec<u8>>(0), r.get::<_, Vec<u8>>(1)),
        (vec![0xcc], vec![0xdd])
    );
}

#[tokio::test]
async fn rows_from_before_the_chain_are_chained_and_verify_after_the_upgrade() {
    ensure_app_role().await;
    let url = fresh_database().await;
    // Before the audit chain (V9).
    pqfile_keyserver::db::migrate_to(&url, 8).await.unwrap();
    let db = connect(&url).await;
    db.batch_execute(
        "INSERT INTO access_logs (document_id, access_type, timestamp, user_id, outcome)
         SELECT 'd' || n, 'decrypt', now() - make_interval(days => n * 20), '1', 'allowed'
         FROM generate_series(1, 30) AS n",
    )
    .await
    .unwrap();
    let app = spawn_app_with(Options {
        database_url: Some(url),
        ..Default::default()
    })
    .await;
    app.encrypt(&app.alice, b"after the upgrade").await;
    app.state.seal_audit_log().await.unwrap().unwrap();
    let v = app.admin_json("/v1/admin/audit/verify").await;
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["rows_chained"].as_i64().unwrap() > 30, "{v}");
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs_default").await,
        0,
        "every month that had rows got its partition"
    );
}

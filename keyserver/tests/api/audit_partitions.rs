//! Issue 11, the audit log at scale: `access_logs` and `audit_chain` are
//! partitioned by month; retention drops whole months (both tables) instead
//! of deleting rows, keeps what must stay, and the log still verifies.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::*;

/// An app whose background sealer does not run (passes are made by hand).
async fn quiet_sealer() -> TestApp {
    spawn_app_with(Options {
        settings: Some(Box::new(|s| s.audit_checkpoint_interval_ms = 3_600_000)),
        ..Default::default()
    })
    .await
}

/// The monthly partitions of `table`, oldest first.
async fn partitions(app: &TestApp, table: &str) -> Vec<String> {
    app.db
        .query(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = $1::text::regclass AND c.relname NOT LIKE '%_default'
             ORDER BY c.relname",
            &[&table],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// `YYYY_MM` of the day `days` ago (UTC, like the server's timestamps).
fn month_of(days: i64) -> String {
    (Utc::now() - Duration::days(days))
        .format("%Y_%m")
        .to_string()
}

/// Creates the partitions of the month `days` ago as the owner, the way
/// they were created when that month was the current one.
async fn create_month(app: &TestApp, days: i64) {
    let first = (Utc::now() - Duration::days(days)).date_naive();
    let mut owner = pqfile_keyserver::db::owner_connection(&app.database_url)
        .await
        .unwrap();
    let tx = owner.transaction().await.unwrap();
    pqfile_keyserver::audit_partitions::ensure_months(&tx, first, 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn verify(app: &TestApp) -> Value {
    app.admin_json("/v1/admin/audit/verify").await
}

async fn seal(app: &TestApp) {
    app.state.seal_audit_log().await.unwrap().unwrap();
}

#[tokio::test]
async fn both_tables_are_partitioned_by_month_with_months_ahead() {
    let app = spawn_app().await;
    let kinds = app
        .db
        .query(
            "SELECT relname, relkind::text FROM pg_class
             WHERE relname IN ('access_logs', 'audit_chain') ORDER BY relname",
            &[],
        )
        .await
        .unwrap();
    for r in &kinds {
        assert_eq!(
            r.get::<_, String>(1),
            "p",
            "{} is partitioned",
            r.get::<_, String>(0)
        );
    }
    assert_eq!(kinds.len(), 2);
    // This month and the three after it, in both tables, from start-up.
    for table in ["access_logs", "audit_chain"] {
        let months = partitions(&app, table).await;
        assert!(months.len() >= 4, "{table}: {months:?}");
        assert!(
            months.contains(&format!("{table}_{}", month_of(0))),
            "{table}: {months:?}"
        );
    }
    // Traffic lands in this month's partitions.
    app.encrypt(&app.alice, b"now").await;
    seal(&app).await;
    let this_month = month_of(0);
    assert!(
        app.count(&format!("SELECT count(*) FROM access_logs_{this_month}"))
            .await
            > 0
    );
    assert!(
        app.count(&format!("SELECT count(*) FROM audit_chain_{this_month}"))
            .await
            > 0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs_default").await,
        0
    );
    // The seed's monitoring queries see the partitioned table whole.
    let rows = app.count("SELECT count(*) FROM access_logs").await;
    let s = app.admin_json("/v1/admin/stats").await;
    let logs = s["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "access_logs")
        .unwrap()
        .clone();
    assert!(logs["size_bytes"].as_i64().unwrap() > 0, "{logs}");
    // (Counted before the stats call's own audit row.)
    assert_eq!(logs["rows"], rows, "{logs}");
}

#[tokio::test]
async fn a_month_created_late_takes_its_rows_from_the_default_partition() {
    let app = quiet_sealer().await;
    app.aged_audit_row(200).await;
    app.aged_audit_row(199).await;
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs_default").await,
        2
    );
    let before = app.count("SELECT count(*) FROM access_logs").await;
    create_month(&app, 200).await;
    create_month(&app, 199).await;
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs_default").await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs").await,
        before,
        "nothing lost or doubled"
    );
    seal(&app).await;
    assert_eq!(verify(&app).await["ok"], true);
}

#[tokio::test]
async fn retention_drops_whole_months_and_the_log_still_verifies() {
    let app = quiet_sealer().await;
    // Rows written as a server writes them, in time order: two old months
    // with partitions, a month younger than the retention, and today.
    for days in [430, 400] {
        create_month(&app, i64::from(days)).await;
    }
    for days in [430i32, 429, 400, 399] {
        app.aged_audit_row(days).await;
    }
    // Never chained (written by hand, no seal) in an old month: retention
    // keeps it for someone to look at.
    let forged = app.forged_audit_row(431).await;
    app.aged_audit_row(100).await;
    let kept = app.encrypt(&app.alice, b"today").await;
    seal(&app).await;

    let (m430, m400) = (month_of(430), month_of(400));
    let v = app
        .admin_post(
            "/v1/admin/access-logs/retention",
            &json!({"older_than_days": 365}),
        )
        .await;
    // 430 and 429 days ago may share a month or not; either way each row of
    // the two old months goes, and each of their partitions.
    assert_eq!(v["deleted"], 4, "{v}");
    let dropped: Vec<&str> = v["partitions_dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for m in [&m430, &m400] {
        for table in ["access_logs", "audit_chain"] {
            let name = format!("{table}_{m}");
            assert!(dropped.contains(&name.as_str()), "{name} in {v}");
            assert!(
                !partitions(&app, table).await.contains(&name),
                "{name} is gone"
            );
        }
    }
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs WHERE timestamp < now() - interval '365 days'")
            .await,
        1,
        "only the row written by hand stays of the old months"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM access_logs_default WHERE id = {forged}"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs WHERE timestamp < now() - interval '99 days'")
            .await,
        2,
        "the 100-day-old row and the forged one"
    );
    // The chain entries of the dropped months went with them; what is left
    // verifies from the signed cut, and the forged row is still named.
    let min_position = app.count("SELECT min(position) FROM audit_chain").await;
    let cut = app
        .count("SELECT max(cut_position) FROM audit_retention")
        .await;
    assert_eq!(min_position, cut + 1);
    let v = verify(&app).await;
    assert_eq!(v["first_problem"]["kind"], "inserted_out_of_band", "{v}");
    assert_eq!(v["first_problem"]["log_id"], forged, "{v}");
    assert_eq!(v["problems"].as_array().unwrap().len(), 1, "{v}");
    // The retention run is on record with the partitions it dropped.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM access_logs WHERE access_type = 'admin'
             AND reason LIKE 'retention: 4 rows older than 365 days%access_logs_{m400}%'"
        ))
        .await,
        1
    );
    // The files of before still decrypt (nothing but audit rows went).
    let (resp, _) = app
        .unwrap(&app.alice, &kept.document_id, kept.stanza())
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_row_of_an_old_month_chained_late_is_kept_until_the_cut_passes_it() {
    let app = quiet_sealer().await;
    create_month(&app, 400).await;
    app.aged_audit_row(400).await;
    app.aged_audit_row(100).await;
    // Chained after a younger row: the chain's prefix stops before it.
    app.aged_audit_row(401).await;
    seal(&app).await;
    let late = app.count("SELECT max(id) FROM access_logs").await;
    let v = app
        .admin_post(
            "/v1/admin/access-logs/retention",
            &json!({"older_than_days": 365}),
        )
        .await;
    assert_eq!(v["deleted"], 1, "{v}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM access_logs_default WHERE id = {late}"
        ))
        .await,
        1,
        "moved out of the dropped month, not lost"
    );
    assert_eq!(verify(&app).await["ok"], true);
    // Once the rows chained before it are old enough, it goes too (from
    // the default partition, row by row).
    let v = app
        .admin_post(
            "/v1/admin/access-logs/retention",
            &json!({"older_than_days": 30}),
        )
        .await;
    assert_eq!(v["deleted"], 2, "{v}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM access_logs WHERE id = {late}"
        ))
        .await,
        0
    );
    let v = verify(&app).await;
    assert_eq!(v["ok"], true, "{v}");
}

#[tokio::test]
async fn a_row_reusing_an_id_in_another_month_is_named_by_verify() {
    let app = quiet_sealer().await;
    app.encrypt(&app.alice, b"x").await;
    seal(&app).await;
    let victim = app.count("SELECT max(log_id) FROM audit_chain").await;
    // Without a primary key across partitions, a superuser can write a
    // second row with the same id into another month.
    create_month(&app, 200).await;
    app.db
        .batch_execute(&format!(
            "INSERT INTO access_logs (id, access_type, timestamp, user_id, outcome, seal)
             SELECT id, access_type, now() - interval '200 days', user_id, outcome, seal
             FROM access_logs WHERE id = {victim}"
        ))
        .await
        .unwrap();
    let v = verify(&app).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["first_problem"]["log_id"], victim, "{v}");
}

#[tokio::test]
async fn a_row_moved_to_another_month_by_the_superuser_is_named_altered() {
    let app = quiet_sealer().await;
    app.encrypt(&app.alice, b"x").await;
    app.encrypt(&app.alice, b"y").await;
    seal(&app).await;
    let victim = app.count("SELECT min(log_id) FROM audit_chain").await;
    // Its timestamp changed: the row moves to another partition.
    create_month(&app, 200).await;
    app.db
        .batch_execute(&format!(
            "UPDATE access_logs SET timestamp = timestamp - interval '200 days' WHERE id = {victim}"
        ))
        .await
        .unwrap();
    let v = verify(&app).await;
    assert_eq!(v["first_problem"]["kind"], "altered", "{v}");
    assert_eq!(v["first_problem"]["log_id"], victim, "{v}");
    assert_eq!(
        v["problems"].as_array().unwrap().len(),
        1,
        "named once: {v}"
    );
}

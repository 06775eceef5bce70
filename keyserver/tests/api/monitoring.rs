//! Admin monitoring answers with real numbers after known traffic, access-log
//! retention, filtered and paged access-log queries, admin-only refusals and
//! the Prometheus metrics of the lifecycle.

use serde_json::{Value, json};

use crate::helpers::*;

fn approx(v: &Value, expected: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!((got - expected).abs() < 1e-3, "{got} != {expected}");
}

#[tokio::test]
async fn stats_answer_every_monitoring_question_with_real_numbers() {
    let app = spawn_app_with(Options {
        pool_size: 3,
        ..Default::default()
    })
    .await;
    // Keys k1 < k2 < k3; least-used selection: k1, k2, k3, k1.
    let mut files = Vec::new();
    for i in 0..4u8 {
        files.push(app.encrypt(&app.alice, &[i]).await);
    }
    let mut keys: Vec<u32> = files.iter().map(|f| f.key_id).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 3);
    let (k1, k2, k3) = (keys[0], keys[1], keys[2]);
    assert_eq!(files[3].key_id, k1);
    // Two unwraps and one refusal.
    open_file(&app, &app.alice, &files[0]).await;
    open_file(&app, &app.alice, &files[1]).await;
    let (resp, _) = app
        .unwrap(&app.bob, &files[0].document_id, files[0].stanza())
        .await;
    assert_error(resp, 403, "forbidden").await;
    // k3: never used, 8 days old. k1: 31 days old, so it rotates.
    app.db
        .execute(
            "UPDATE encryption_keys SET usage_count = 0, created_at = now() - interval '8 days' WHERE id = $1",
            &[&(k3 as i32)],
        )
        .await
        .unwrap();
    app.age_keys(31, &format!("id = {k1}")).await;
    let check = app.admin_post("/v1/admin/rotation", &json!({})).await;
    assert_eq!(ids(&check["queued"]), vec![i64::from(k1)]);
    let k4 = check["rotations"][0]["new_key_id"].as_i64().unwrap();

    let s = app.admin_json("/v1/admin/stats").await;
    assert_eq!(s["active_keys"], 3, "k2, k3 and the replacement k4");
    assert_eq!(
        s["keys_by_status"],
        json!({"active": 3, "rotation_queued": 1})
    );
    // Active usage counts: k2 = 1, k3 = 0, k4 = 0.
    assert_eq!(s["usage"]["min"], 0);
    assert_eq!(s["usage"]["max"], 1);
    approx(&s["usage"]["avg"], 1.0 / 3.0);
    approx(&s["usage"]["stddev"], (2.0f64 / 9.0).sqrt());
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let daily = s["daily_access"].as_array().unwrap();
    let count = |t: &str| {
        daily
            .iter()
            .find(|d| d["day"] == today && d["access_type"] == t)
            .map_or(0, |d| d["count"].as_i64().unwrap())
    };
    assert_eq!(count("encrypt"), 4);
    assert_eq!(count("decrypt"), 3, "two unwraps and one refusal");
    assert_eq!(count("admin"), 1, "the rotation run");
    let pending = s["pending_rotations"].as_array().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["old_key_id"], i64::from(k1));
    assert_eq!(pending[0]["new_key_id"], k4);
    assert_eq!(pending[0]["documents_remaining"], 2);
    approx(
        &json!(pending[0]["old_key_age_days"].as_f64().unwrap().round()),
        31.0,
    );
    assert!(pending[0]["new_key_age_days"].as_f64().unwrap() < 0.01);
    let unused = s["unused_keys"].as_array().unwrap();
    assert_eq!(unused.len(), 1);
    assert_eq!(unused[0]["key_id"], i64::from(k3));
    approx(&json!(unused[0]["age_days"].as_f64().unwrap().round()), 8.0);
    assert!(s["database_size_bytes"].as_i64().unwrap() > 1_000_000);
    let table = |n: &str| {
        s["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(table("documents")["rows"], 4);
    assert_eq!(table("encryption_keys")["rows"], 4);
    assert_eq!(table("users")["rows"], 3);
    assert_eq!(table("key_rotations")["rows"], 1);
    assert_eq!(
        table("access_logs")["rows"],
        8,
        "4 encrypt, 3 decrypt, 1 admin"
    );
    assert!(table("access_logs")["size_bytes"].as_i64().unwrap() > 0);

    // The key listing agrees.
    let list = app.admin_json("/v1/admin/keys").await;
    let k = list["keys"].as_array().unwrap();
    assert_eq!(k.len(), 4);
    let by_id = |id: i64| k.iter().find(|x| x["key_id"] == id).unwrap().clone();
    assert_eq!(by_id(i64::from(k1))["status"], "rotation_queued");
    assert_eq!(by_id(i64::from(k1))["documents"], 2);
    assert_eq!(by_id(i64::from(k1))["usage_count"], 2);
    assert_eq!(by_id(i64::from(k2))["documents"], 1);
    assert_eq!(by_id(k4)["algorithm"], "ML-KEM-768");
    let active = app.admin_json("/v1/admin/keys?status=active").await;
    assert_eq!(active["keys"].as_array().unwrap().len(), 3);
    assert_error(
        app.get_as(&app.admin, "/v1/admin/keys?status=bogus").await,
        400,
        "invalid_query",
    )
    .await;

    // Prometheus: pool by status, unwraps, refusals, KMS latency.
    app.admin_post("/v1/admin/maintenance", &json!({})).await;
    let m = metrics(&app).await;
    for needle in [
        "pqfile_pool_keys{status=\"active\"} 3",
        "pqfile_pool_keys{status=\"rotation_queued\"} 1",
        "pqfile_pool_keys{status=\"revoked\"} 0",
        "pqfile_unwraps_total{outcome=\"ok\"} 2",
        "pqfile_unwraps_total{outcome=\"forbidden\"} 1",
        "pqfile_rotations_started_total 1",
        "pqfile_maintenance_runs_total{result=\"ok\"} 1",
        "pqfile_kms_unwrap_seconds_count",
    ] {
        assert!(m.contains(needle), "{needle} missing from\n{m}");
    }
}

#[tokio::test]
async fn every_admin_route_refuses_users_and_audits_it() {
    let app = spawn_app().await;
    let routes: [(&str, &str); 8] = [
        ("GET", "/v1/admin/keys"),
        ("POST", "/v1/admin/keys/1/revoke"),
        ("POST", "/v1/admin/rotation"),
        ("GET", "/v1/admin/rotations"),
        ("POST", "/v1/admin/maintenance"),
        ("GET", "/v1/admin/stats"),
        ("POST", "/v1/admin/access-logs/retention"),
        ("GET", "/v1/admin/access-logs"),
    ];
    for (method, path) in routes {
        let resp = if method == "GET" {
            app.get_as(&app.alice, path).await
        } else {
            app.post_as(&app.alice, path, &json!({})).await
        };
        assert_error(resp, 403, "admin_only").await;
        let resp = app.http.get(app.url(path)).send().await.unwrap();
        assert_error(resp, 401, "missing_token").await;
    }
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs WHERE access_type = 'admin' AND outcome = 'refused' AND reason = 'admin_only'").await,
        8
    );
    assert_eq!(app.key_status(1).await, "active", "nothing was revoked");
}

#[tokio::test]
async fn retention_deletes_only_old_rows() {
    let app = spawn_app().await;
    // Written in time order, as a server writes them.
    for days in [400, 380, 366, 100, 40] {
        app.aged_audit_row(days).await;
    }
    app.encrypt(&app.alice, b"today").await;
    let path = "/v1/admin/access-logs/retention";
    assert_error(
        app.post_as(&app.alice, path, &json!({})).await,
        403,
        "admin_only",
    )
    .await;
    assert_error(
        app.post_as(&app.admin, path, &json!({"older_than_days": -1}))
            .await,
        400,
        "invalid_query",
    )
    .await;
    // Maintenance applies the configured retention (365 days).
    let m = app.admin_post("/v1/admin/maintenance", &json!({})).await;
    assert_eq!(m["access_logs_deleted"], 3);
    let v = app.admin_post(path, &json!({})).await;
    assert_eq!(
        v,
        json!({"deleted": 0, "older_than_days": 365, "partitions_dropped": []})
    );
    let v = app.admin_post(path, &json!({"older_than_days": 30})).await;
    assert_eq!(v["deleted"], 2);
    // Today's encrypt row and the rows of the requests since remain.
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs WHERE access_type = 'encrypt'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs WHERE timestamp < now() - interval '1 day'")
            .await,
        0
    );
    // Each run is on record with what it deleted, and the log still
    // verifies: the rows are missing only below the signed cut.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM access_logs WHERE access_type = 'admin'
             AND reason LIKE 'retention: 2 rows older than 30 days%'"
        )
        .await,
        1
    );
    let v = app.admin_json("/v1/admin/audit/verify").await;
    assert_eq!(v["ok"], true, "{v}");
}

#[tokio::test]
async fn access_log_filters_and_paging() {
    let app = spawn_app().await;
    let a1 = app.encrypt(&app.alice, b"1").await;
    app.encrypt(&app.alice, b"2").await;
    app.encrypt(&app.alice, b"3").await;
    app.encrypt(&app.bob, b"4").await;
    app.encrypt(&app.bob, b"5").await;
    open_file(&app, &app.alice, &a1).await;
    let (resp, _) = app.unwrap(&app.bob, &a1.document_id, a1.stanza()).await;
    assert_error(resp, 403, "forbidden").await;
    let q = |s: &str| format!("/v1/admin/access-logs{s}");

    let all = app.admin_json(&q("")).await;
    assert_eq!(all["total"], 7);
    assert_eq!(all["page"], 1);
    assert_eq!(all["per_page"], 50);
    assert_eq!(all["entries"].as_array().unwrap().len(), 7);
    assert_eq!(all["entries"][0]["access_type"], "decrypt", "newest first");
    assert_eq!(all["entries"][0]["user"], "bob");
    assert_eq!(all["entries"][0]["outcome"], "refused");

    assert_eq!(app.admin_json(&q("?user=alice")).await["total"], 4);
    assert_eq!(app.admin_json(&q("?user=bob")).await["total"], 3);
    assert_eq!(app.admin_json(&q("?user=nobody")).await["total"], 0);
    assert_eq!(app.admin_json(&q("?access_type=encrypt")).await["total"], 5);
    assert_eq!(
        app.admin_json(&q("?access_type=decrypt&user=alice")).await["total"],
        1
    );
    let by_doc = app
        .admin_json(&q(&format!("?document_id={}", a1.document_id)))
        .await;
    assert_eq!(by_doc["total"], 3);
    assert!(
        by_doc["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["document_id"] == a1.document_id.to_string())
    );

    // Every query above was itself audited (issue 11: reads of protected
    // data leave a row): those rows are the admin's, access_type admin, so
    // the rest of the test looks at the encrypt rows only.
    let reads = app.admin_json(&q("?access_type=admin&user=root")).await;
    assert_eq!(reads["total"], 7, "the seven queries above: {reads}");
    assert!(
        reads["entries"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("GET /v1/admin/access-logs"),
        "{reads}"
    );

    // Time range.
    let future = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let past = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let enc = |s: &str| q(&format!("?access_type=encrypt{s}"));
    assert_eq!(
        app.admin_json(&enc(&format!("&since={future}"))).await["total"],
        0
    );
    assert_eq!(
        app.admin_json(&enc(&format!("&since={past}&until={future}")))
            .await["total"],
        5
    );
    assert_eq!(
        app.admin_json(&enc(&format!("&until={past}"))).await["total"],
        0
    );

    // Paging: 5 entries, 2 per page.
    let mut seen = Vec::new();
    for page in 1..=3 {
        let p = app
            .admin_json(&enc(&format!("&per_page=2&page={page}")))
            .await;
        assert_eq!(p["total"], 5);
        let e = p["entries"].as_array().unwrap();
        assert_eq!(e.len(), if page < 3 { 2 } else { 1 });
        seen.extend(e.iter().map(|x| x["id"].as_i64().unwrap()));
    }
    let mut dedup = seen.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(dedup.len(), 5, "pages do not overlap");
    assert_eq!(
        app.admin_json(&enc("&per_page=2&page=4")).await["entries"],
        json!([])
    );

    for bad in [
        "?document_id=zz",
        "?access_type=delete",
        "?since=yesterday",
        "?until=2026-13-01",
        "?per_page=0",
        "?per_page=501",
        "?page=0",
        "?page=x",
    ] {
        let resp = app.get_as(&app.admin, &q(bad)).await;
        assert_error(resp, 400, "invalid_query").await;
    }
}

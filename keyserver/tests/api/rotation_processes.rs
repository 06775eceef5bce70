//! Three key-server processes on one database run rotation checks,
//! maintenance and document registrations at once: every old key is rotated
//! exactly once, exactly one replacement is generated for each, and no
//! usage count is lost.

use std::time::Duration;

use pqfile_keyserver::accounts;
use pqfile_keyserver::domain::Role;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn three_processes_rotate_each_key_once_and_lose_no_count() {
    let database_url = fresh_database().await;
    let data_dir = tempfile::tempdir().unwrap();
    let pool_size = 6;
    // The background maintenance also runs, every second, in every process.
    let (mut children, ports) = spawn_three_processes(
        &database_url,
        data_dir.path(),
        pool_size,
        &[("PQFILE_MAINTENANCE_INTERVAL_SECS", "1")],
    )
    .await;
    let http = reqwest::Client::new();
    let db = connect(&database_url).await;
    let pool = pqfile_keyserver::db::connect(&database_url, 2).unwrap();
    // The audit key the servers created, for the account commands' rows.
    let keys = pqfile_keyserver::audit_chain::key::AuditKeys::default();
    let kms = pqfile_keyserver::kms::local::LocalKms::open_or_create(
        &data_dir.path().join("kms-master.key"),
    )
    .unwrap();
    keys.load(&pool, &kms).await.unwrap();
    accounts::add_user(&pool, &keys, "alice", Role::User)
        .await
        .unwrap();
    accounts::add_user(&pool, &keys, "root", Role::Admin)
        .await
        .unwrap();
    let alice = accounts::create_token(&pool, &keys, "alice", None, 90)
        .await
        .unwrap()
        .token
        .expose()
        .to_owned();
    let root = accounts::create_token(&pool, &keys, "root", None, 90)
        .await
        .unwrap()
        .token
        .expose()
        .to_owned();
    // Every key is old enough to rotate.
    db.execute(
        "UPDATE encryption_keys SET created_at = now() - interval '45 days'",
        &[],
    )
    .await
    .unwrap();

    // Each process gets 8 rotation checks, 4 maintenance runs and 30 new
    // documents, all at once.
    let mut rotations = Vec::new();
    let mut creations = Vec::new();
    for p in ports {
        for i in 0..12 {
            let http = http.clone();
            let root = root.clone();
            let path = if i % 3 == 0 {
                "maintenance"
            } else {
                "rotation"
            };
            rotations.push(async move {
                let r = http
                    .post(format!("http://127.0.0.1:{p}/v1/admin/{path}"))
                    .bearer_auth(root)
                    .json(&serde_json::json!({}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                let v: Value = r.json().await.unwrap();
                let queued = if path == "rotation" {
                    &v["queued"]
                } else {
                    &v["rotation"]["queued"]
                };
                queued.as_array().unwrap().len()
            });
        }
        for _ in 0..30 {
            let http = http.clone();
            let alice = alice.clone();
            creations.push(async move {
                http.post(format!("http://127.0.0.1:{p}/v1/documents"))
                    .bearer_auth(alice)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            });
        }
    }
    let (queued, statuses) = tokio::join!(
        futures_util::future::join_all(rotations),
        futures_util::future::join_all(creations)
    );
    let created = statuses.iter().filter(|s| **s == 201).count();
    assert!(
        statuses.iter().all(|s| *s == 201),
        "registrations never fail during rotation: {statuses:?}"
    );
    // Let one more background round pass in every process.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let total_queued: usize = queued.iter().sum();
    assert_eq!(
        total_queued, pool_size as usize,
        "each old key queued by exactly one call"
    );
    let one = |sql: &'static str| {
        let db = &db;
        async move { db.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(
        one("SELECT count(*) FROM key_rotations").await,
        i64::from(pool_size)
    );
    assert_eq!(
        one("SELECT count(DISTINCT old_key_id) FROM key_rotations").await,
        i64::from(pool_size),
        "no key rotated twice"
    );
    assert_eq!(
        one("SELECT count(*) FROM key_rotations WHERE status = 'failed'").await,
        0
    );
    assert_eq!(
        one("SELECT count(*) FROM encryption_keys WHERE status = 'rotation_queued'").await,
        i64::from(pool_size)
    );
    assert_eq!(
        one("SELECT count(*) FROM encryption_keys WHERE status = 'active'").await,
        i64::from(pool_size),
        "one replacement per key, no extra refill"
    );
    assert_eq!(
        one("SELECT count(*) FROM encryption_keys").await,
        2 * i64::from(pool_size)
    );
    // Counts: every registration is counted exactly once.
    assert_eq!(one("SELECT count(*) FROM documents").await, created as i64);
    assert_eq!(
        one("SELECT COALESCE(sum(usage_count), 0)::int8 FROM encryption_keys").await,
        created as i64
    );
    // Documents registered before their key was queued keep the rotation open.
    let open =
        one("SELECT count(*) FROM key_rotations WHERE status IN ('pending', 'in_progress')").await;
    let with_docs = one(
        "SELECT count(*) FROM key_rotations r WHERE EXISTS (SELECT 1 FROM documents d WHERE d.key_id = r.old_key_id)",
    )
    .await;
    assert_eq!(
        open, with_docs,
        "rotations without documents completed, the rest are open"
    );
    for c in &mut children {
        c.kill().await.unwrap();
    }
}

//! Several key-server processes on one database.

use pqfile_keyserver::accounts;
use pqfile_keyserver::domain::Role;

use crate::helpers::*;

#[tokio::test]
async fn three_processes_fill_once_and_count_every_acquisition_exactly_once() {
    let database_url = fresh_database().await;
    let data_dir = tempfile::tempdir().unwrap();
    let pool_size = 4;
    // All three start at once on an empty database: migrations and the
    // first fill must not run twice.
    let (mut children, ports) =
        spawn_three_processes(&database_url, data_dir.path(), pool_size, &[]).await;
    let http = reqwest::Client::new();
    let db = connect(&database_url).await;
    let keys: i64 = db
        .query_one("SELECT count(*) FROM encryption_keys", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        keys,
        i64::from(pool_size),
        "the pool was filled exactly once"
    );

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
    let token = accounts::create_token(&pool, &keys, "alice", None, 90)
        .await
        .unwrap()
        .token
        .expose()
        .to_owned();

    let per_process = 80;
    let mut requests = Vec::new();
    for p in ports {
        for _ in 0..per_process {
            let http = http.clone();
            let token = token.clone();
            requests.push(async move {
                http.post(format!("http://127.0.0.1:{p}/v1/documents"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
            });
        }
    }
    let statuses = futures_util::future::join_all(requests).await;
    assert!(statuses.iter().all(|s| s.as_u16() == 201), "{statuses:?}");
    let n = i64::from(per_process) * 3;
    let total: i64 = db
        .query_one("SELECT sum(usage_count)::int8 FROM encryption_keys", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, n, "N acquisitions across 3 processes add exactly N");
    let docs: i64 = db
        .query_one("SELECT count(*) FROM documents", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(docs, n);
    // Least-used selection spreads the load even under contention: every
    // key gets at least half its fair share.
    let least: i32 = db
        .query_one("SELECT min(usage_count) FROM encryption_keys", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        i64::from(least) >= n / i64::from(pool_size) / 2,
        "least-used key has only {least} uses"
    );
    for c in &mut children {
        c.kill().await.unwrap();
    }
}

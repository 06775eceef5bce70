use std::collections::HashMap;

use crate::helpers::*;

#[tokio::test]
async fn pool_is_filled_at_start_up_to_the_configured_size() {
    let app = spawn_app_with(Options {
        pool_size: 7,
        ..Default::default()
    })
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM encryption_keys WHERE status = 'active'")
            .await,
        7
    );
    assert_eq!(
        app.count("SELECT count(*) FROM encryption_keys WHERE usage_count <> 0")
            .await,
        0
    );
    // Each row's public key is a valid ML-KEM-768 key.
    for row in app
        .db
        .query("SELECT public_key, algorithm FROM encryption_keys", &[])
        .await
        .unwrap()
    {
        let pk = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            row.get::<_, String>(0),
        )
        .unwrap();
        assert!(pqfile_core::mlkem768::PublicKey::from_bytes(&pk).is_ok());
        assert_eq!(row.get::<_, String>(1), "ML-KEM-768");
    }
    // A restart does not add keys to a full pool.
    let again = spawn_app_with(Options {
        pool_size: 7,
        database_url: Some(app.database_url.clone()),
        data_dir: Some(app.settings.data_dir.clone()),
        bootstrap: false,
        ..Default::default()
    })
    .await;
    assert_eq!(again.count("SELECT count(*) FROM encryption_keys").await, 7);
}

#[tokio::test]
async fn pool_refills_when_keys_leave_it() {
    let app = spawn_app_with(Options {
        pool_size: 4,
        ..Default::default()
    })
    .await;
    app.db
        .execute(
            "UPDATE encryption_keys SET status = 'revoked' WHERE id IN (1, 2)",
            &[],
        )
        .await
        .unwrap();
    let n = pqfile_keyserver::key_pool::fill(&app.db_pool, app.state.kms.as_ref(), 4, true)
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        app.count("SELECT count(*) FROM encryption_keys WHERE status = 'active'")
            .await,
        4
    );
}

#[tokio::test]
async fn the_least_used_active_key_is_handed_out() {
    let app = spawn_app_with(Options {
        pool_size: 4,
        ..Default::default()
    })
    .await;
    app.db
        .batch_execute(
            "UPDATE encryption_keys SET usage_count = 10;
             UPDATE encryption_keys SET usage_count = 3 WHERE id = 3;
             UPDATE encryption_keys SET usage_count = 0, status = 'revoked' WHERE id = 4;",
        )
        .await
        .unwrap();
    let v: serde_json::Value = app.create_document(&app.alice).await.json().await.unwrap();
    assert_eq!(
        v["key"]["key_id"], 3,
        "key 3 is the least used active key (key 4 is revoked)"
    );
    assert_eq!(
        app.count("SELECT usage_count::int8 FROM encryption_keys WHERE id = 3")
            .await,
        4
    );
    // Sequential requests then spread evenly: usage counts never differ by more than one.
    app.db
        .batch_execute("UPDATE encryption_keys SET usage_count = 0")
        .await
        .unwrap();
    let mut seen: HashMap<i64, u32> = HashMap::new();
    for _ in 0..9 {
        let v: serde_json::Value = app.create_document(&app.alice).await.json().await.unwrap();
        *seen
            .entry(v["key"]["key_id"].as_i64().unwrap())
            .or_default() += 1;
    }
    assert_eq!(seen, HashMap::from([(1, 3), (2, 3), (3, 3)]));
}

#[tokio::test]
async fn concurrent_requests_add_exactly_n_to_usage_counts() {
    let app = spawn_app_with(Options {
        pool_size: 3,
        ..Default::default()
    })
    .await;
    let n = 60;
    let futures: Vec<_> = (0..n).map(|_| app.create_document(&app.alice)).collect();
    let statuses: Vec<u16> = futures_util::future::join_all(futures)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(app.total_usage().await, n);
    assert_eq!(app.count("SELECT count(*) FROM documents").await, n);
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs WHERE access_type = 'encrypt'")
            .await,
        n
    );
    // Every document's key got exactly as many uses as documents point at it.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM encryption_keys k
             WHERE usage_count <> (SELECT count(*) FROM documents d WHERE d.key_id = k.id)"
        )
        .await,
        0
    );
}

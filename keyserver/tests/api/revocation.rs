//! Issue 11: revocation takes effect at once. The unwrap's audit row, which
//! must be written before a file key is released, is written only while the
//! key still unwraps: the status is re-checked in the statement that
//! commits the unwrap, whatever a process looked up or cached before.

use pqfile_keyserver::store::access_logs::INSERT_IF_KEY_USABLE_SQL;

use crate::helpers::*;

#[tokio::test]
async fn the_unwrap_record_is_written_only_while_the_key_still_unwraps() {
    let app = spawn_app().await;
    let file = app.encrypt(&app.alice, b"x").await;
    let key = file.key_id as i32;
    // As the server's own role, with the server's own statement.
    let server = connect(&as_app_role(&app.database_url)).await;
    let record = |key: i32| {
        let server = &server;
        let doc = file.document_id.to_string();
        let seal = app.state.audit_seal();
        async move {
            server
                .execute(
                    INSERT_IF_KEY_USABLE_SQL,
                    &[
                        &doc,
                        &"decrypt",
                        &"1",
                        &None::<std::net::IpAddr>,
                        &None::<String>,
                        &key,
                        &"allowed",
                        &None::<String>,
                        &seal,
                    ],
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(record(key).await, 1, "active");
    for (status, expires, written) in [
        ("rotation_queued", "now() + interval '1 day'", 1),
        ("rotation_queued", "now() - interval '1 second'", 0),
        ("expired", "NULL", 0),
        ("revoked", "NULL", 0),
        ("active", "NULL", 1),
    ] {
        app.db
            .batch_execute(&format!(
                "UPDATE encryption_keys SET status = '{status}', expires_at = {expires} WHERE id = {key}"
            ))
            .await
            .unwrap();
        assert_eq!(record(key).await, written, "{status}, expires {expires}");
    }
    assert_eq!(record(987_654).await, 0, "a key that does not exist");
}

/// Polls `f` for up to five seconds.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("not within 5 s: {what}");
}

#[tokio::test]
async fn a_revoke_reaches_every_server_at_once_and_clears_their_key_caches() {
    // Two servers on one database and one local KMS master key, each with
    // its own connection pools, key cache and revocation listener.
    let a = spawn_app().await;
    let b = spawn_app_with(Options {
        database_url: Some(a.database_url.clone()),
        data_dir: Some(a.settings.data_dir.clone()),
        bootstrap: false,
        ..Default::default()
    })
    .await;
    let file = a.encrypt(&a.alice, b"revoke me").await;
    let other = a.encrypt(&a.alice, b"keep me").await;
    // Both servers unwrap (and cache the private keys).
    for server in [&a, &b] {
        for f in [&file, &other] {
            let (resp, _) = server.unwrap(&a.alice, &f.document_id, f.stanza()).await;
            assert_eq!(resp.status(), 200);
        }
    }
    let key = file.key_id;
    let cached = |s: &TestApp, id: u32| {
        s.state
            .cache
            .get(pqfile_keyserver::domain::KeyId::from_db(id as i32))
            .is_some()
    };
    eventually("b has cached the key", || cached(&b, key)).await;

    // Revoked through a; once that answered, neither server unwraps with it.
    let resp = a
        .post_as(
            &a.admin,
            &format!("/v1/admin/keys/{key}/revoke"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    for server in [&a, &b] {
        let (resp, _) = server
            .unwrap(&a.alice, &file.document_id, file.stanza())
            .await;
        assert_error(resp, 403, "key_revoked").await;
    }
    // b dropped the private key from its memory without being asked.
    eventually("b dropped the revoked key", || !cached(&b, key)).await;
    assert!(!cached(&a, key));
    if other.key_id != key {
        assert!(cached(&b, other.key_id), "other keys stay cached");
    }
}

/// `pqfile_key_cache_misses_total` of the server at `base`.
async fn cache_misses(app: &TestApp, base: &str) -> u64 {
    let text = app
        .http
        .get(format!("{base}/metrics"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("pqfile_key_cache_misses_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no cache-miss counter in {text}"))
}

#[tokio::test]
async fn a_revoke_clears_the_key_cache_of_every_server_process() {
    // One server in the test process and three `pqfile-keyserver serve`
    // processes on the same database and master key.
    let a = spawn_app().await;
    let (_children, ports) =
        spawn_three_processes(&a.database_url, &a.settings.data_dir, 5, &[]).await;
    let bases: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let file = a.encrypt(&a.alice, b"revoke me everywhere").await;
    let key = file.key_id;
    // Every process unwraps once: the private key is now in its cache.
    for base in &bases {
        let (resp, _) = a
            .unwrap_via(base, &a.alice, &file.document_id, file.stanza())
            .await;
        assert_eq!(resp.status(), 200, "{base}");
    }
    let mut misses = Vec::new();
    for base in &bases {
        misses.push(cache_misses(&a, base).await);
    }
    // A second unwrap is a cache hit everywhere (the counter does not move).
    for (base, before) in bases.iter().zip(&misses) {
        let (resp, _) = a
            .unwrap_via(base, &a.alice, &file.document_id, file.stanza())
            .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(cache_misses(&a, base).await, *before, "{base}: cached");
    }

    // Revoked through the in-process server: once that answered, no process
    // unwraps with the key.
    let resp = a
        .post_as(
            &a.admin,
            &format!("/v1/admin/keys/{key}/revoke"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    for base in &bases {
        let (resp, _) = a
            .unwrap_via(base, &a.alice, &file.document_id, file.stanza())
            .await;
        assert_error(resp, 403, "key_revoked").await;
    }
    // And each process dropped the private key: with the key put back by
    // hand, its next unwrap has to ask the KMS again (a cache miss). (The
    // notification takes milliseconds; 200 ms leave room on a busy machine.)
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    a.db.execute(
        "UPDATE encryption_keys SET status = 'active' WHERE id = $1",
        &[&(key as i32)],
    )
    .await
    .unwrap();
    for (base, before) in bases.iter().zip(&misses) {
        let (resp, _) = a
            .unwrap_via(base, &a.alice, &file.document_id, file.stanza())
            .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            cache_misses(&a, base).await,
            before + 1,
            "{base}: the revoked key was still cached"
        );
    }
}

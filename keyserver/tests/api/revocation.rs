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

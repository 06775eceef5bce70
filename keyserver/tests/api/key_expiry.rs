//! Issue 11: a rotated key gets `expires_at = now + rotation_grace_days`;
//! before that, maintenance rewraps the stored ciphertexts that depend on
//! it, unwraps through it say so, open rotations that cannot finish in time
//! show as stalled; after it, the key unwraps for nobody.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn rotation_sets_a_grace_period_rewraps_stored_copies_and_then_the_key_expires() {
    let app = spawn_app_with(Options {
        pool_size: 1,
        settings: Some(Box::new(|s| s.rotation_grace_days = 7)),
        ..Default::default()
    })
    .await;
    let plaintext: Vec<u8> = (0..70_000u32).map(|i| (i % 239) as u8).collect();
    let stored = app.encrypt(&app.alice, &plaintext).await;
    let kept = app
        .encrypt(&app.alice, b"a copy only the client holds")
        .await;
    let old = stored.key_id;
    assert_eq!(kept.key_id, old, "one key in the pool");
    let doc = stored.document_id.to_string();
    assert_eq!(
        put(&app, &app.alice, &doc, stored.bytes.clone())
            .send()
            .await
            .unwrap()
            .status(),
        201
    );

    app.age_keys(31, "true").await;
    let m = app.admin_post("/v1/admin/maintenance", &json!({})).await;
    assert_eq!(ids(&m["rotation"]["queued"]), vec![i64::from(old)]);
    assert_eq!(m["stored_rewraps"]["rewrapped"], 1, "{m}");
    assert!(m["key_statistics"]["keys_by_status"].is_object(), "{m}");
    assert!(m["unused_keys"].is_array(), "{m}");
    assert_eq!(app.key_status(old).await, "rotation_queued");
    let grace_days = app
        .count(&format!(
            "SELECT round(EXTRACT(EPOCH FROM expires_at - now()) / 86400)::int8
             FROM encryption_keys WHERE id = {old}"
        ))
        .await;
    assert_eq!(grace_days, 7, "expires_at = now + rotation_grace_days");

    // The stored copy moved to the new key (header only, in place) and still
    // decrypts; the move is audited as the server's.
    let new_key = app.document_key(&doc).await;
    assert_ne!(new_key as u32, old);
    let on_disk = std::fs::read(app.settings.content_dir().join(format!("{doc}.pqf"))).unwrap();
    assert_eq!(on_disk.len(), stored.bytes.len());
    assert_eq!(
        &on_disk[stored.header_len..],
        &stored.bytes[stored.header_len..]
    );
    let moved = stored.with_header(&on_disk[..stored.header_len]);
    assert_eq!(moved.key_id, new_key as u32);
    assert_eq!(open_file(&app, &app.alice, &moved).await, plaintext);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM access_logs WHERE access_type = 'rewrap' AND user_id IS NULL
             AND document_id = '{doc}' AND reason = 'stored copy, from key {old}'"
        ))
        .await,
        1
    );

    // A client's copy on the queued key still unwraps, and is told so.
    let (resp, _) = app
        .unwrap(&app.alice, &kept.document_id, kept.stanza())
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["key_status"], "rotation_queued");
    assert!(v["key_expires_at"].is_string(), "{v}");

    // That client copy keeps the rotation open; a day before expiry it is
    // stalled (listed and in the metrics).
    let r = app.admin_json("/v1/admin/rotations").await;
    assert_eq!(r["rotations"][0]["status"], "in_progress", "{r}");
    assert_eq!(r["rotations"][0]["stalled"], false, "{r}");
    app.db
        .execute(
            "UPDATE encryption_keys SET expires_at = now() + interval '2 hours' WHERE id = $1",
            &[&(old as i32)],
        )
        .await
        .unwrap();
    app.admin_post("/v1/admin/maintenance", &json!({})).await;
    let r = app.admin_json("/v1/admin/rotations").await;
    assert_eq!(r["rotations"][0]["stalled"], true, "{r}");
    assert!(r["rotations"][0]["old_key_expires_at"].is_string(), "{r}");
    assert!(
        metrics(&app).await.contains("pqfile_rotations_stalled 1"),
        "the stalled gauge"
    );

    // Past expires_at: expired, unwraps for nobody; the stored copy, already
    // moved, still decrypts.
    app.db
        .execute(
            "UPDATE encryption_keys SET expires_at = now() - interval '1 second' WHERE id = $1",
            &[&(old as i32)],
        )
        .await
        .unwrap();
    let m = app.admin_post("/v1/admin/maintenance", &json!({})).await;
    assert_eq!(ids(&m["expired"]), vec![i64::from(old)]);
    let (resp, _) = app
        .unwrap(&app.alice, &kept.document_id, kept.stanza())
        .await;
    assert_error(resp, 403, "key_expired").await;
    assert_eq!(open_file(&app, &app.alice, &moved).await, plaintext);
}

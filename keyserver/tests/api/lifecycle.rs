//! Key lifecycle: rotation (active → rotation_queued, rotation pending →
//! in_progress → completed after rewrap), expiry, revocation with admin
//! rescue and pool refill. Rewrap refusals and races: `rewrap.rs`.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn rotation_queues_old_keys_and_completes_once_every_document_is_rewrapped() {
    let app = spawn_app_with(Options {
        pool_size: 2,
        ..Default::default()
    })
    .await;
    let a = app.encrypt(&app.alice, b"document a").await;
    let b = app.encrypt(&app.alice, b"document b").await;
    assert_ne!(a.key_id, b.key_id);
    // Nothing is old enough yet.
    let check = app.admin_post("/v1/admin/rotation", &json!({})).await;
    assert_eq!(check["queued"], json!([]));

    app.age_keys(31, "true").await;
    let check = app.admin_post("/v1/admin/rotation", &json!({})).await;
    let mut queued = ids(&check["queued"]);
    queued.sort_unstable();
    let mut expected = vec![i64::from(a.key_id), i64::from(b.key_id)];
    expected.sort_unstable();
    assert_eq!(queued, expected);
    let rotations = check["rotations"].as_array().unwrap();
    assert_eq!(rotations.len(), 2);
    assert!(
        rotations
            .iter()
            .all(|r| r["status"] == "pending" && r["new_key_id"].is_i64())
    );
    assert_eq!(app.key_status(a.key_id).await, "rotation_queued");
    assert_eq!(
        app.count("SELECT count(*) FROM encryption_keys WHERE status = 'active'")
            .await,
        2,
        "one replacement per queued key"
    );
    // A second check (and a maintenance run) does not rotate again.
    let again = app.admin_post("/v1/admin/rotation", &json!({})).await;
    assert_eq!(again["queued"], json!([]));
    let m = app.admin_post("/v1/admin/maintenance", &json!({})).await;
    assert_eq!(m["rotation"]["queued"], json!([]));
    assert_eq!(m["keys_generated"], 0);
    assert_eq!(ids(&m["rotations"]["in_progress"]).len(), 2);
    assert_eq!(app.count("SELECT count(*) FROM key_rotations").await, 2);

    // Queued keys are never handed out but still unwrap.
    let c = app.encrypt(&app.alice, b"document c").await;
    assert!(!expected.contains(&i64::from(c.key_id)));
    assert_eq!(open_file(&app, &app.alice, &a).await, b"document a");

    let list = app
        .admin_json("/v1/admin/rotations?status=in_progress")
        .await;
    let list = list["rotations"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for r in list {
        assert_eq!(r["documents_remaining"], 1);
        assert!(r["old_key_age_days"].as_f64().unwrap() > 30.9);
        assert!(r["new_key_age_days"].as_f64().unwrap() < 0.1);
        assert!(r["completed_at"].is_null());
    }

    // Rewrap a: it moves to a current key; its rotation completes.
    let (new_header, v) = rewrapped(
        app.rewrap(&app.alice, &a.document_id.to_string(), a.header_bytes())
            .await,
    )
    .await;
    assert_eq!(v["replaced_key_id"], i64::from(a.key_id));
    let new_key = v["key_id"].as_i64().unwrap();
    assert!(!expected.contains(&new_key));
    assert_eq!(
        i64::from(app.document_key(&a.document_id.to_string()).await),
        new_key
    );
    assert_eq!(
        new_header.len(),
        a.header_len,
        "same size: one stanza replaced"
    );
    let a2 = a.with_header(&new_header);
    assert_eq!(i64::from(a2.key_id), new_key);
    assert_eq!(open_file(&app, &app.alice, &a2).await, b"document a");
    // The old copy still decrypts while its key is queued (issue 11: the
    // rewrap added a key to the document's history, it took none away).
    assert_eq!(open_file(&app, &app.alice, &a).await, b"document a");

    let done = app.admin_json("/v1/admin/rotations?status=completed").await;
    let done = done["rotations"].as_array().unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["old_key_id"], i64::from(a.key_id));
    assert_eq!(done[0]["documents_remaining"], 0);
    assert!(done[0]["completed_at"].is_string());

    // Rewrap b too: every rotation is complete.
    rewrapped(
        app.rewrap(&app.alice, &b.document_id.to_string(), b.header_bytes())
            .await,
    )
    .await;
    let open = app
        .admin_json("/v1/admin/rotations?status=in_progress")
        .await;
    assert_eq!(open["rotations"], json!([]));
    assert_eq!(
        app.count("SELECT count(*) FROM key_rotations WHERE status = 'completed' AND completed_at IS NOT NULL").await,
        2
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM access_logs WHERE access_type = 'rewrap' AND outcome = 'allowed'"
        )
        .await,
        2
    );
    let bad = app
        .get_as(&app.admin, "/v1/admin/rotations?status=done")
        .await;
    assert_error(bad, 400, "invalid_query").await;
}

#[tokio::test]
async fn expired_keys_leave_the_pool_unwrap_for_nobody_and_admins_rescue() {
    let app = spawn_app_with(Options {
        pool_size: 2,
        ..Default::default()
    })
    .await;
    let a = app.encrypt(&app.alice, b"expiring").await;
    app.db
        .execute(
            "UPDATE encryption_keys SET expires_at = now() - interval '1 minute' WHERE id = $1",
            &[&i32::try_from(a.key_id).unwrap()],
        )
        .await
        .unwrap();
    // Past `expires_at` the key unwraps for nobody, even before maintenance
    // marks it (issue 11).
    let (resp, _) = app.unwrap(&app.alice, &a.document_id, a.stanza()).await;
    assert_error(resp, 403, "key_expired").await;
    let m = app.admin_post("/v1/admin/maintenance", &json!({})).await;
    assert_eq!(ids(&m["expired"]), vec![i64::from(a.key_id)]);
    assert_eq!(m["keys_generated"], 1, "the pool refills");
    assert_eq!(app.key_status(a.key_id).await, "expired");
    assert_eq!(
        app.count("SELECT count(*) FROM encryption_keys WHERE status = 'active'")
            .await,
        2
    );
    for _ in 0..4 {
        let f = app.encrypt(&app.alice, b"new").await;
        assert_ne!(f.key_id, a.key_id, "expired keys are never handed out");
    }
    for who in [&app.alice, &app.admin] {
        let (resp, _) = app.unwrap(who, &a.document_id, a.stanza()).await;
        assert_error(resp, 403, "key_expired").await;
    }
    // The owner cannot rewrap off an expired key; an admin can (rescue),
    // and that is audited. The rescued copy decrypts for the owner.
    assert_error(
        app.rewrap(&app.alice, &a.document_id.to_string(), a.header_bytes())
            .await,
        403,
        "key_expired",
    )
    .await;
    assert_eq!(app.refusals("rewrap", "key_expired").await, 1);
    let (h, v) = rewrapped(
        app.rewrap(&app.admin, &a.document_id.to_string(), a.header_bytes())
            .await,
    )
    .await;
    assert_eq!(v["replaced_key_id"], i64::from(a.key_id));
    assert_eq!(
        open_file(&app, &app.alice, &a.with_header(&h)).await,
        b"expiring"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM access_logs WHERE access_type = 'rewrap' AND outcome = 'allowed'
             AND document_id = '{}' AND reason = 'from key {}'
             AND user_id = (SELECT id::text FROM users WHERE name = 'root')",
            a.document_id, a.key_id
        ))
        .await,
        1,
        "the rescue is audited with the admin's id"
    );
    let keys = app.admin_json("/v1/admin/keys?status=expired").await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    assert_eq!(keys["keys"][0]["documents"], 0);
}

#[tokio::test]
async fn revocation_refuses_everyone_admins_rescue_and_the_pool_refills() {
    let app = spawn_app_with(Options {
        pool_size: 3,
        ..Default::default()
    })
    .await;
    let a = app.encrypt(&app.alice, b"rescue me").await;
    // Not for users.
    let resp = app
        .post_as(
            &app.alice,
            &format!("/v1/admin/keys/{}/revoke", a.key_id),
            &json!({}),
        )
        .await;
    assert_error(resp, 403, "admin_only").await;
    assert_eq!(app.refusals("admin", "admin_only").await, 1);
    assert_eq!(app.key_status(a.key_id).await, "active");

    let v = app
        .admin_post(&format!("/v1/admin/keys/{}/revoke", a.key_id), &json!({}))
        .await;
    assert_eq!(v["status"], "revoked");
    assert_eq!(v["previous_status"], "active");
    assert_eq!(v["keys_generated"], 1);
    assert_eq!(app.key_status(a.key_id).await, "revoked");
    assert_eq!(
        app.count("SELECT count(*) FROM encryption_keys WHERE status = 'active'")
            .await,
        3,
        "the pool refilled at once"
    );
    // Out of the pool.
    for _ in 0..6 {
        assert_ne!(app.encrypt(&app.alice, b"x").await.key_id, a.key_id);
    }
    // Unwrap refused for everyone, admins included.
    for token in [&app.alice, &app.admin] {
        let (resp, _) = app.unwrap(token, &a.document_id, a.stanza()).await;
        assert_error(resp, 403, "key_revoked").await;
    }
    // Rewrap: refused for the owner, the admin rescues.
    let doc = a.document_id.to_string();
    assert_error(
        app.rewrap(&app.alice, &doc, a.header_bytes()).await,
        403,
        "key_revoked",
    )
    .await;
    assert_eq!(app.refusals("rewrap", "key_revoked").await, 1);
    let (h, v) = rewrapped(app.rewrap(&app.admin, &doc, a.header_bytes()).await).await;
    assert_eq!(v["replaced_key_id"], i64::from(a.key_id));
    assert_eq!(
        open_file(&app, &app.alice, &a.with_header(&h)).await,
        b"rescue me"
    );
    // Unknown and malformed key ids.
    assert_error(
        app.post_as(&app.admin, "/v1/admin/keys/999999/revoke", &json!({}))
            .await,
        404,
        "key_not_found",
    )
    .await;
    assert_error(
        app.post_as(&app.admin, "/v1/admin/keys/zero/revoke", &json!({}))
            .await,
        400,
        "invalid_key_id",
    )
    .await;
}

#[tokio::test]
async fn revoking_a_replacement_key_fails_its_rotation_with_a_reason() {
    let app = spawn_app_with(Options {
        pool_size: 1,
        ..Default::default()
    })
    .await;
    let a = app.encrypt(&app.alice, b"x").await;
    app.age_keys(40, "true").await;
    let check = app.admin_post("/v1/admin/rotation", &json!({})).await;
    let new_key = check["rotations"][0]["new_key_id"].as_i64().unwrap();
    app.admin_post(&format!("/v1/admin/keys/{new_key}/revoke"), &json!({}))
        .await;
    let failed = app.admin_json("/v1/admin/rotations?status=failed").await;
    let failed = failed["rotations"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["old_key_id"], i64::from(a.key_id));
    assert_eq!(
        failed[0]["reason"],
        format!("replacement key {new_key} was revoked")
    );
    // The document still moves to a current key.
    let (_, v) = rewrapped(
        app.rewrap(&app.alice, &a.document_id.to_string(), a.header_bytes())
            .await,
    )
    .await;
    assert_ne!(v["key_id"], new_key);
}

#[tokio::test]
async fn kms_down_rotation_fails_with_a_reason_and_the_key_stays_active() {
    let up = spawn_app_with(Options {
        kms: Kms::Moto,
        pool_size: 1,
        ..Default::default()
    })
    .await;
    let a = up.encrypt(&up.alice, b"x").await;
    up.age_keys(31, "true").await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = spawn_app_with(Options {
        kms: Kms::Moto,
        pool_size: 1,
        database_url: Some(up.database_url.clone()),
        kms_key_id: up.settings.kms_key_id.clone(),
        kms_endpoint: Some(format!("http://127.0.0.1:{dead}")),
        bootstrap: false,
        ..Default::default()
    })
    .await;
    let check = down
        .post_as(&up.admin, "/v1/admin/rotation", &json!({}))
        .await;
    assert_eq!(check.status(), 200);
    let check: Value = check.json().await.unwrap();
    assert_eq!(check["queued"], json!([]));
    assert_eq!(check["rotations"][0]["status"], "failed");
    assert_eq!(check["rotations"][0]["old_key_id"], i64::from(a.key_id));
    assert!(
        check["rotations"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("could not generate a replacement key")
    );
    assert_eq!(up.key_status(a.key_id).await, "active", "retried next time");
    // With the KMS back, the next check rotates it.
    let check = up.admin_post("/v1/admin/rotation", &json!({})).await;
    assert_eq!(ids(&check["queued"]), vec![i64::from(a.key_id)]);
    let failed = up.admin_json("/v1/admin/rotations?status=failed").await;
    assert_eq!(failed["rotations"].as_array().unwrap().len(), 1);
    let pending = up.admin_json("/v1/admin/rotations?status=pending").await;
    assert_eq!(pending["rotations"].as_array().unwrap().len(), 1);
}

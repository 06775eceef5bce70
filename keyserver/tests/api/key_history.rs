//! Issue 11: a document's key history. A rewrap adds a key and takes none
//! away, so no copy of a file is stranded by somebody else's rewrap; a
//! rewrap that does not match the stored ciphertext is refused and changes
//! nothing.

use serde_json::json;

use crate::helpers::*;

async fn history_len(app: &TestApp, doc: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM document_keys WHERE document_id = '{doc}'"
    ))
    .await
}

#[tokio::test]
async fn a_grantees_rewrap_does_not_lock_the_owner_out_of_their_copy() {
    let app = spawn_app_with(Options {
        pool_size: 3,
        ..Default::default()
    })
    .await;
    let owners_copy = app.encrypt(&app.alice, b"the owner's copy").await;
    let doc = owners_copy.document_id.to_string();
    let resp = app
        .post_as(
            &app.alice,
            &format!("/v1/documents/{doc}/grants"),
            &json!({"user": "bob"}),
        )
        .await;
    assert_eq!(resp.status(), 201);

    // Bob rewraps his copy of the file (the same bytes the owner holds).
    let (h, v) = rewrapped(app.rewrap(&app.bob, &doc, owners_copy.header_bytes()).await).await;
    let bobs_copy = owners_copy.with_header(&h);
    assert_ne!(bobs_copy.key_id, owners_copy.key_id);
    assert_eq!(v["replaced_key_id"], i64::from(owners_copy.key_id));
    assert_eq!(
        app.document_key(&doc).await,
        v["key_id"].as_i64().unwrap() as i32
    );
    assert_eq!(history_len(&app, &doc).await, 2);

    // Both copies decrypt, for both users.
    for who in [&app.alice, &app.bob] {
        assert_eq!(
            open_file(&app, who, &owners_copy).await,
            b"the owner's copy"
        );
        assert_eq!(open_file(&app, who, &bobs_copy).await, b"the owner's copy");
    }
    // And the owner can still rewrap hers: that adds a third key.
    let (h2, _) = rewrapped(
        app.rewrap(&app.alice, &doc, owners_copy.header_bytes())
            .await,
    )
    .await;
    assert_eq!(
        open_file(&app, &app.alice, &owners_copy.with_header(&h2)).await,
        b"the owner's copy"
    );
    assert_eq!(history_len(&app, &doc).await, 3);

    // A key of the history that gets revoked stops only the copies that
    // depend on it.
    app.db
        .execute(
            "UPDATE encryption_keys SET status = 'revoked' WHERE id = $1",
            &[&(owners_copy.key_id as i32)],
        )
        .await
        .unwrap();
    let (resp, _) = app
        .unwrap(&app.alice, &owners_copy.document_id, owners_copy.stanza())
        .await;
    assert_error(resp, 403, "key_revoked").await;
    assert_eq!(
        open_file(&app, &app.alice, &bobs_copy).await,
        b"the owner's copy"
    );

    // A key that was never in the history is refused as before.
    let other = app.encrypt(&app.alice, b"another document").await;
    if other.key_id != bobs_copy.key_id && other.key_id != owners_copy.with_header(&h2).key_id {
        let (resp, _) = app
            .unwrap(&app.alice, &owners_copy.document_id, other.stanza())
            .await;
        assert_error(resp, 400, "key_mismatch").await;
    }
}

#[tokio::test]
async fn a_rewrap_that_does_not_match_the_stored_ciphertext_is_refused_and_changes_nothing() {
    let app = spawn_app_with(Options {
        pool_size: 3,
        ..Default::default()
    })
    .await;
    let plaintext: Vec<u8> = (0..50_000u32).map(|i| (i % 241) as u8).collect();
    let original = app.encrypt(&app.alice, &plaintext).await;
    let doc = original.document_id.to_string();
    let resp = put(&app, &app.alice, &doc, original.bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    // Rewrapping the stored copy's header also moves the stored copy.
    let (h1, _) = rewrapped(app.rewrap(&app.alice, &doc, original.header_bytes()).await).await;
    let stored_path = app.settings.content_dir().join(format!("{doc}.pqf"));
    let stored = std::fs::read(&stored_path).unwrap();
    assert_eq!(
        &stored[..h1.len()],
        &h1[..],
        "the stored header was replaced"
    );

    // The original header no longer matches the stored ciphertext: refused
    // with 409, and nothing changes (key, history, stored bytes, audit).
    let key_before = app.document_key(&doc).await;
    let history_before = history_len(&app, &doc).await;
    let allowed =
        "SELECT count(*) FROM access_logs WHERE access_type = 'rewrap' AND outcome = 'allowed'";
    let allowed_before = app.count(allowed).await;
    assert_error(
        app.rewrap(&app.alice, &doc, original.header_bytes()).await,
        409,
        "stored_header_mismatch",
    )
    .await;
    assert_eq!(app.document_key(&doc).await, key_before);
    assert_eq!(history_len(&app, &doc).await, history_before);
    assert_eq!(
        std::fs::read(&stored_path).unwrap(),
        stored,
        "stored copy untouched"
    );
    assert_eq!(app.count(allowed).await, allowed_before);
    assert_eq!(app.refusals("rewrap", "stored_header_mismatch").await, 1);

    // Both the stored copy and the original still decrypt.
    assert_eq!(open_file(&app, &app.alice, &original).await, plaintext);
    let stored_file = original.with_header(&h1);
    assert_eq!(open_file(&app, &app.alice, &stored_file).await, plaintext);
}

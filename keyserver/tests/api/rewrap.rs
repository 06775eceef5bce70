//! Rewrap (issue 5): every refusal, audited and counted, and concurrent
//! rewraps that complete a rotation exactly once.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn rewrap_refusals_are_refused_and_audited() {
    let app = spawn_app_with(Options {
        pool_size: 2,
        ..Default::default()
    })
    .await;
    let a = app.encrypt(&app.alice, b"a").await;
    let b = app.encrypt(&app.alice, b"b").await;
    let doc = a.document_id.to_string();

    // Not the owner.
    assert_error(
        app.rewrap(&app.bob, &doc, a.header_bytes()).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(app.refusals("rewrap", "forbidden").await, 1);

    // A tampered header: the MAC fails.
    let mut tampered = a.header_bytes().to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_error(
        app.rewrap(&app.alice, &doc, &tampered).await,
        400,
        "decryption_failed",
    )
    .await;
    // A tampered stanza: the stanza fails.
    let mut tampered = a.header_bytes().to_vec();
    tampered[60] ^= 1;
    assert_error(
        app.rewrap(&app.alice, &doc, &tampered).await,
        400,
        "decryption_failed",
    )
    .await;
    assert_eq!(app.refusals("rewrap", "decryption_failed").await, 2);

    // Another document's header.
    assert_error(
        app.rewrap(&app.alice, &doc, b.header_bytes()).await,
        400,
        "document_mismatch",
    )
    .await;
    assert_eq!(app.refusals("rewrap", "document_mismatch").await, 1);

    // Whole files, truncated headers, garbage, bad base64.
    assert_error(
        app.rewrap(&app.alice, &doc, &a.bytes).await,
        400,
        "invalid_header",
    )
    .await;
    assert_error(
        app.rewrap(&app.alice, &doc, &a.header_bytes()[..100]).await,
        400,
        "invalid_header",
    )
    .await;
    assert_error(
        app.rewrap(&app.alice, &doc, b"not a header").await,
        400,
        "invalid_header",
    )
    .await;
    let resp = app
        .post_as(
            &app.alice,
            &format!("/v1/documents/{doc}/rewrap"),
            &json!({"header": "%%%"}),
        )
        .await;
    assert_error(resp, 400, "invalid_base64").await;
    let resp = app
        .post_as(
            &app.alice,
            "/v1/documents/xyz/rewrap",
            &json!({"header": ""}),
        )
        .await;
    assert_error(resp, 400, "bad_document_id").await;

    // A header whose stanzas are for no key of the document's history.
    let mut stranger = a.header.clone();
    stranger.stanzas[0].key_id = 4242;
    assert_error(
        app.rewrap(&app.alice, &doc, &stranger.to_bytes()).await,
        400,
        "no_matching_stanza",
    )
    .await;
    assert_eq!(app.refusals("rewrap", "no_matching_stanza").await, 1);
    // A header rewrapped once: both it and the old one rewrap again (the old
    // key stays in the document's history, issue 11).
    let (h, _) = rewrapped(app.rewrap(&app.alice, &doc, a.header_bytes()).await).await;
    rewrapped(app.rewrap(&app.alice, &doc, &h).await).await;
    rewrapped(app.rewrap(&app.alice, &doc, a.header_bytes()).await).await;

    // Unknown document.
    let unknown = "0123456789abcdef0123456789abcdef";
    let mut other = a.header_bytes().to_vec();
    other[6..22].copy_from_slice(&hex_bytes(unknown));
    assert_error(
        app.rewrap(&app.alice, unknown, &other).await,
        404,
        "document_not_found",
    )
    .await;

    // Nothing changed for the refused ones; metrics count them.
    let metrics = metrics(&app).await;
    assert!(
        metrics.contains("pqfile_rewraps_total{outcome=\"forbidden\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pqfile_refusals_total{code=\"decryption_failed\",route=\"rewrap\"} 2"),
        "{metrics}"
    );
    let v: Value = app
        .get_as(&app.alice, "/v1/documents")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["documents"].as_array().unwrap().len(), 2);
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn concurrent_rewraps_of_the_last_documents_complete_the_rotation() {
    let app = spawn_app_with(Options {
        pool_size: 1,
        ..Default::default()
    })
    .await;
    let mut files = Vec::new();
    for i in 0..24u8 {
        files.push(app.encrypt(&app.alice, &[i]).await);
    }
    app.age_keys(31, "true").await;
    let check = app.admin_post("/v1/admin/rotation", &json!({})).await;
    assert_eq!(ids(&check["queued"]), vec![i64::from(files[0].key_id)]);
    let rewraps = files.iter().map(|f| async {
        let resp = app
            .rewrap(&app.alice, &f.document_id.to_string(), f.header_bytes())
            .await;
        resp.status().as_u16()
    });
    let statuses = futures_util::future::join_all(rewraps).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let r = app.admin_json("/v1/admin/rotations").await;
    assert_eq!(r["rotations"][0]["status"], "completed", "{r}");
    assert_eq!(r["rotations"][0]["documents_remaining"], 0);
}

#[tokio::test]
async fn a_rewrap_racing_another_move_off_the_same_key_still_completes_the_rotation() {
    // Deterministic version of the race: another transaction has moved the
    // other document off the key (and touched the rotation) but not yet
    // committed when this rewrap starts.
    let app = spawn_app_with(Options {
        pool_size: 2,
        ..Default::default()
    })
    .await;
    let a = app.encrypt(&app.alice, b"a").await;
    let b = app.encrypt(&app.alice, b"b").await;
    let c = app.encrypt(&app.alice, b"c").await;
    assert_eq!(a.key_id, c.key_id);
    assert_ne!(a.key_id, b.key_id);
    app.age_keys(31, &format!("id = {}", a.key_id)).await;
    let check = app.admin_post("/v1/admin/rotation", &json!({})).await;
    assert_eq!(ids(&check["queued"]), vec![i64::from(a.key_id)]);
    let old_key = i32::try_from(a.key_id).unwrap();
    // The other transaction moves `a` to b's key (not the replacement the
    // rewrap of `c` will pick, so the two do not meet on a key row).
    let mut other = connect(&app.database_url).await;
    let tx = other.transaction().await.unwrap();
    tx.execute(
        "UPDATE documents SET key_id = $1 WHERE id = $2",
        &[
            &i32::try_from(b.key_id).unwrap(),
            &a.document_id.to_string(),
        ],
    )
    .await
    .unwrap();
    tx.execute(
        pqfile_keyserver::store::rotations::ADVANCE_ROTATIONS_SQL,
        &[&Some(old_key)],
    )
    .await
    .unwrap();
    let doc = c.document_id.to_string();
    let rewrap = app.rewrap(&app.alice, &doc, c.header_bytes());
    let commit_later = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        tx.commit().await.unwrap();
    };
    let (resp, ()) = tokio::join!(rewrap, commit_later);
    assert_eq!(resp.status(), 200);
    let r = app.admin_json("/v1/admin/rotations").await;
    assert_eq!(r["rotations"][0]["status"], "completed", "{r}");
}

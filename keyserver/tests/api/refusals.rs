//! Every authorization refusal: refused, audited, nothing leaked.

use pqfile_core::Stanza;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn no_token_is_401() {
    let app = spawn_app().await;
    let resp = app
        .http
        .post(app.url("/v1/documents"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers().get("www-authenticate").unwrap(), "Bearer");
    assert_error(resp, 401, "missing_token").await;
    let resp = app.http.get(app.url("/v1/keys/1")).send().await.unwrap();
    assert_error(resp, 401, "missing_token").await;
    let file = app.encrypt(&app.alice, b"x").await;
    let resp = app
        .http
        .post(app.url(&format!("/v1/documents/{}/unwrap", file.document_id)))
        .json(&json!({"stanza": "", "ephemeral_public_key": ""}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "missing_token").await;
    // Deny by default: an unknown /v1 route also wants a token first.
    let resp = app.http.get(app.url("/v1/anything")).send().await.unwrap();
    assert_error(resp, 401, "missing_token").await;
    assert_eq!(app.count("SELECT count(*) FROM documents").await, 1);
}

#[tokio::test]
async fn bad_tokens_are_401() {
    let app = spawn_app().await;
    let unknown = format!("pqf_{}", "0".repeat(64));
    for token in [
        unknown.as_str(),
        "garbage",
        "pqf_",
        &app.alice[..app.alice.len() - 1],
    ] {
        let resp = app.create_document(token).await;
        assert_error(resp, 401, "invalid_token").await;
    }
    let resp = app
        .http
        .post(app.url("/v1/documents"))
        .header("Authorization", format!("Basic {}", app.alice))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "missing_token").await;
    // A revoked token stops working, and says so (tokens::* for the rest).
    app.db
        .execute("UPDATE api_tokens SET revoked_at = now()", &[])
        .await
        .unwrap();
    assert_error(app.create_document(&app.alice).await, 401, "token_revoked").await;
    assert_eq!(app.count("SELECT count(*) FROM documents").await, 0);
}

#[tokio::test]
async fn another_users_document_is_403_and_audited() {
    let app = spawn_app().await;
    let file = app.encrypt(&app.alice, b"alice's").await;
    let (resp, _) = app.unwrap(&app.bob, &file.document_id, file.stanza()).await;
    assert_error(resp, 403, "forbidden").await;
    assert_eq!(app.refusals("decrypt", "forbidden").await, 1);
    let bob_id: String = app
        .db
        .query_one("SELECT id::text FROM users WHERE name = 'bob'", &[])
        .await
        .unwrap()
        .get(0);
    let row = app
        .db
        .query_one(
            "SELECT user_id, document_id FROM access_logs WHERE reason = 'forbidden'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), bob_id);
    assert_eq!(row.get::<_, String>(1), file.document_id.to_string());
}

#[tokio::test]
async fn a_stanza_of_another_document_does_not_unwrap() {
    // One key in the pool: both documents use it, so the key-id check passes
    // and only the document binding (FORMAT.md W2) stops the swap.
    let app = spawn_app_with(Options {
        pool_size: 1,
        ..Default::default()
    })
    .await;
    let a = app.encrypt(&app.alice, b"document a").await;
    let b = app.encrypt(&app.alice, b"document b").await;
    assert_eq!(a.key_id, b.key_id);
    let (resp, _) = app.unwrap(&app.alice, &a.document_id, b.stanza()).await;
    assert_error(resp, 400, "decryption_failed").await;
    assert_eq!(app.refusals("decrypt", "decryption_failed").await, 1);
}

#[tokio::test]
async fn a_stanza_of_another_document_on_another_key_is_a_key_mismatch() {
    let app = spawn_app_with(Options {
        pool_size: 2,
        ..Default::default()
    })
    .await;
    let a = app.encrypt(&app.alice, b"document a").await;
    let b = app.encrypt(&app.alice, b"document b").await;
    assert_ne!(a.key_id, b.key_id);
    let (resp, _) = app.unwrap(&app.alice, &a.document_id, b.stanza()).await;
    assert_error(resp, 400, "key_mismatch").await;
}

#[tokio::test]
async fn tampered_stanzas_fail_with_decryption_failed() {
    let app = spawn_app().await;
    let file = app.encrypt(&app.alice, b"secret").await;
    // One bit flipped in the KEM ciphertext, then in the wrapped file key, then in the tag.
    for pos in [10, 1088 + 5, 1135] {
        let mut s = file.stanza().clone();
        s.body[pos] ^= 1;
        let (resp, _) = app.unwrap(&app.alice, &file.document_id, &s).await;
        assert_error(resp, 400, "decryption_failed").await;
    }
    assert_eq!(app.refusals("decrypt", "decryption_failed").await, 3);
    // The genuine stanza still works afterwards.
    let (resp, _) = app
        .unwrap(&app.alice, &file.document_id, file.stanza())
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn wrong_key_ids_are_refused() {
    let app = spawn_app_with(Options {
        pool_size: 3,
        ..Default::default()
    })
    .await;
    let file = app.encrypt(&app.alice, b"secret").await;
    let other = if file.key_id == 1 { 2 } else { 1 };
    let relabelled = Stanza {
        key_id: other,
        ..file.stanza().clone()
    };
    let (resp, _) = app.unwrap(&app.alice, &file.document_id, &relabelled).await;
    assert_error(resp, 400, "key_mismatch").await;
    let unknown = Stanza {
        key_id: 999_999,
        ..file.stanza().clone()
    };
    let (resp, _) = app.unwrap(&app.alice, &file.document_id, &unknown).await;
    assert_error(resp, 404, "key_not_found").await;
    assert_eq!(app.refusals("decrypt", "key_mismatch").await, 1);
    assert_eq!(app.refusals("decrypt", "key_not_found").await, 1);
}

#[tokio::test]
async fn a_revoked_key_refuses_unwrap_for_everyone() {
    let app = spawn_app().await;
    let file = app.encrypt(&app.alice, b"secret").await;
    app.db
        .execute(
            "UPDATE encryption_keys SET status = 'revoked' WHERE id = $1",
            &[&(file.key_id as i32)],
        )
        .await
        .unwrap();
    let (resp, _) = app
        .unwrap(&app.alice, &file.document_id, file.stanza())
        .await;
    assert_error(resp, 403, "key_revoked").await;
    let (resp, _) = app
        .unwrap(&app.admin, &file.document_id, file.stanza())
        .await;
    assert_error(resp, 403, "key_revoked").await;
    assert_eq!(app.refusals("decrypt", "key_revoked").await, 2);
    // A key queued for rotation still unwraps (and says so); an expired one
    // unwraps for nobody, admins included (issue 11), and is audited.
    let set_status = |status: &'static str| {
        let db = &app.db;
        let id = file.key_id as i32;
        async move {
            db.execute(
                "UPDATE encryption_keys SET status = $1 WHERE id = $2",
                &[&status, &id],
            )
            .await
            .unwrap();
        }
    };
    set_status("rotation_queued").await;
    let (resp, _) = app
        .unwrap(&app.alice, &file.document_id, file.stanza())
        .await;
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["key_status"], "rotation_queued");
    assert_eq!(v["key_id"], i64::from(file.key_id));
    set_status("expired").await;
    for who in [&app.alice, &app.admin] {
        let (resp, _) = app.unwrap(who, &file.document_id, file.stanza()).await;
        assert_error(resp, 403, "key_expired").await;
    }
    assert_eq!(app.refusals("decrypt", "key_expired").await, 2);
}

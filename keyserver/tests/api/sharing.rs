//! Grants (owner shares, grantee unwraps, revocation takes it back) and
//! ciphertext storage (upload, download, header checks, size limit).

use serde_json::{Value, json};

use crate::helpers::*;

async fn count_log(app: &TestApp, access_type: &str, outcome: &str, reason: Option<&str>) -> i64 {
    app.db
        .query_one(
            "SELECT count(*) FROM access_logs WHERE access_type = $1 AND outcome = $2 AND ($3::text IS NULL OR reason = $3)",
            &[&access_type, &outcome, &reason],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn grants_allow_and_revoke_unwrap() {
    let app = spawn_app().await;
    let a = app.encrypt(&app.alice, b"shared secret").await;
    let doc = a.document_id.to_string();
    let grants = format!("/v1/documents/{doc}/grants");

    let (resp, _) = app.unwrap(&app.bob, &a.document_id, a.stanza()).await;
    assert_error(resp, 403, "forbidden").await;
    let v: Value = app
        .get_as(&app.bob, "/v1/documents")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["documents"], json!([]));

    // Only the owner (or an admin) grants.
    assert_error(
        app.post_as(&app.bob, &grants, &json!({"user": "bob"}))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.post_as(&app.alice, &grants, &json!({"user": "nobody"}))
            .await,
        404,
        "user_not_found",
    )
    .await;
    assert_error(
        app.post_as(&app.alice, &grants, &json!({"user": "alice"}))
            .await,
        400,
        "self_grant",
    )
    .await;
    assert_eq!(count_log(&app, "share", "refused", None).await, 3);

    let resp = app
        .post_as(&app.alice, &grants, &json!({"user": "bob"}))
        .await;
    assert_eq!(resp.status(), 201);
    let g: Value = resp.json().await.unwrap();
    assert_eq!(g["document_id"], doc);
    assert_eq!(g["user"], "bob");
    assert!(g["granted_at"].is_string());
    // Idempotent.
    assert_eq!(
        app.post_as(&app.alice, &grants, &json!({"user": "bob"}))
            .await
            .status(),
        201
    );
    let list: Value = app.get_as(&app.alice, &grants).await.json().await.unwrap();
    assert_eq!(list["grants"].as_array().unwrap().len(), 1);
    assert_eq!(list["grants"][0]["user"], "bob");
    assert_error(app.get_as(&app.bob, &grants).await, 403, "forbidden").await;

    // Bob may unwrap and sees the document as shared.
    assert_eq!(open_file(&app, &app.bob, &a).await, b"shared secret");
    let v: Value = app
        .get_as(&app.bob, "/v1/documents")
        .await
        .json()
        .await
        .unwrap();
    let docs = v["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["shared"], true);
    assert_eq!(docs[0]["owner"], "alice");
    assert_eq!(docs[0]["has_content"], false);
    let v: Value = app
        .get_as(&app.alice, "/v1/documents")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["documents"][0]["shared"], false);
    // A grantee may also rewrap.
    let (h, _) = rewrapped(app.rewrap(&app.bob, &doc, a.header_bytes()).await).await;
    let a = a.with_header(&h);

    // Revoke: bob is refused again.
    let resp = app.delete_as(&app.alice, &format!("{grants}/bob")).await;
    assert_eq!(resp.status(), 204);
    let (resp, _) = app.unwrap(&app.bob, &a.document_id, a.stanza()).await;
    assert_error(resp, 403, "forbidden").await;
    assert_error(
        app.delete_as(&app.alice, &format!("{grants}/bob")).await,
        404,
        "grant_not_found",
    )
    .await;
    assert_error(
        app.delete_as(&app.alice, &format!("{grants}/nobody")).await,
        404,
        "user_not_found",
    )
    .await;
    assert_error(
        app.delete_as(&app.bob, &format!("{grants}/bob")).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        count_log(&app, "share", "allowed", None).await,
        3,
        "two grants, one revocation"
    );
    // Admins manage grants of any document.
    assert_eq!(
        app.post_as(&app.admin, &grants, &json!({"user": "bob"}))
            .await
            .status(),
        201
    );
    assert_eq!(open_file(&app, &app.bob, &a).await, b"shared secret");
}

#[tokio::test]
async fn content_round_trip_with_header_checks_and_size_limit() {
    let app = spawn_app().await;
    let plaintext: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let a = app.encrypt(&app.alice, &plaintext).await;
    let b = app.encrypt(&app.alice, b"other").await;
    let doc = a.document_id.to_string();
    let path = format!("/v1/documents/{doc}/content");

    assert_error(app.get_as(&app.alice, &path).await, 404, "no_content").await;
    // Owner only; the header must be this document's, for its key.
    assert_error(
        put(&app, &app.bob, &doc, a.bytes.clone())
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;
    assert_error(
        put(&app, &app.admin, &doc, a.bytes.clone())
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;
    assert_error(
        put(&app, &app.alice, &doc, b.bytes.clone())
            .send()
            .await
            .unwrap(),
        400,
        "document_mismatch",
    )
    .await;
    assert_error(
        put(&app, &app.alice, &doc, b"plaintext!".repeat(100))
            .send()
            .await
            .unwrap(),
        400,
        "invalid_header",
    )
    .await;
    assert_error(
        put(&app, &app.alice, &doc, a.bytes[..50].to_vec())
            .send()
            .await
            .unwrap(),
        400,
        "invalid_header",
    )
    .await;
    // Over max_content_bytes (1 MiB in tests), declared or streamed.
    let mut big = a.bytes.clone();
    big.resize((1 << 20) + 1, 0);
    assert_error(
        put(&app, &app.alice, &doc, big.clone())
            .send()
            .await
            .unwrap(),
        413,
        "content_too_large",
    )
    .await;
    let stream = futures_util::stream::iter(
        big.chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let resp = app
        .http
        .put(app.url(&path))
        .bearer_auth(&app.alice)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_error(resp, 413, "content_too_large").await;
    assert_eq!(
        count_log(&app, "upload", "refused", Some("content_too_large")).await,
        2
    );
    let leftovers = std::fs::read_dir(app.settings.content_dir())
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0, "refused uploads leave no file behind");

    let resp = put(&app, &app.alice, &doc, a.bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["size"], a.bytes.len());
    assert_eq!(v["document_id"], doc);
    let list: Value = app
        .get_as(&app.alice, "/v1/documents")
        .await
        .json()
        .await
        .unwrap();
    let entry = list["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["document_id"] == doc)
        .unwrap()
        .clone();
    assert_eq!(entry["has_content"], true);

    // Download: owner yes, bob no until granted, admin yes.
    let got = app.get_as(&app.alice, &path).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "application/octet-stream");
    assert_eq!(got.bytes().await.unwrap().as_ref(), a.bytes.as_slice());
    assert_error(app.get_as(&app.bob, &path).await, 403, "forbidden").await;
    app.post_as(
        &app.alice,
        &format!("/v1/documents/{doc}/grants"),
        &json!({"user": "bob"}),
    )
    .await;
    let got = app.get_as(&app.bob, &path).await.bytes().await.unwrap();
    assert_eq!(got.as_ref(), a.bytes.as_slice());
    assert_eq!(app.get_as(&app.admin, &path).await.status(), 200);
    // What bob downloaded decrypts with a key the server unwraps for him.
    assert_eq!(open_file(&app, &app.bob, &a).await, plaintext);
    assert_eq!(count_log(&app, "upload", "allowed", None).await, 1);
    assert_eq!(count_log(&app, "download", "allowed", None).await, 3);
    assert_eq!(
        count_log(&app, "download", "refused", Some("forbidden")).await,
        1
    );

    // A rewrap rewrites the stored header in place.
    let (h, _) = rewrapped(app.rewrap(&app.alice, &doc, a.header_bytes()).await).await;
    let stored = app
        .get_as(&app.alice, &path)
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    assert_eq!(&stored[..h.len()], h.as_slice());
    assert_eq!(&stored[h.len()..], &a.bytes[a.header_len..]);
    let a2 = a.with_header(&h);
    assert_eq!(open_file(&app, &app.alice, &a2).await, plaintext);
    // The old header's upload is refused now (its stanza names the old key).
    assert_error(
        put(&app, &app.alice, &doc, a.bytes.clone())
            .send()
            .await
            .unwrap(),
        400,
        "key_mismatch",
    )
    .await;
}

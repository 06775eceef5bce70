//! Every bad input is a 4xx JSON error with a code, never a 500.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pqfile_core::Stanza;
use pqfile_core::mlkem768::SecretKey;
use pqfile_keyserver::domain::rng;
use serde_json::json;

use crate::helpers::*;

fn eph_b64() -> String {
    STANDARD.encode(SecretKey::generate(&mut rng()).public_key().to_bytes())
}

#[tokio::test]
async fn malformed_unwrap_bodies_are_400_with_a_code() {
    let app = spawn_app().await;
    let file = app.encrypt(&app.alice, b"x").await;
    let doc = file.document_id.to_string();
    let stanza = STANDARD.encode(file.stanza().to_bytes());
    let cases = [
        (
            json!({"stanza": "%%%not base64", "ephemeral_public_key": eph_b64()}),
            "invalid_base64",
        ),
        (
            json!({"stanza": stanza, "ephemeral_public_key": "***"}),
            "invalid_base64",
        ),
        (
            json!({"stanza": STANDARD.encode([0u8, 1, 0]), "ephemeral_public_key": eph_b64()}),
            "invalid_stanza",
        ),
        (
            json!({"stanza": "", "ephemeral_public_key": eph_b64()}),
            "invalid_stanza",
        ),
        // A stanza with trailing bytes.
        (
            json!({"stanza": STANDARD.encode([file.stanza().to_bytes(), vec![0]].concat()), "ephemeral_public_key": eph_b64()}),
            "invalid_stanza",
        ),
        // An ML-KEM stanza whose body is one byte short.
        (
            json!({"stanza": STANDARD.encode(Stanza { body: file.stanza().body[1..].to_vec(), ..file.stanza().clone() }.to_bytes()), "ephemeral_public_key": eph_b64()}),
            "invalid_stanza",
        ),
        // A transport stanza (key id 0) is never a file stanza.
        (
            json!({"stanza": STANDARD.encode(Stanza { key_id: 0, ..file.stanza().clone() }.to_bytes()), "ephemeral_public_key": eph_b64()}),
            "invalid_stanza",
        ),
        (
            json!({"stanza": STANDARD.encode(Stanza { kem: pqfile_core::KemId::X_WING, ..file.stanza().clone() }.to_bytes()), "ephemeral_public_key": eph_b64()}),
            "unsupported_kem",
        ),
        (
            json!({"stanza": stanza, "ephemeral_public_key": STANDARD.encode([1u8; 1183])}),
            "invalid_public_key",
        ),
        (
            json!({"stanza": stanza, "ephemeral_public_key": STANDARD.encode([0xffu8; 1184])}),
            "invalid_public_key",
        ),
        (json!({"stanza": stanza}), "invalid_json"),
        (
            json!({"stanza": 5, "ephemeral_public_key": eph_b64()}),
            "invalid_json",
        ),
        (json!([]), "invalid_json"),
    ];
    for (body, code) in cases {
        let resp = app.unwrap_raw(&app.alice, &doc, &body).await;
        assert_error(resp, 400, code).await;
    }
    let resp = app
        .http
        .post(app.url(&format!("/v1/documents/{doc}/unwrap")))
        .bearer_auth(&app.alice)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "invalid_json").await;
    let resp = app
        .http
        .post(app.url(&format!("/v1/documents/{doc}/unwrap")))
        .bearer_auth(&app.alice)
        .header("content-type", "application/json")
        .body(vec![b' '; 100_000])
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "invalid_json").await;
}

#[tokio::test]
async fn bad_and_unknown_document_ids() {
    let app = spawn_app().await;
    let file = app.encrypt(&app.alice, b"x").await;
    let body = json!({"stanza": STANDARD.encode(file.stanza().to_bytes()), "ephemeral_public_key": eph_b64()});
    for bad in [
        "xyz",
        "00000000000000000000000000000000",
        "0123456789abcdef0123456789abcdeg",
        "0123456789abcdef0123456789abcdef00",
    ] {
        let resp = app.unwrap_raw(&app.alice, bad, &body).await;
        assert_error(resp, 400, "bad_document_id").await;
    }
    let unknown = "0123456789abcdef0123456789abcdef";
    let resp = app.unwrap_raw(&app.alice, unknown, &body).await;
    assert_error(resp, 404, "document_not_found").await;
    let logged: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM access_logs WHERE document_id = $1 AND outcome = 'refused'",
            &[&unknown],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(logged, 1);
    // Upper-case hex names the same document.
    let (resp, _) = app
        .unwrap(&app.alice, &file.document_id, file.stanza())
        .await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .unwrap_raw(
            &app.alice,
            &file.document_id.to_string().to_uppercase(),
            &body,
        )
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn keys_route_returns_the_key_and_rejects_bad_ids() {
    let app = spawn_app().await;
    let created: serde_json::Value = app.create_document(&app.alice).await.json().await.unwrap();
    let id = created["key"]["key_id"].as_i64().unwrap();
    let resp = app
        .http
        .get(app.url(&format!("/v1/keys/{id}")))
        .bearer_auth(&app.bob)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["key_id"], id);
    assert_eq!(v["algorithm"], "ML-KEM-768");
    assert_eq!(v["public_key"], created["key"]["public_key"]);
    assert_eq!(v["status"], "active");
    assert!(v["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(v["expires_at"].is_null());
    for (path, status, code) in [
        ("/v1/keys/0", 400, "invalid_key_id"),
        ("/v1/keys/-1", 400, "invalid_key_id"),
        ("/v1/keys/abc", 400, "invalid_key_id"),
        ("/v1/keys/99999999999", 400, "invalid_key_id"),
        ("/v1/keys/424242", 404, "key_not_found"),
        ("/v1/nope", 404, "not_found"),
    ] {
        let resp = app
            .http
            .get(app.url(path))
            .bearer_auth(&app.alice)
            .send()
            .await
            .unwrap();
        assert_error(resp, status, code).await;
    }
}

/// A pqfile-core error that reaches the API keeps the HTTP code and adds the
/// core's code as `detail`.
#[tokio::test]
async fn core_errors_keep_their_core_code_as_detail() {
    let app = spawn_app().await;
    let file = app.encrypt(&app.alice, b"x").await;
    let doc = file.document_id.to_string();
    for (header, detail) in [
        (b"not a header".to_vec(), "bad_magic"),
        (file.bytes[..100].to_vec(), "truncated_header"),
    ] {
        let v = assert_error(
            app.rewrap(&app.alice, &doc, &header).await,
            400,
            "invalid_header",
        )
        .await;
        assert_eq!(v["error"]["detail"], detail, "{v}");
    }
    let resp = app
        .http
        .put(app.url(&format!("/v1/documents/{doc}/content")))
        .bearer_auth(&app.alice)
        .body(b"plaintext!".repeat(100))
        .send()
        .await
        .unwrap();
    let v = assert_error(resp, 400, "invalid_header").await;
    assert_eq!(v["error"]["detail"], "bad_magic", "{v}");
    let body = json!({"stanza": STANDARD.encode([0u8, 1, 0]), "ephemeral_public_key": eph_b64()});
    let v = assert_error(
        app.unwrap_raw(&app.alice, &doc, &body).await,
        400,
        "invalid_stanza",
    )
    .await;
    assert_eq!(v["error"]["detail"], "truncated_header", "{v}");
    // Errors of the key server's own have no detail.
    let v = assert_error(
        app.rewrap(&app.bob, &doc, file.header_bytes()).await,
        403,
        "forbidden",
    )
    .await;
    assert!(v["error"].get("detail").is_none(), "{v}");
}

/// A NUL character cannot be in a PostgreSQL text value, so no user name
/// holds one: found by the schema-driven fuzzing (scripts/test.d/70-api-fuzz.sh),
/// these were 500 `internal_error`s (the database refused the query).
#[tokio::test]
async fn a_nul_in_a_user_name_is_a_4xx_never_a_500() {
    let app = spawn_app().await;
    let created: serde_json::Value = app.create_document(&app.alice).await.json().await.unwrap();
    let doc = created["document_id"].as_str().unwrap();
    let resp = app
        .http
        .post(app.url(&format!("/v1/documents/{doc}/grants")))
        .bearer_auth(&app.alice)
        .json(&json!({"user": "bob\u{0}"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "user_not_found").await;
    let resp = app
        .http
        .delete(app.url(&format!("/v1/documents/{doc}/grants/bob%00")))
        .bearer_auth(&app.alice)
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "user_not_found").await;
    let resp = app
        .http
        .get(app.url("/v1/admin/access-logs?user=bob%00"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "invalid_query").await;
}

/// A retention body that is not the JSON the route takes is refused; it was
/// read as no body at all, so `{"older_than_days": "3650"}` ran the server's
/// default (365 days) and deleted nine years of rows more than asked. Found
/// while documenting the route's answers for the schema-driven fuzzing.
#[tokio::test]
async fn a_malformed_retention_body_is_refused_not_defaulted() {
    let app = spawn_app().await;
    let path = "/v1/admin/access-logs/retention";
    for body in [
        r#"{"older_than_days": "3650"}"#,
        "{not json",
        "[]",
        r#"{"older_than_days": 1.5}"#,
    ] {
        let resp = app
            .http
            .post(app.url(path))
            .bearer_auth(&app.admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_error(resp, 400, "invalid_json").await;
    }
    // No body at all, or no field: the server's retention.
    for body in ["", "null", "{}", r#"{"older_than_days": null}"#] {
        let resp = app
            .http
            .post(app.url(path))
            .bearer_auth(&app.admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{body:?}");
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v["older_than_days"], 365, "{body:?}");
    }
}

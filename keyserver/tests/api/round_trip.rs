use pqfile_core::header;

use crate::helpers::*;

async fn round_trip(app: &TestApp) {
    let plaintext: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let file = app.encrypt(&app.alice, &plaintext).await;
    let (resp, eph) = app
        .unwrap(&app.alice, &file.document_id, file.stanza())
        .await;
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    let transport = v["transport_stanza"].as_str().unwrap();
    assert_eq!(decrypt_with_transport(&file, transport, &eph), plaintext);
    // The file key is never in the response in clear: only the ephemeral key opens it.
    let other = pqfile_core::mlkem768::SecretKey::generate(&mut pqfile_keyserver::domain::rng());
    let raw =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, transport).unwrap();
    let t = pqfile_core::Stanza::parse_exact(&raw).unwrap();
    assert!(pqfile_core::stanza::unwrap(&t, &file.document_id, &other).is_err());
    // And the key it yields verifies the header MAC.
    let fk = pqfile_core::stanza::unwrap(&t, &file.document_id, &eph).unwrap();
    assert!(header::verify_mac(&file.header, &fk));
}

#[tokio::test]
async fn unwrap_round_trip_with_the_local_kms() {
    let app = spawn_app().await;
    round_trip(&app).await;
}

#[tokio::test]
async fn unwrap_round_trip_with_aws_kms_on_moto() {
    let app = spawn_app_with(Options {
        kms: Kms::Moto,
        ..Default::default()
    })
    .await;
    round_trip(&app).await;
    // The rows name the KMS key that wraps them.
    let row = app
        .db
        .query_one(
            "SELECT kms_key_id, kms_key_arn FROM encryption_keys LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let id: String = row.get(0);
    let arn: Option<String> = row.get(1);
    assert_eq!(Some(&id), app.settings.kms_key_id.as_ref());
    assert!(arn.unwrap().starts_with("arn:aws:kms:"));
}

#[tokio::test]
async fn second_unwrap_is_served_from_the_key_cache() {
    let app = spawn_app_with(Options {
        pool_size: 1,
        ..Default::default()
    })
    .await;
    let a = app.encrypt(&app.alice, b"one").await;
    let b = app.encrypt(&app.alice, b"two").await;
    let (r1, e1) = app.unwrap(&app.alice, &a.document_id, a.stanza()).await;
    let (r2, e2) = app.unwrap(&app.alice, &b.document_id, b.stanza()).await;
    let v1: serde_json::Value = r1.json().await.unwrap();
    let v2: serde_json::Value = r2.json().await.unwrap();
    assert_eq!(
        decrypt_with_transport(&a, v1["transport_stanza"].as_str().unwrap(), &e1),
        b"one"
    );
    assert_eq!(
        decrypt_with_transport(&b, v2["transport_stanza"].as_str().unwrap(), &e2),
        b"two"
    );
    assert_eq!(app.state.metrics.key_cache_misses.get(), 1);
    assert_eq!(app.state.metrics.key_cache_hits.get(), 1);
}

#[tokio::test]
async fn admin_may_unwrap_any_document() {
    let app = spawn_app().await;
    let file = app.encrypt(&app.alice, b"for the admin too").await;
    let (resp, eph) = app
        .unwrap(&app.admin, &file.document_id, file.stanza())
        .await;
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        decrypt_with_transport(&file, v["transport_stanza"].as_str().unwrap(), &eph),
        b"for the admin too"
    );
}

#[tokio::test]
async fn an_unwrap_body_without_a_content_type_is_accepted() {
    let app = spawn_app().await;
    let file = app.encrypt(&app.alice, b"plain fetch").await;
    let eph = pqfile_core::mlkem768::SecretKey::generate(&mut pqfile_keyserver::domain::rng());
    let b64 = |b: Vec<u8>| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    let body = serde_json::json!({
        "stanza": b64(file.stanza().to_bytes()),
        "ephemeral_public_key": b64(eph.public_key().to_bytes()),
    });
    let resp = app
        .http
        .post(app.url(&format!("/v1/documents/{}/unwrap", file.document_id)))
        .bearer_auth(&app.alice)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        decrypt_with_transport(&file, v["transport_stanza"].as_str().unwrap(), &eph),
        b"plain fetch"
    );
}

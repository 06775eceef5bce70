//! Health, readiness, metrics, OpenAPI and the static web folder.

use crate::helpers::*;

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    let app = spawn_app().await;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready: serde_json::Value = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["active_keys"], 5);
    let file = app.encrypt(&app.alice, b"x").await;
    let (resp, _) = app
        .unwrap(&app.alice, &file.document_id, file.stanza())
        .await;
    assert_eq!(resp.status(), 200);
    let (resp, _) = app.unwrap(&app.bob, &file.document_id, file.stanza()).await;
    assert_eq!(resp.status(), 403);
    let metrics = metrics(&app).await;
    assert!(
        metrics.contains("pqfile_documents_created_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pqfile_unwraps_total{outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pqfile_unwraps_total{outcome=\"forbidden\"} 1"),
        "{metrics}"
    );
    let api: serde_json::Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/documents",
        "/v1/documents/{document_id}/unwrap",
        "/v1/keys/{key_id}",
    ] {
        assert!(
            api["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(api["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn readiness_fails_without_active_keys() {
    let app = spawn_app().await;
    app.db
        .execute("UPDATE encryption_keys SET status = 'revoked'", &[])
        .await
        .unwrap();
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_error(app.create_document(&app.alice).await, 503, "no_active_key").await;
}

#[tokio::test]
async fn the_web_folder_is_served_at_the_root() {
    let web = tempfile::tempdir().unwrap();
    std::fs::write(
        web.path().join("index.html"),
        "<!doctype html><title>pqfile</title>",
    )
    .unwrap();
    std::fs::write(web.path().join("app.js"), "console.log(1)").unwrap();
    let app = spawn_app_with(Options {
        web_dir: Some(web.path().to_path_buf()),
        ..Default::default()
    })
    .await;
    let index = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    // Issue 12: the page may run only its own code, and nobody may frame it.
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    for r in [
        &index,
        &app.http.get(app.url("/v1/documents")).send().await.unwrap(),
        &app.http.get(app.url("/healthz")).send().await.unwrap(),
    ] {
        assert_eq!(
            r.headers()["x-content-type-options"],
            "nosniff",
            "{}",
            r.url()
        );
        assert_eq!(r.headers()["referrer-policy"], "no-referrer", "{}", r.url());
        assert!(
            r.headers().contains_key("content-security-policy"),
            "{}",
            r.url()
        );
    }
    assert!(
        index
            .text()
            .await
            .unwrap()
            .contains("<title>pqfile</title>")
    );
    let js = app.http.get(app.url("/app.js")).send().await.unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(
        app.http
            .get(app.url("/missing.js"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn metrics_need_the_metrics_token_or_an_admin() {
    // Issue 12: /metrics was public on the API listener.
    let app = spawn_app_with(Options {
        settings: Some(Box::new(|s| {
            s.metrics_token = Some(pqfile_keyserver::configuration::Secret::new(
                "scrape-secret-1",
            ));
        })),
        ..Default::default()
    })
    .await;
    let get = |token: Option<&str>| {
        let mut r = app.http.get(app.url("/metrics"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_error(get(None).await.unwrap(), 401, "missing_token").await;
    assert_error(
        get(Some("scrape-secret-2")).await.unwrap(),
        401,
        "invalid_token",
    )
    .await;
    assert_error(get(Some(&app.alice)).await.unwrap(), 403, "admin_only").await;
    for token in ["scrape-secret-1", app.admin.as_str()] {
        let resp = get(Some(token)).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains("pqfile_pool_active_keys")
        );
    }
    // The secret never shows in the settings' debug form.
    assert!(!format!("{:?}", app.settings).contains("scrape-secret-1"));

    let open = spawn_app_with(Options {
        settings: Some(Box::new(|s| s.metrics_public = true)),
        ..Default::default()
    })
    .await;
    let resp = open.http.get(open.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "metrics_public serves anyone");
}

#[tokio::test]
async fn me_names_the_tokens_user() {
    // Issue 12: the page must be able to say who is signed in.
    let app = spawn_app().await;
    let me = |token: String| {
        let app = &app;
        async move {
            let resp = app.get_as(&token, "/v1/me").await;
            assert_eq!(resp.status(), 200);
            resp.json::<serde_json::Value>().await.unwrap()
        }
    };
    assert_eq!(
        me(app.alice.clone()).await,
        serde_json::json!({"id": app.alice_id, "name": "alice", "role": "user"})
    );
    assert_eq!(me(app.admin.clone()).await["role"], "admin");
    let resp = app.http.get(app.url("/v1/me")).send().await.unwrap();
    assert_error(resp, 401, "missing_token").await;
}

//! The access log: who, from where, with what, and fail-closed.

use crate::helpers::*;

#[tokio::test]
async fn access_rows_carry_user_ip_and_user_agent() {
    let app = spawn_app().await;
    let resp = app
        .http
        .post(app.url("/v1/documents"))
        .bearer_auth(&app.alice)
        .header("User-Agent", "pqfile-test/1.0 (encrypt)")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let v: serde_json::Value = resp.json().await.unwrap();
    let doc = v["document_id"].as_str().unwrap().to_owned();
    let file = app.encrypt(&app.alice, b"audited").await;
    let (resp, _) = app
        .unwrap(&app.alice, &file.document_id, file.stanza())
        .await;
    assert_eq!(resp.status(), 200);
    let rows = app
        .db
        .query(
            "SELECT document_id, access_type, user_id, host(ip_address), user_agent, key_id, outcome
             FROM access_logs ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let alice = app.alice_id.to_string();
    assert_eq!(rows[0].get::<_, String>(0), doc);
    assert_eq!(rows[0].get::<_, String>(1), "encrypt");
    assert_eq!(rows[0].get::<_, String>(2), alice);
    assert_eq!(rows[0].get::<_, String>(3), "127.0.0.1");
    assert_eq!(rows[0].get::<_, String>(4), "pqfile-test/1.0 (encrypt)");
    assert_eq!(
        rows[0].get::<_, i32>(5),
        v["key"]["key_id"].as_i64().unwrap() as i32
    );
    let last = &rows[2];
    assert_eq!(last.get::<_, String>(0), file.document_id.to_string());
    assert_eq!(last.get::<_, String>(1), "decrypt");
    assert_eq!(last.get::<_, String>(2), alice);
    assert_eq!(last.get::<_, String>(3), "127.0.0.1");
    assert_eq!(last.get::<_, i32>(5), file.key_id as i32);
    assert_eq!(last.get::<_, String>(6), "allowed");
}

const BREAK_AUDIT: &str = "
    CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN RAISE EXCEPTION 'audit log is down'; END $$;
    CREATE TRIGGER refuse_audit BEFORE INSERT ON access_logs FOR EACH ROW EXECUTE FUNCTION refuse_audit();";

#[tokio::test]
async fn no_audit_row_no_document() {
    let app = spawn_app().await;
    app.db.batch_execute(BREAK_AUDIT).await.unwrap();
    let resp = app.create_document(&app.alice).await;
    let body = assert_error(resp, 503, "database_unavailable").await;
    assert!(
        !body.to_string().contains("audit log is down"),
        "5xx bodies do not leak internals"
    );
    assert_eq!(app.count("SELECT count(*) FROM documents").await, 0);
    assert_eq!(
        app.total_usage().await,
        0,
        "the key's usage count was rolled back too"
    );
}

#[tokio::test]
async fn no_audit_row_no_file_key() {
    let app = spawn_app().await;
    let file = app.encrypt(&app.alice, b"x").await;
    app.db.batch_execute(BREAK_AUDIT).await.unwrap();
    let (resp, _) = app
        .unwrap(&app.alice, &file.document_id, file.stanza())
        .await;
    assert_error(resp, 503, "audit_unavailable").await;
    app.db
        .batch_execute("DROP TRIGGER refuse_audit ON access_logs")
        .await
        .unwrap();
    let (resp, _) = app
        .unwrap(&app.alice, &file.document_id, file.stanza())
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn owners_list_their_documents_and_read_their_history() {
    let app = spawn_app().await;
    let mine = app.encrypt(&app.alice, b"mine").await;
    let theirs = app.encrypt(&app.bob, b"theirs").await;
    let (resp, _) = app
        .unwrap(&app.alice, &mine.document_id, mine.stanza())
        .await;
    assert_eq!(resp.status(), 200);
    let (resp, _) = app.unwrap(&app.bob, &mine.document_id, mine.stanza()).await;
    assert_eq!(resp.status(), 403);

    let list: serde_json::Value = app
        .http
        .get(app.url("/v1/documents"))
        .bearer_auth(&app.alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let docs = list["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 1, "{list}");
    assert_eq!(docs[0]["document_id"], mine.document_id.to_string());
    assert_eq!(docs[0]["key_id"], mine.key_id);
    assert_eq!(docs[0]["owner"], "alice");
    let all: serde_json::Value = app
        .http
        .get(app.url("/v1/documents?all=true"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["documents"].as_array().unwrap().len(), 2);
    let own: serde_json::Value = app
        .http
        .get(app.url("/v1/documents"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(own["documents"].as_array().unwrap().len(), 0);
    // `all` means nothing for a plain user.
    let still_mine: serde_json::Value = app
        .http
        .get(app.url("/v1/documents?all=true"))
        .bearer_auth(&app.alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(still_mine["documents"].as_array().unwrap().len(), 1);

    let path = format!("/v1/documents/{}/access", mine.document_id);
    let history: serde_json::Value = app
        .http
        .get(app.url(&path))
        .bearer_auth(&app.alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = history["entries"].as_array().unwrap();
    let summary: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["access_type"].as_str().unwrap().to_owned(),
                e["user"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("decrypt".into(), "bob".into(), "refused".into()),
            ("decrypt".into(), "alice".into(), "allowed".into()),
            ("encrypt".into(), "alice".into(), "allowed".into()),
        ]
    );
    assert_eq!(entries[0]["reason"], "forbidden");
    assert_eq!(entries[0]["ip_address"], "127.0.0.1");
    let resp = app
        .http
        .get(app.url(&path))
        .bearer_auth(&app.bob)
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "forbidden").await;
    let resp = app
        .http
        .get(app.url(&format!("/v1/documents/{}/access", theirs.document_id)))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .http
        .get(app.url("/v1/documents?limit=lots"))
        .bearer_auth(&app.alice)
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "invalid_query").await;
    let resp = app
        .http
        .get(app.url("/v1/documents/nothex/access"))
        .bearer_auth(&app.alice)
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "bad_document_id").await;
    let resp = app
        .http
        .get(app.url("/v1/documents/0123456789abcdef0123456789abcdef/access"))
        .bearer_auth(&app.alice)
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "document_not_found").await;
}

/// The per-request statements share pipelined connections (src/pipeline.rs):
/// many concurrent requests, granted and refused, each get exactly their own
/// outcome and their own audit row.
#[tokio::test]
async fn concurrent_requests_get_their_own_answers_and_audit_rows() {
    let app = spawn_app().await;
    let file = app.encrypt(&app.alice, b"shared connections").await;
    let unknown = pqfile_core::DocumentId::parse("0123456789abcdef0123456789abcdef").unwrap();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (token, doc) = match i % 3 {
            0 => (&app.alice, &file.document_id),
            1 => (&app.bob, &file.document_id),
            _ => (&app.alice, &unknown),
        };
        tasks.push(app.unwrap(token, doc, file.stanza()));
    }
    let results = futures_util::future::join_all(tasks).await;
    for (i, (resp, eph)) in results.into_iter().enumerate() {
        match i % 3 {
            0 => {
                assert_eq!(resp.status(), 200, "request {i}");
                let v: serde_json::Value = resp.json().await.unwrap();
                let plain =
                    decrypt_with_transport(&file, v["transport_stanza"].as_str().unwrap(), &eph);
                assert_eq!(plain, b"shared connections");
            }
            1 => {
                assert_error(resp, 403, "forbidden").await;
            }
            _ => {
                assert_error(resp, 404, "document_not_found").await;
            }
        }
    }
    let allowed = "SELECT count(*) FROM access_logs
                   WHERE access_type = 'decrypt' AND outcome = 'allowed' AND reason IS NULL";
    assert_eq!(app.count(allowed).await, 20);
    assert_eq!(app.refusals("decrypt", "forbidden").await, 20);
    assert_eq!(app.refusals("decrypt", "document_not_found").await, 20);
}

/// PostgreSQL restarting or an operator killing sessions drops the shared
/// connections; the server reopens them instead of failing from then on.
#[tokio::test]
async fn server_reconnects_after_postgres_drops_its_connections() {
    let app = spawn_app().await;
    let file = app.encrypt(&app.alice, b"x").await;
    for _ in 0..4 {
        let (resp, _) = app
            .unwrap(&app.alice, &file.document_id, file.stanza())
            .await;
        assert_eq!(resp.status(), 200);
    }
    let killed = app
        .count(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE application_name = 'pqfile-keyserver' AND datname = current_database()) t",
        )
        .await;
    assert!(killed >= 1, "the server had connections open");
    // The connection tasks see the termination notice and end.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for i in 0..8 {
        let (resp, _) = app
            .unwrap(&app.alice, &file.document_id, file.stanza())
            .await;
        let status = resp.status();
        assert_eq!(
            status,
            200,
            "unwrap {i} after the connections were dropped: {}",
            resp.text().await.unwrap()
        );
        let resp = app.create_document(&app.alice).await;
        assert_eq!(
            resp.status(),
            201,
            "create {i} after the connections were dropped"
        );
    }
}

/// At ~4 000 audited requests/s a 32-bit id runs out in about six days, and
/// then every audited request fails closed. Past 2^31 rows the log must keep
/// accepting rows, and the admin listing must show them.
#[tokio::test]
async fn the_access_log_keeps_working_past_two_billion_rows() {
    let app = spawn_app().await;
    app.db
        .execute("SELECT setval('access_logs_id_seq', 2147483647)", &[])
        .await
        .unwrap();
    let resp = app
        .http
        .post(app.url("/v1/documents"))
        .bearer_auth(&app.alice)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let id: i64 = app
        .db
        .query_one("SELECT max(id)::bigint FROM access_logs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(id, 2_147_483_648);
    let resp = app
        .http
        .get(app.url("/v1/admin/access-logs?access_type=encrypt"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    let ids: Vec<i64> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&2_147_483_648), "{v}");
}

/// Registers a document as alice with `headers`; the audit row's address.
async fn registered_from(app: &TestApp, headers: &[(&str, &str)]) -> String {
    let mut req = app
        .http
        .post(app.url("/v1/documents"))
        .bearer_auth(&app.alice);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let v: serde_json::Value = resp.json().await.unwrap();
    app.db
        .query_one(
            "SELECT host(ip_address) FROM access_logs WHERE document_id = $1",
            &[&v["document_id"].as_str().unwrap()],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    // Issue 12: the audit row took the peer address, the request log
    // X-Forwarded-For from anyone. Now both take `client_address`.
    let spoofed = [
        ("X-Forwarded-For", "203.0.113.9"),
        ("Forwarded", "for=198.51.100.4"),
    ];
    // Nobody trusted: the header is ignored, the peer (this test) is logged.
    let app = spawn_app().await;
    assert_eq!(registered_from(&app, &spoofed).await, "127.0.0.1");
    // Our loopback peer is a trusted proxy: its Forwarded header names the
    // client (it wins over X-Forwarded-For).
    let proxied = spawn_app_with(Options {
        settings: Some(Box::new(|s| {
            s.trusted_proxies = "10.0.0.0/8, 127.0.0.1".into()
        })),
        ..Default::default()
    })
    .await;
    assert_eq!(registered_from(&proxied, &spoofed).await, "198.51.100.4");
    assert_eq!(
        registered_from(
            &proxied,
            &[("X-Forwarded-For", "6.6.6.6, 203.0.113.9, 10.2.3.4")]
        )
        .await,
        "203.0.113.9",
        "the hop nearest to us that is not a trusted proxy"
    );
    assert_eq!(registered_from(&proxied, &[]).await, "127.0.0.1");
}

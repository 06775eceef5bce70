//! Issue 11: the audit log is append-only for the server (its role may not
//! change or delete rows; retention runs as the owner and never below the
//! floor), and every refusal, every read of protected data and every admin
//! action leaves a row, fail-closed.

use serde_json::json;
use tokio_postgres::error::SqlState;

use crate::helpers::*;

/// A direct connection as the role the server runs as.
async fn as_server(app: &TestApp) -> tokio_postgres::Client {
    connect(&as_app_role(&app.database_url)).await
}

#[tokio::test]
async fn the_server_role_can_append_but_not_change_or_delete_audit_rows() {
    let app = spawn_app().await;
    app.encrypt(&app.alice, b"audited").await;
    let before = app.count("SELECT count(*) FROM access_logs").await;
    assert!(before > 0);
    let server = as_server(&app).await;
    for sql in [
        "UPDATE access_logs SET user_id = 'someone else'",
        "DELETE FROM access_logs",
        "TRUNCATE access_logs",
    ] {
        let err = server
            .batch_execute(sql)
            .await
            .expect_err(&format!("{sql} must be refused"));
        assert_eq!(
            err.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err}"
        );
    }
    // What the server does need still works.
    server
        .batch_execute("INSERT INTO access_logs (access_type, outcome) VALUES ('read', 'allowed')")
        .await
        .unwrap();
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs").await,
        before + 1,
        "nothing was changed or deleted"
    );
}

#[tokio::test]
async fn retention_below_the_floor_is_refused_and_deletes_nothing() {
    let app = spawn_app().await;
    for days in [400, 40, 10] {
        app.aged_audit_row(days).await;
    }
    let old = "SELECT count(*) FROM access_logs WHERE timestamp < now() - interval '1 day'";
    let path = "/v1/admin/access-logs/retention";
    for days in [0, 7, 29] {
        let resp = app
            .post_as(&app.admin, path, &json!({ "older_than_days": days }))
            .await;
        assert_error(resp, 400, "retention_below_floor").await;
        assert_eq!(
            app.count(old).await,
            3,
            "older_than_days {days} deleted rows"
        );
    }
    // At the floor, retention deletes (as the owner: the server's role could not).
    let v = app
        .admin_post(path, &json!({ "older_than_days": 30 }))
        .await;
    assert_eq!(v["deleted"], 2);
    assert_eq!(app.count(old).await, 1, "the 10-day-old row stays");
    // The refusals were audited too (by the /v1 middleware).
    assert_eq!(app.refusals("admin", "retention_below_floor").await, 3);
}

#[tokio::test]
async fn retention_is_fail_closed_and_never_deletes_rows_written_out_of_band() {
    // The background sealer stays quiet: this test makes its passes.
    let app = spawn_app_with(Options {
        settings: Some(Box::new(|s| s.audit_checkpoint_interval_ms = 3_600_000)),
        ..Default::default()
    })
    .await;
    app.aged_audit_row(400).await;
    // An old row written by hand (no seal): retention leaves it for someone
    // to look at, and verify keeps naming it.
    let forged = app.forged_audit_row(500).await;
    let path = "/v1/admin/access-logs/retention";
    let v = app
        .admin_post(path, &json!({ "older_than_days": 365 }))
        .await;
    assert_eq!(v["deleted"], 1);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM access_logs WHERE id = {forged}"
        ))
        .await,
        1
    );
    let v = app.admin_json("/v1/admin/audit/verify").await;
    assert_eq!(v["first_problem"]["kind"], "inserted_out_of_band", "{v}");
    assert_eq!(v["first_problem"]["log_id"], forged, "{v}");

    // A forged retention record (to hide a deletion) does not verify.
    app.encrypt(&app.alice, b"x").await;
    assert!(app.state.seal_audit_log().await.unwrap().is_some());
    let victim = app.count("SELECT max(log_id) FROM audit_chain").await;
    let position = app
        .count(&format!(
            "SELECT position FROM audit_chain WHERE log_id = {victim}"
        ))
        .await;
    app.db
        .batch_execute(&format!(
            "DELETE FROM access_logs WHERE id = {victim};
             INSERT INTO audit_retention (cut_position, chain, cutoff, older_than_days, rows_deleted, signing_key_id, signature)
             SELECT {position}, chain, now(), 0, 1, 1, decode(repeat('00', 64), 'hex')
             FROM audit_chain WHERE position = {position};"
        ))
        .await
        .unwrap();
    let v = app.admin_json("/v1/admin/audit/verify").await;
    let kinds: Vec<(&str, i64)> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["kind"].as_str().unwrap(), p["log_id"].as_i64().unwrap()))
        .collect();
    assert!(kinds.contains(&("bad_signature", victim)), "{v}");
    assert!(kinds.iter().any(|(k, _)| *k == "deleted"), "{v}");
}

/// Rows of `access_type` with `outcome` and `reason`.
async fn rows(app: &TestApp, access_type: &str, outcome: &str, reason: &str) -> i64 {
    app.db
        .query_one(
            "SELECT count(*) FROM access_logs WHERE access_type = $1 AND outcome = $2 AND reason = $3",
            &[&access_type, &outcome, &reason],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn unauthenticated_and_invalid_requests_and_reads_leave_a_row() {
    let app = spawn_app().await;
    let f = app.encrypt(&app.alice, b"read me").await;
    let doc = f.document_id.to_string();

    // 401s: no token, a wrong token; with the client's address and agent.
    let resp = app
        .http
        .get(app.url("/v1/documents"))
        .header("user-agent", "probe/1")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "missing_token").await;
    let resp = app
        .get_as(
            "pqf_0000000000000000000000000000000000000000000000000000000000000000",
            "/v1/documents",
        )
        .await;
    assert_error(resp, 401, "invalid_token").await;
    assert_eq!(rows(&app, "auth", "refused", "missing_token").await, 1);
    assert_eq!(rows(&app, "auth", "refused", "invalid_token").await, 1);
    let who = app
        .db
        .query_one(
            "SELECT user_id, host(ip_address), user_agent, seal IS NOT NULL FROM access_logs
             WHERE reason = 'missing_token'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        who.get::<_, Option<String>>(0),
        None,
        "nobody was authenticated"
    );
    assert_eq!(who.get::<_, String>(1), "127.0.0.1");
    assert_eq!(who.get::<_, String>(2), "probe/1");
    assert!(who.get::<_, bool>(3), "sealed like every row");

    // Bad input refused before any document was looked up.
    let resp = app
        .post_as(
            &app.alice,
            &format!("/v1/documents/{doc}/unwrap"),
            &json!({"stanza": "%%%", "ephemeral_public_key": "AAAA"}),
        )
        .await;
    assert_error(resp, 400, "invalid_base64").await;
    assert_eq!(rows(&app, "decrypt", "refused", "invalid_base64").await, 1);
    let alice_id = app.alice_id.to_string();
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM access_logs WHERE reason = 'invalid_base64'
             AND user_id = '{alice_id}' AND document_id = '{doc}'"
        ))
        .await,
        1
    );

    // Reads of protected data.
    for path in [
        "/v1/documents".to_owned(),
        format!("/v1/documents/{doc}/access"),
        format!("/v1/documents/{doc}/grants"),
    ] {
        let resp = app.get_as(&app.alice, &path).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(
            rows(&app, "read", "allowed", &format!("GET {path}")).await,
            1,
            "{path}"
        );
    }
    // A refusal a route already audited is not written twice.
    let resp = app
        .get_as(&app.bob, &format!("/v1/documents/{doc}/access"))
        .await;
    assert_error(resp, 403, "forbidden").await;
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs WHERE reason = 'forbidden'")
            .await,
        1
    );
}

#[tokio::test]
async fn operator_commands_are_audited_and_sealed() {
    let app = spawn_app().await;
    let run = |args: &[&str]| {
        app.operator(args, &[]);
    };
    run(&["user", "add", "carol", "--role", "admin"]);
    run(&["token", "create", "carol", "--label", "ci"]);
    for reason in [
        "operator: user add carol --role admin",
        "operator: token create carol --label ci --expires-in-days 90 (token %)",
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM access_logs WHERE access_type = 'admin' AND user_id IS NULL
                 AND reason LIKE '{reason}' AND length(seal) = 48"
            ))
            .await,
            1,
            "{reason}"
        );
    }
    app.state.seal_audit_log().await.unwrap();
    let v = app.admin_json("/v1/admin/audit/verify").await;
    assert_eq!(v["ok"], true, "{v}");
}

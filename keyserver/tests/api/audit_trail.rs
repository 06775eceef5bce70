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
        app.db
            .execute(
                "INSERT INTO access_logs (access_type, timestamp, user_id, outcome)
                 VALUES ('decrypt', now() - make_interval(days => $1), '1', 'allowed')",
                &[&days],
            )
            .await
            .unwrap();
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
}

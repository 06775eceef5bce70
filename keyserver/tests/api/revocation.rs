//! Issue 11: revocation takes effect at once. The unwrap's audit row, which
//! must be written before a file key is released, is written only while the
//! key still unwraps: the status is re-checked in the statement that
//! commits the unwrap, whatever a process looked up or cached before.

use pqfile_keyserver::store::access_logs::INSERT_IF_KEY_USABLE_SQL;

use crate::helpers::*;

#[tokio::test]
async fn the_unwrap_record_is_written_only_while_the_key_still_unwraps() {
    let app = spawn_app().await;
    let file = app.encrypt(&app.alice, b"x").await;
    let key = file.key_id as i32;
    // As the server's own role, with the server's own statement.
    let server = connect(&as_app_role(&app.database_url)).await;
    let record = |key: i32| {
        let server = &server;
        let doc = file.document_id.to_string();
        async move {
            server
                .execute(
                    INSERT_IF_KEY_USABLE_SQL,
                    &[
                        &doc,
                        &"decrypt",
                        &"1",
                        &None::<std::net::IpAddr>,
                        &None::<String>,
                        &key,
                        &"allowed",
                        &None::<String>,
                    ],
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(record(key).await, 1, "active");
    for (status, expires, written) in [
        ("rotation_queued", "now() + interval '1 day'", 1),
        ("rotation_queued", "now() - interval '1 second'", 0),
        ("expired", "NULL", 0),
        ("revoked", "NULL", 0),
        ("active", "NULL", 1),
    ] {
        app.db
            .batch_execute(&format!(
                "UPDATE encryption_keys SET status = '{status}', expires_at = {expires} WHERE id = {key}"
            ))
            .await
            .unwrap();
        assert_eq!(record(key).await, written, "{status}, expires {expires}");
    }
    assert_eq!(record(987_654).await, 0, "a key that does not exist");
}

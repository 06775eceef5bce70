//! TLS to PostgreSQL (issue 12, item 1), against the harness's cluster:
//! `ssl = on`, a CA made by the harness (scripts/lib/stack.sh,
//! STACK_PG_TLS=1) and `hostssl`-only access, so clear text is refused.

use crate::helpers::*;
use pqfile_keyserver::db::Target;

/// The harness's CA (`sslrootcert` of `PQFILE_TEST_PG_PARAMS`).
fn test_ca() -> String {
    let params = std::env::var("PQFILE_TEST_PG_PARAMS").expect("PQFILE_TEST_PG_PARAMS");
    params
        .split('&')
        .find_map(|p| p.strip_prefix("sslrootcert="))
        .expect("sslrootcert in PQFILE_TEST_PG_PARAMS")
        .to_owned()
}

/// `postgres://postgres@HOST:PORT/postgres?hostaddr=127.0.0.1&PARAMS`:
/// HOST is the name the certificate is checked against.
fn url(host: &str, params: &str) -> String {
    let port = pg_base()
        .rsplit_once(':')
        .expect("port in PQFILE_TEST_PG")
        .1
        .to_owned();
    format!("postgres://postgres@{host}:{port}/postgres?hostaddr=127.0.0.1&{params}")
}

/// Connects with `url` the way the server does; whether the session is
/// encrypted, or the error a user would read.
async fn session_uses_tls(url: &str) -> Result<bool, String> {
    let target = Target::parse(url).map_err(|e| e.to_string())?;
    let (client, conn) = target
        .connect()
        .await
        .map_err(|e| pqfile_keyserver::db::describe(&e))?;
    tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[tokio::test]
async fn verify_full_with_the_right_ca_and_host_connects_over_tls() {
    let ca = test_ca();
    for host in ["localhost", "127.0.0.1"] {
        let params = format!("sslmode=verify-full&sslrootcert={ca}");
        assert_eq!(
            session_uses_tls(&url(host, &params)).await,
            Ok(true),
            "{host}"
        );
    }
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_naming_the_root_file() {
    let other = std::env::var("PQFILE_TEST_PG_OTHER_CA").expect("PQFILE_TEST_PG_OTHER_CA");
    for mode in ["verify-full", "verify-ca", "require"] {
        let err = session_uses_tls(&url(
            "localhost",
            &format!("sslmode={mode}&sslrootcert={other}"),
        ))
        .await
        .expect_err(mode);
        assert!(
            err.contains(&format!("not signed by a CA in sslrootcert {other}")),
            "{mode}: {err}"
        );
    }
}

#[tokio::test]
async fn a_wrong_host_name_is_refused_by_verify_full_only() {
    let ca = test_ca();
    let wrong = url(
        "db.pqfile.invalid",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let err = session_uses_tls(&wrong).await.expect_err("wrong host name");
    assert!(
        err.contains("not valid for the host name db.pqfile.invalid"),
        "{err}"
    );
    // verify-ca checks the chain, not the name (libpq's meaning).
    let ca_only = url(
        "db.pqfile.invalid",
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    );
    assert_eq!(session_uses_tls(&ca_only).await, Ok(true));
}

#[tokio::test]
async fn require_and_prefer_encrypt_without_checking_the_certificate() {
    // No sslrootcert: libpq's require encrypts but trusts any certificate;
    // prefer (the default) takes TLS when the server offers it.
    assert_eq!(
        session_uses_tls(&url("localhost", "sslmode=require")).await,
        Ok(true)
    );
    assert_eq!(
        session_uses_tls(&url("localhost", "application_name=t")).await,
        Ok(true)
    );
}

#[tokio::test]
async fn verify_without_a_root_certificate_is_refused_before_connecting() {
    let err = session_uses_tls(&url("localhost", "sslmode=verify-full"))
        .await
        .expect_err("no sslrootcert");
    assert!(err.contains("add sslrootcert=FILE"), "{err}");
}

#[tokio::test]
async fn a_clear_text_connection_is_refused_by_the_server() {
    let err = session_uses_tls(&url("localhost", "sslmode=disable"))
        .await
        .expect_err("pg_hba.conf allows hostssl only");
    assert!(err.contains("no encryption"), "{err}");
}

#[tokio::test]
async fn the_key_server_does_not_start_on_an_unverified_database() {
    // What startup does first (db::migrate), so what an operator reads.
    let other = std::env::var("PQFILE_TEST_PG_OTHER_CA").unwrap();
    let err = pqfile_keyserver::db::migrate(&url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={other}"),
    ))
    .await
    .expect_err("wrong CA");
    let text = err.to_string();
    assert!(text.starts_with("cannot connect to PostgreSQL"), "{text}");
    assert!(text.contains("not signed by a CA in sslrootcert"), "{text}");
}

#[tokio::test]
async fn every_connection_the_server_makes_is_encrypted() {
    let app = spawn_app().await;
    // Pool, pipelined unwrap connections and the revocation listener.
    let file = app.encrypt(&app.alice, b"tls").await;
    let (resp, _) = app
        .unwrap(&app.alice, &file.document_id, file.stanza())
        .await;
    assert_eq!(resp.status(), 200);
    let row = app
        .db
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a \
             JOIN pg_stat_ssl s USING (pid) \
             WHERE a.application_name = 'pqfile-keyserver' AND a.datname = current_database()",
            &[],
        )
        .await
        .unwrap();
    let (encrypted, all): (i64, i64) = (row.get(0), row.get(1));
    assert!(all >= 2, "the server's connections are visible ({all})");
    assert_eq!(encrypted, all);
}

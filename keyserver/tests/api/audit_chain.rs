//! Issue 11: the audit log is tamper-evident. Rows are sealed by the server,
//! chained by the sealer and covered by signed checkpoints; `audit verify`
//! (the admin route and the command) names the first row that was altered,
//! deleted or inserted out of band, here done directly in SQL as the
//! database superuser.

use serde_json::{Value, json};

use crate::helpers::*;

/// An app whose background sealer does not run during the test (its
/// passes are made by [`seal`]), so counts of chained rows are exact.
async fn quiet_sealer() -> TestApp {
    spawn_app_with(Options {
        settings: Some(Box::new(|s| s.audit_checkpoint_interval_ms = 3_600_000)),
        ..Default::default()
    })
    .await
}

async fn verify(app: &TestApp) -> Value {
    app.admin_json("/v1/admin/audit/verify").await
}

async fn seal(app: &TestApp) {
    app.state
        .seal_audit_log()
        .await
        .expect("sealer pass")
        .expect("the sealer's lock was free");
}

/// Some audited traffic: registrations, unwraps, a refusal, a grant.
async fn traffic(app: &TestApp) -> EncryptedFile {
    let f = app.encrypt(&app.alice, b"audited").await;
    let (resp, _) = app.unwrap(&app.alice, &f.document_id, f.stanza()).await;
    assert_eq!(resp.status(), 200);
    let (resp, _) = app.unwrap(&app.bob, &f.document_id, f.stanza()).await;
    assert_eq!(resp.status(), 403);
    let resp = app
        .post_as(
            &app.alice,
            &format!("/v1/documents/{}/grants", f.document_id),
            &json!({"user": "bob"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    app.encrypt(&app.bob, b"more").await;
    f
}

/// The kinds of the problems a report lists.
fn kinds_of(v: &Value) -> Vec<&str> {
    v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect()
}

async fn ids(app: &TestApp) -> Vec<i64> {
    app.db
        .query("SELECT id FROM access_logs ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn every_row_is_sealed_chained_and_verifies() {
    let app = quiet_sealer().await;
    traffic(&app).await;
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs WHERE seal IS NULL OR length(seal) <> 48")
            .await,
        0,
        "every row the server wrote carries a seal"
    );
    seal(&app).await;
    let v = verify(&app).await;
    assert_eq!(v["ok"], true, "{v}");
    // The verify call itself is audited after it ran: everything before it
    // was chained.
    let chained = app.count("SELECT count(*) FROM audit_chain").await;
    assert_eq!(v["rows_chained"], chained, "{v}");
    assert!(chained >= 5, "{v}");
    assert!(v["checkpoints"].as_i64().unwrap() >= 1, "{v}");
    assert_eq!(v["first_problem"], Value::Null);
    // A second pass chains what came since (the verify's own audit row).
    seal(&app).await;
    let v = verify(&app).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["rows_chained"], chained + 1, "{v}");
}

#[tokio::test]
async fn verify_names_rows_altered_deleted_or_inserted_by_the_superuser() {
    let app = quiet_sealer().await;
    traffic(&app).await;
    seal(&app).await;
    let rows = ids(&app).await;
    // rows[2] is bob's refused unwrap: it is made to look allowed.
    let (altered, deleted) = (rows[2], rows[3]);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM access_logs WHERE id = {altered} AND outcome = 'refused'"
        ))
        .await,
        1
    );
    // Edits, a deletion and an insertion, as the superuser, in SQL.
    app.db
        .batch_execute(&format!(
            "UPDATE access_logs SET outcome = 'allowed', reason = NULL WHERE id = {altered};
             DELETE FROM access_logs WHERE id = {deleted};
             INSERT INTO access_logs (document_id, access_type, user_id, outcome)
                 VALUES ('0123456789abcdef0123456789abcdef', 'decrypt', '2', 'allowed');"
        ))
        .await
        .unwrap();
    let inserted = *ids(&app).await.last().unwrap();
    let v = verify(&app).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["first_problem"]["log_id"], altered, "{v}");
    assert_eq!(v["first_problem"]["kind"], "altered", "{v}");
    let problems: Vec<(String, i64)> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap().to_owned(),
                p["log_id"].as_i64().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("altered".to_owned(), altered),
        ("deleted".to_owned(), deleted),
        ("inserted_out_of_band".to_owned(), inserted),
    ] {
        assert!(problems.contains(&expected), "{expected:?} in {problems:?}");
    }
    // The sealer does not chain the forged row either, and says so.
    seal(&app).await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_chain WHERE log_id = {inserted}"
        ))
        .await,
        0
    );

    // The command says the same, with exit status 1.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pqfile-keyserver"))
        .args(["audit", "verify"])
        .env("PQFILE_DATABASE_URL", &app.database_url)
        .env("PQFILE_DATA_DIR", &app.settings.data_dir)
        .env("PQFILE_KMS", "local")
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("first: row {altered} Altered")),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_rewritten_chain_or_a_swapped_signing_key_does_not_verify() {
    let app = quiet_sealer().await;
    traffic(&app).await;
    seal(&app).await;
    let rows = ids(&app).await;
    let target = rows[2];
    // The superuser alters a row and recomputes its digest and every chain
    // value after it (they are plain SHA-256): only the signed checkpoint
    // still disagrees.
    app.db
        .batch_execute(&format!(
            "UPDATE access_logs SET user_id = 'someone else' WHERE id = {target}"
        ))
        .await
        .unwrap();
    let recompute = app
        .db
        .query(
            &format!(
                "SELECT c.position, {} FROM audit_chain c JOIN access_logs a ON a.id = c.log_id
                 ORDER BY c.position",
                pqfile_keyserver::audit_chain::rows::LOG_ROW_COLUMNS
            ),
            &[],
        )
        .await
        .unwrap();
    let mut chain = pqfile_keyserver::audit_chain::rows::GENESIS;
    for r in &recompute {
        let row = pqfile_keyserver::audit_chain::rows::LogRow::from_row(r, 1);
        let d = pqfile_keyserver::audit_chain::rows::digest(&row);
        chain = pqfile_keyserver::audit_chain::rows::chain_step(&chain, &d);
        let position: i64 = r.get(0);
        app.db
            .execute(
                "UPDATE audit_chain SET digest = $1, chain = $2 WHERE position = $3",
                &[&d.as_slice(), &chain.as_slice(), &position],
            )
            .await
            .unwrap();
    }
    let v = verify(&app).await;
    assert_eq!(v["ok"], false, "{v}");
    let kinds = kinds_of(&v);
    assert!(kinds.contains(&"chain_broken"), "{v}");

    // Replacing the public key (to re-sign with one's own) is caught: the
    // KMS-wrapped seed does not match it.
    app.db
        .batch_execute("UPDATE audit_signing_keys SET public_key = decode(repeat('ab', 32), 'hex')")
        .await
        .unwrap();
    let v = verify(&app).await;
    assert_eq!(v["ok"], false, "{v}");
    let kinds = kinds_of(&v);
    assert!(kinds.contains(&"signing_key_replaced"), "{v}");
    assert!(kinds.contains(&"bad_signature"), "{v}");
}

#[tokio::test]
async fn a_flood_of_forged_rows_does_not_hold_back_the_chain() {
    let app = quiet_sealer().await;
    // More forged rows than one pass chains, before a genuine one.
    app.db
        .batch_execute(
            "INSERT INTO access_logs (access_type, user_id, outcome)
             SELECT 'decrypt', '2', 'allowed' FROM generate_series(1, 25000)",
        )
        .await
        .unwrap();
    app.encrypt(&app.alice, b"genuine").await;
    let genuine = app.count("SELECT max(id) FROM access_logs").await;
    seal(&app).await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_chain WHERE log_id = {genuine}"
        ))
        .await,
        1,
        "the genuine row after the forged ones was chained in the same pass"
    );
    let v = verify(&app).await;
    assert_eq!(v["first_problem"]["kind"], "inserted_out_of_band", "{v}");
    assert_eq!(v["rows_chained"], 1, "{v}");
}

//! The KMS seam: outage behaviour, and that the database alone is useless.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pqfile_core::mlkem768::SecretKey;
use pqfile_keyserver::domain::KeyId;
use pqfile_keyserver::kms::local::LocalKms;
use pqfile_keyserver::kms::{KeyWrapper, Purpose, WrappedKey};

use crate::helpers::*;

#[tokio::test]
async fn kms_down_unwrap_is_503_while_document_creation_still_works() {
    let up = spawn_app_with(Options {
        kms: Kms::Moto,
        pool_size: 3,
        ..Default::default()
    })
    .await;
    let file = up.encrypt(&up.alice, b"needs the KMS").await;
    // A second server on the same database whose KMS endpoint is dead (nothing listens there).
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = spawn_app_with(Options {
        kms: Kms::Moto,
        pool_size: 3,
        database_url: Some(up.database_url.clone()),
        kms_key_id: up.settings.kms_key_id.clone(),
        kms_endpoint: Some(format!("http://127.0.0.1:{dead}")),
        bootstrap: false,
        ..Default::default()
    })
    .await;
    let resp = down.create_document(&up.alice).await;
    assert_eq!(resp.status(), 201, "public keys are still handed out");
    let (resp, _) = down
        .unwrap(&up.alice, &file.document_id, file.stanza())
        .await;
    assert_error(resp, 503, "kms_unavailable").await;
    assert_eq!(
        down.http
            .get(down.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The same request through the healthy server works: the outage was the only problem.
    let (resp, _) = up.unwrap(&up.alice, &file.document_id, file.stanza()).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_database_dump_alone_recovers_no_private_key() {
    let app = spawn_app().await;
    let file = app.encrypt(&app.alice, b"dump me").await;
    let rows = app
        .db
        .query(
            "SELECT id, public_key, private_key, kms_key_id FROM encryption_keys ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    // What a real dump contains.
    let dump = std::process::Command::new("pg_dump")
        .arg("--data-only")
        .arg(&app.database_url)
        .output()
        .expect("pg_dump");
    assert!(dump.status.success());
    let dump = String::from_utf8(dump.stdout).unwrap();
    let kms = LocalKms::open_or_create(&app.settings.kms_master_key_path()).unwrap();
    for row in &rows {
        let id = KeyId::from_db(row.get(0));
        let public: String = row.get(1);
        let private: String = row.get(2);
        let raw = STANDARD.decode(&private).unwrap();
        assert_ne!(raw.len(), 64, "private_key is not a bare seed");
        // No 64-byte window of the column is the seed of this key.
        for w in raw.windows(64) {
            let sk = SecretKey::from_seed(w).unwrap();
            assert_ne!(STANDARD.encode(sk.public_key().to_bytes()), public);
        }
        // With the KMS, the seed comes back — and it appears nowhere in the dump.
        let wrapped = WrappedKey {
            ciphertext: private.clone(),
            kms_key_id: row.get(3),
            kms_key_arn: None,
        };
        let seed = kms.unwrap(Purpose::PoolKey, id, &wrapped).await.unwrap();
        assert_eq!(
            STANDARD.encode(
                SecretKey::from_seed(seed.as_slice())
                    .unwrap()
                    .public_key()
                    .to_bytes()
            ),
            public
        );
        assert!(!dump.contains(&STANDARD.encode(seed.as_slice())));
        assert!(!dump.contains(&hex::encode(seed.as_slice())));
    }
    // The same database behind a server with another master key cannot
    // unwrap. (With no master key at all it does not even start: the drill,
    // scripts/test.d/45-drill.sh.)
    let elsewhere = tempfile::tempdir().unwrap();
    LocalKms::open_or_create(&elsewhere.path().join("kms-master.key")).unwrap();
    let other = spawn_app_with(Options {
        database_url: Some(app.database_url.clone()),
        data_dir: Some(elsewhere.path().to_path_buf()),
        bootstrap: false,
        ..Default::default()
    })
    .await;
    let (resp, _) = other
        .unwrap(&app.alice, &file.document_id, file.stanza())
        .await;
    assert_error(resp, 500, "internal_error").await;
    // While the server with the right master key can.
    let (resp, _) = app
        .unwrap(&app.alice, &file.document_id, file.stanza())
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn moto_rows_are_bound_to_their_key_id_by_the_encryption_context() {
    let app = spawn_app_with(Options {
        kms: Kms::Moto,
        pool_size: 2,
        ..Default::default()
    })
    .await;
    let row = app
        .db
        .query_one(
            "SELECT private_key, kms_key_id, kms_key_arn FROM encryption_keys WHERE id = 1",
            &[],
        )
        .await
        .unwrap();
    let wrapped = WrappedKey {
        ciphertext: row.get(0),
        kms_key_id: row.get(1),
        kms_key_arn: row.get(2),
    };
    assert!(
        app.state
            .kms
            .unwrap(Purpose::PoolKey, KeyId::new(1).unwrap(), &wrapped)
            .await
            .is_ok()
    );
    // Key 1's wrapped seed presented as key 2's: KMS refuses (EncryptionContext mismatch).
    assert!(
        app.state
            .kms
            .unwrap(Purpose::PoolKey, KeyId::new(2).unwrap(), &wrapped)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn unwrapped_keys_leave_the_cache_after_their_ttl_without_further_requests() {
    // Issue 12: the key cache evicts on a timer, not only when a key is
    // looked up again.
    let app = spawn_app_with(Options {
        settings: Some(Box::new(|s| s.key_cache_ttl_secs = 1)),
        ..Default::default()
    })
    .await;
    let f = app.encrypt(&app.alice, b"cached").await;
    let (resp, _) = app.unwrap(&app.alice, &f.document_id, f.stanza()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.state.cache.len(), 1, "the private key is cached");
    // TTL 1 s, eviction every second: gone within about 2 s; no request
    // touches the cache meanwhile.
    for _ in 0..60 {
        if app.state.cache.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the expired key is still in memory after 6 s");
}

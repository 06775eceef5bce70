//! CLI against the key server's lifecycle, sharing, storage and admin API
//! (issue 5). Compiled only with `--features online-tests`; the server is
//! started by scripts/test.d/50-cli.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![cfg(feature = "online-tests")]

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

mod common;
use common::{env, pqfile};

fn alice() -> String {
    env("PQFILE_TEST_TOKEN")
}
fn mallory() -> String {
    env("PQFILE_TEST_OTHER_TOKEN")
}
fn admin() -> String {
    env("PQFILE_TEST_ADMIN_TOKEN")
}

fn inspect(path: &Path) -> serde_json::Value {
    let out = Command::cargo_bin("pqfile")
        .unwrap()
        .arg("inspect")
        .arg("--json")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn json_out(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn encrypt_file(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    pqfile(&alice())
        .arg("encrypt")
        .arg("-q")
        .arg(&p)
        .assert()
        .success();
    dir.join(format!("{name}.pqf"))
}

#[test]
fn sharing_grants_and_withdraws_decryption() {
    let dir = tempfile::tempdir().unwrap();
    let f = encrypt_file(dir.path(), "shared.txt", b"for mallory's eyes, later");
    let out = dir.path().join("m.txt");
    pqfile(&mallory())
        .arg("decrypt")
        .arg(&f)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("403"));
    pqfile(&alice())
        .args(["share"])
        .arg(&f)
        .args(["--with", "mallory"])
        .assert()
        .success();
    let grants = json_out(pqfile(&alice()).arg("share").arg(&f).arg("--list"));
    assert!(grants.to_string().contains("mallory"), "{grants}");
    pqfile(&mallory())
        .arg("decrypt")
        .arg(&f)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read(&out).unwrap(), b"for mallory's eyes, later");
    // Only the owner shares.
    pqfile(&mallory())
        .arg("share")
        .arg(&f)
        .args(["--with", "alice"])
        .assert()
        .code(3);
    pqfile(&alice())
        .arg("share")
        .arg(&f)
        .args(["--revoke", "mallory"])
        .assert()
        .success();
    std::fs::remove_file(&out).unwrap();
    pqfile(&mallory())
        .arg("decrypt")
        .arg(&f)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("403"));
    assert!(!out.exists());
}

#[test]
fn revoked_key_blocks_decryption_until_an_admin_rewraps_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
    let f = encrypt_file(dir.path(), "big.bin", &data);
    let before = std::fs::read(&f).unwrap();
    let info = inspect(&f);
    let old_key = info["stanzas"][0]["key_id"].as_i64().unwrap();
    let header_len = info["header_len"].as_u64().unwrap() as usize;

    pqfile(&alice())
        .args(["admin", "revoke", &old_key.to_string()])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("admin"));
    let r = json_out(pqfile(&admin()).args(["admin", "revoke", &old_key.to_string()]));
    assert_eq!(r["status"], "revoked");

    let out = dir.path().join("out.bin");
    pqfile(&alice())
        .arg("decrypt")
        .arg(&f)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("key_revoked").and(predicate::str::contains("admin rewrap")),
        );
    // The owner may not rescue a revoked key's documents; an admin may.
    pqfile(&alice())
        .arg("rewrap")
        .arg(&f)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("key_revoked"));
    pqfile(&admin())
        .args(["admin", "rewrap"])
        .arg(&f)
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "(replacing key {old_key})"
        )));

    let after = std::fs::read(&f).unwrap();
    assert_eq!(
        after.len(),
        before.len(),
        "an ML-KEM stanza replaced by another keeps the size"
    );
    assert_eq!(
        after[header_len..],
        before[header_len..],
        "the payload is untouched"
    );
    let new_key = inspect(&f)["stanzas"][0]["key_id"].as_i64().unwrap();
    assert_ne!(new_key, old_key);
    pqfile(&alice())
        .arg("decrypt")
        .arg(&f)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read(&out).unwrap(), data);
}

#[test]
fn owner_rewraps_to_a_current_key_and_the_file_still_decrypts() {
    let dir = tempfile::tempdir().unwrap();
    let f = encrypt_file(dir.path(), "r.txt", b"rotate me");
    pqfile(&alice()).arg("rewrap").arg(&f).assert().success();
    let out = dir.path().join("o.txt");
    pqfile(&alice())
        .arg("decrypt")
        .arg(&f)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read(&out).unwrap(), b"rotate me");
    // A tampered header is refused by the server (it verifies the MAC).
    let mut bytes = std::fs::read(&f).unwrap();
    bytes[100] ^= 1; // inside the stanza's KEM ciphertext (it starts at byte 32)
    let g = dir.path().join("tampered.pqf");
    std::fs::write(&g, &bytes).unwrap();
    pqfile(&alice())
        .arg("rewrap")
        .arg(&g)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("decryption_failed"));
    assert_eq!(
        std::fs::read(&g).unwrap(),
        bytes,
        "a refused rewrap leaves the file as it was"
    );
}

#[test]
fn stored_ciphertext_is_shared_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let f = encrypt_file(
        dir.path(),
        "up.txt",
        b"stored on the server, still encrypted",
    );
    pqfile(&alice()).arg("upload").arg(&f).assert().success();
    let id = inspect(&f)["document_id"].as_str().unwrap().to_string();
    let dl = dir.path().join("dl.pqf");
    pqfile(&mallory())
        .args(["download", &id, "-o"])
        .arg(&dl)
        .assert()
        .code(3);
    assert!(!dl.exists());
    pqfile(&alice())
        .args(["share", &id, "--with", "mallory"])
        .assert()
        .success();
    pqfile(&mallory())
        .args(["download", &id, "-o"])
        .arg(&dl)
        .assert()
        .success();
    assert_eq!(std::fs::read(&dl).unwrap(), std::fs::read(&f).unwrap());
    let out = dir.path().join("plain.txt");
    pqfile(&mallory())
        .arg("decrypt")
        .arg(&dl)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"stored on the server, still encrypted"
    );
    let docs = json_out(pqfile(&alice()).arg("documents"));
    assert!(docs.to_string().contains(&id));
    let hist = json_out(pqfile(&alice()).args(["history", &id])).to_string();
    for t in ["encrypt", "upload", "download", "decrypt"] {
        assert!(hist.contains(t), "history lacks {t}: {hist}");
    }
}

#[test]
fn admin_monitoring_answers_and_is_admin_only() {
    pqfile(&alice())
        .args(["admin", "stats"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("403"));
    let stats = json_out(pqfile(&admin()).args(["admin", "stats"]));
    assert!(stats["active_keys"].as_i64().unwrap() >= 1, "{stats}");
    assert!(
        stats["database_size_bytes"].as_i64().unwrap() > 0,
        "{stats}"
    );
    let keys = json_out(pqfile(&admin()).args(["admin", "keys", "--status", "active"]));
    assert!(!keys["keys"].as_array().unwrap().is_empty());
    let logs =
        json_out(pqfile(&admin()).args(["admin", "logs", "--type", "encrypt", "--per-page", "2"]));
    assert!(logs["entries"].as_array().unwrap().len() <= 2);
    assert!(logs["total"].as_i64().unwrap() >= 1);
    json_out(pqfile(&admin()).args(["admin", "maintenance"]));
    json_out(pqfile(&admin()).args(["admin", "rotations"]));
}

//! End-to-end CLI tests against a real key server (with real PostgreSQL and
//! KMS behind it). Compiled only with `--features online-tests`;
//! scripts/test.d/50-cli.sh starts the server and sets the variables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![cfg(feature = "online-tests")]

use predicates::prelude::*;

mod common;
use common::{env, pqfile};

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 % 251) as u8).collect()
}

#[test]
fn files_of_several_sizes_round_trip() {
    let token = env("PQFILE_TEST_TOKEN");
    let dir = tempfile::tempdir().unwrap();
    for len in [0usize, 1, 16384, (1 << 20) + 7] {
        let input = dir.path().join(format!("f{len}.bin"));
        std::fs::write(&input, data(len)).unwrap();
        pqfile(&token)
            .arg("encrypt")
            .arg(&input)
            .assert()
            .success()
            .stderr(predicate::str::contains("encrypted to"));
        let enc = dir.path().join(format!("f{len}.bin.pqf"));
        let ct = std::fs::read(&enc).unwrap();
        assert_eq!(&ct[..4], b"PQF\0");
        assert!(ct.len() > len + 1200, "header + payload expected");
        let out = dir.path().join(format!("f{len}.out"));
        pqfile(&token)
            .arg("decrypt")
            .arg(&enc)
            .arg("-o")
            .arg(&out)
            .assert()
            .success();
        assert_eq!(std::fs::read(&out).unwrap(), data(len), "size {len}");
    }
}

#[test]
fn pipes_work_in_both_directions() {
    let token = env("PQFILE_TEST_TOKEN");
    let plain = data(100_000);
    let enc = pqfile(&token)
        .arg("encrypt")
        .write_stdin(plain.clone())
        .output()
        .unwrap();
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    let dec = pqfile(&token)
        .args(["decrypt", "-"])
        .write_stdin(enc.stdout)
        .output()
        .unwrap();
    assert!(
        dec.status.success(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    assert_eq!(dec.stdout, plain);
}

#[test]
fn tampered_file_fails_opaquely_and_leaves_nothing() {
    let token = env("PQFILE_TEST_TOKEN");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("doc.txt");
    std::fs::write(&input, data(50_000)).unwrap();
    pqfile(&token).arg("encrypt").arg(&input).assert().success();
    let enc = dir.path().join("doc.txt.pqf");
    let mut ct = std::fs::read(&enc).unwrap();
    let n = ct.len();
    ct[n - 100] ^= 1;
    std::fs::write(&enc, &ct).unwrap();
    std::fs::remove_file(&input).unwrap();
    pqfile(&token)
        .arg("decrypt")
        .arg(&enc)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("[decryption_failed]"));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("doc.txt.pqf")],
        "no partial plaintext may remain"
    );
}

#[test]
fn another_user_cannot_decrypt_and_bad_tokens_are_refused() {
    let token = env("PQFILE_TEST_TOKEN");
    let other = env("PQFILE_TEST_OTHER_TOKEN");
    let enc = pqfile(&token)
        .arg("encrypt")
        .write_stdin(b"secret".to_vec())
        .output()
        .unwrap();
    assert!(enc.status.success());
    pqfile(&other)
        .args(["decrypt", "-"])
        .write_stdin(enc.stdout.clone())
        .assert()
        .code(3)
        .stdout(predicate::str::is_empty())
        .stderr(
            predicate::str::contains("HTTP 403").and(predicate::str::contains("ask its owner")),
        );
    pqfile("not-a-real-token")
        .args(["decrypt", "-"])
        .write_stdin(enc.stdout)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("HTTP 401"));
}

//! End-to-end CLI tests against a real key server (with real PostgreSQL and
//! KMS behind it). Compiled only with `--features online-tests`;
//! scripts/test.d/50-cli.sh starts the server and sets the variables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![cfg(feature = "online-tests")]

use std::path::PathBuf;

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

/// The key server's HTTP API, for what the CLI does not expose.
fn api(token: &str, method: &str, path: &str) -> serde_json::Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}{path}", env("PQFILE_TEST_SERVER"));
    let auth = format!("Bearer {token}");
    let mut resp = match method {
        "POST" => agent
            .post(&url)
            .header("Authorization", &auth)
            .send_json(serde_json::json!({})),
        _ => agent.get(&url).header("Authorization", &auth).call(),
    }
    .unwrap();
    assert!(
        resp.status().is_success(),
        "{method} {path}: {}",
        resp.status()
    );
    resp.body_mut().read_json().unwrap()
}

/// A new document of the `token` user, encrypted (with pqfile-core) to two
/// stanzas: first one for a key id the server does not have, then the
/// document's own key. Returns the file and the document id.
fn two_stanza_file(token: &str, dir: &std::path::Path, plain: &[u8]) -> (PathBuf, String) {
    use base64::Engine;
    use pqfile_core::{DocumentId, Encryptor, Recipient, mlkem768};
    let rng = &mut rand_core::UnwrapErr(getrandom::SysRng);
    let doc = api(token, "POST", "/v1/documents");
    let id = doc["document_id"].as_str().unwrap().to_string();
    let pk = base64::engine::general_purpose::STANDARD
        .decode(doc["key"]["public_key"].as_str().unwrap())
        .unwrap();
    let unknown = Recipient {
        key_id: 2_000_000_000,
        public_key: mlkem768::SecretKey::generate(rng).public_key(),
    };
    let own = Recipient {
        key_id: doc["key"]["key_id"].as_u64().unwrap() as u32,
        public_key: mlkem768::PublicKey::from_bytes(&pk).unwrap(),
    };
    let document_id = DocumentId::parse(&id).unwrap();
    let mut e = Encryptor::with_document_id(document_id, &[unknown, own], rng).unwrap();
    let mut file = Vec::new();
    e.push(plain, &mut file).unwrap();
    e.finish(&mut file).unwrap();
    let path = dir.join(format!("{id}.pqf"));
    std::fs::write(&path, file).unwrap();
    (path, id)
}

/// The refused unwraps in a document's access history, as their codes.
fn refusals(token: &str, id: &str) -> Vec<String> {
    let history = api(token, "GET", &format!("/v1/documents/{id}/access"));
    history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "refused")
        .map(|e| e["reason"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_stanza_refused_for_its_key_is_skipped_for_the_next_one() {
    // FORMAT.md §7.1: key_not_found concerns that stanza, so the CLI asks
    // about the next stanza, which the server unwraps.
    let token = env("PQFILE_TEST_TOKEN");
    let dir = tempfile::tempdir().unwrap();
    let plain = data(40_000);
    let (file, id) = two_stanza_file(&token, dir.path(), &plain);
    let out = dir.path().join("out.bin");
    pqfile(&token)
        .arg("decrypt")
        .arg(&file)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read(&out).unwrap(), plain);
    assert_eq!(refusals(&token, &id), ["key_not_found"]);
}

#[test]
fn a_refusal_of_the_caller_stops_after_one_request() {
    // FORMAT.md §7.1: 403 forbidden concerns the caller, not the stanza:
    // the CLI reports it without asking about the second stanza.
    let token = env("PQFILE_TEST_TOKEN");
    let other = env("PQFILE_TEST_OTHER_TOKEN");
    let dir = tempfile::tempdir().unwrap();
    let (file, id) = two_stanza_file(&token, dir.path(), b"not for mallory");
    pqfile(&other)
        .arg("decrypt")
        .arg(&file)
        .arg("-o")
        .arg(dir.path().join("out.bin"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("HTTP 403").and(predicate::str::contains("[forbidden]")));
    assert_eq!(refusals(&token, &id), ["forbidden"]);
}

//! CLI behaviour that needs no key server: inspection, and every error path
//! that must be caught before a request is made.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::PathBuf;

fn vector(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/vectors")
        .join(format!("{name}.pqf"))
}

fn pqfile() -> Command {
    let mut c = Command::cargo_bin("pqfile").unwrap();
    c.env_remove("PQFILE_TOKEN")
        .env_remove("PQFILE_SERVER")
        .env_remove("PQFILE_TOKEN_FILE");
    c
}

#[test]
fn inspect_shows_document_and_recipients() {
    pqfile()
        .args(["inspect"])
        .arg(vector("two_stanzas"))
        .assert()
        .success()
        .stdout(predicate::str::contains("recipient: ML-KEM-768 key 1"))
        .stdout(predicate::str::contains("recipient: ML-KEM-768 key 2"));
    let out = pqfile()
        .args(["inspect", "--json"])
        .arg(vector("unknown_kem_stanza_skipped"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stanzas"][0]["kem"], "X-Wing");
    assert_eq!(v["stanzas"][1]["key_id"], 1);
    assert_eq!(v["document_id"].as_str().unwrap().len(), 32);
}

#[test]
fn inspect_reads_stdin_and_reports_bad_files_with_codes() {
    let file = std::fs::read(vector("empty")).unwrap();
    pqfile()
        .args(["inspect", "-"])
        .write_stdin(file)
        .assert()
        .success()
        .stdout(predicate::str::contains("document id:"));
    pqfile()
        .arg("inspect")
        .arg(vector("bad_magic"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("[bad_magic]")
                .and(predicate::str::contains("hint: this is not a .pqf file")),
        );
    pqfile()
        .arg("inspect")
        .arg(vector("truncated_header"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("[truncated_header]"));
    pqfile()
        .arg("inspect")
        .arg(vector("unsupported_version"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("version 2"));
}

#[test]
fn missing_token_is_reported_before_any_work() {
    pqfile()
        .arg("decrypt")
        .arg(vector("empty"))
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("[no_token]").and(predicate::str::contains("PQFILE_TOKEN")),
        );
}

#[test]
fn unreachable_server_is_a_clear_error_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, b"hello").unwrap();
    pqfile()
        .env("PQFILE_SERVER", "http://127.0.0.1:9")
        .env("PQFILE_TOKEN", "t")
        .arg("encrypt")
        .arg(&input)
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("[server_unreachable]").and(predicate::str::contains("hint:")),
        );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("in.txt")],
        "no partial output may remain"
    );
}

#[test]
fn existing_output_is_not_overwritten_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("a");
    std::fs::write(&input, b"x").unwrap();
    std::fs::write(dir.path().join("a.pqf"), b"keep me").unwrap();
    pqfile()
        .env("PQFILE_SERVER", "http://127.0.0.1:9")
        .env("PQFILE_TOKEN", "t")
        .arg("encrypt")
        .arg(&input)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("[output_exists]").and(predicate::str::contains("--force")),
        );
    assert_eq!(std::fs::read(dir.path().join("a.pqf")).unwrap(), b"keep me");
}

#[test]
fn missing_input_file_names_the_file() {
    pqfile()
        .env("PQFILE_TOKEN", "t")
        .args(["encrypt", "/nonexistent/file"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("/nonexistent/file"));
}

/// A key server of a later version may hand out keys of a KEM this CLI cannot
/// encrypt to. The real key server cannot be made to do that today, so a
/// one-request stand-in answers `POST /v1/documents`.
#[test]
fn a_key_of_an_unknown_algorithm_is_refused_with_the_packages_code() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        // Read the whole request, body included: closing a socket with
        // unread bytes makes the kernel answer with a reset, which the CLI
        // would rightly report as an unreachable server.
        let head_end = loop {
            if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "request ended inside its head");
            req.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&req[..head_end]).to_ascii_lowercase();
        let body_len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        while req.len() < head_end + body_len {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "request ended inside its body");
            req.extend_from_slice(&buf[..n]);
        }
        let body = r#"{"document_id":"0123456789abcdef0123456789abcdef","key":{"key_id":7,"algorithm":"X-Wing","public_key":"AAAA"}}"#;
        write!(
            conn,
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8_lossy(&req).into_owned()
    });
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, b"hello").unwrap();
    pqfile()
        .env("PQFILE_SERVER", &url)
        .env("PQFILE_TOKEN", "t")
        .arg("encrypt")
        .arg(&input)
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("[unsupported_algorithm]")
                .and(predicate::str::contains("X-Wing")),
        );
    assert!(server.join().unwrap().starts_with("POST /v1/documents "));
    assert!(
        !dir.path().join("in.txt.pqf").exists(),
        "no output may remain"
    );
}

//! A file whose key is being retired (`rotation_queued`, issue 11): `pqfile
//! decrypt` moves the input file to a current key, and every copy keeps
//! decrypting. Compiled only with `--features online-tests`; the server and
//! the database are the ones scripts/test.d/50-cli.sh started.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![cfg(feature = "online-tests")]

use std::path::Path;

use assert_cmd::Command;

mod common;
use common::{env, pqfile};

fn alice() -> String {
    env("PQFILE_TEST_TOKEN")
}

/// Runs SQL on the key server's database as its owner.
fn psql(sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args(["-qtAX", "-v", "ON_ERROR_STOP=1"])
        .arg(env("PQFILE_TEST_DATABASE_URL"))
        .args(["-c", sql])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn inspect(path: &Path) -> serde_json::Value {
    let out = Command::cargo_bin("pqfile")
        .unwrap()
        .args(["inspect", "--json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn key_of(path: &Path) -> i64 {
    inspect(path)["stanzas"][0]["key_id"].as_i64().unwrap()
}

/// Makes `key` older than the rotation age and lets the server's own
/// maintenance queue it for rotation, as it would after 30 days.
fn retire(key: i64) {
    psql(&format!(
        "UPDATE encryption_keys SET created_at = created_at - interval '31 days' WHERE id = {key} AND status = 'active'"
    ));
    pqfile(&env("PQFILE_TEST_ADMIN_TOKEN"))
        .args(["admin", "maintenance"])
        .assert()
        .success();
    assert_eq!(
        psql(&format!(
            "SELECT status FROM encryption_keys WHERE id = {key}"
        )),
        "rotation_queued"
    );
}

fn decrypt(file: &Path, out: &Path, extra: &[&str]) -> String {
    let o = pqfile(&alice())
        .arg("decrypt")
        .arg(file)
        .arg("-o")
        .arg(out)
        .arg("--force")
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    stderr
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn decrypting_through_a_retiring_key_rewraps_the_file_and_every_copy_still_decrypts() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    let plain = dir.path().join("report.bin");
    std::fs::write(&plain, &data).unwrap();
    pqfile(&alice())
        .args(["encrypt", "-q"])
        .arg(&plain)
        .assert()
        .success();
    std::fs::remove_file(&plain).unwrap();
    let file = dir.path().join("report.bin.pqf");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let before = std::fs::read(&file).unwrap();
    let old_copy = dir.path().join("old-copy.pqf");
    std::fs::write(&old_copy, &before).unwrap();
    let old_key = key_of(&file);
    retire(old_key);

    let out = dir.path().join("out.bin");
    let said = decrypt(&file, &out, &[]);
    assert_eq!(std::fs::read(&out).unwrap(), data);
    let new_key = key_of(&file);
    assert_ne!(new_key, old_key, "{said}");
    assert!(
        said.contains(&format!(
            "the key of {} is being retired; its header was rewrapped to key {new_key}",
            file.display()
        )),
        "{said}"
    );
    let after = std::fs::read(&file).unwrap();
    assert_eq!(after.len(), before.len(), "one stanza replaced by another");
    let header_len = inspect(&file)["header_len"].as_u64().unwrap() as usize;
    assert_eq!(
        after[header_len..],
        before[header_len..],
        "payload untouched"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640, "the file keeps its permissions");
    }

    // The rewrapped file decrypts, through an active key: nothing more to do.
    let said = decrypt(&file, &out, &[]);
    assert_eq!(std::fs::read(&out).unwrap(), data);
    assert!(!said.contains("retired"), "{said}");

    // The copy saved before still decrypts; --no-rewrap leaves it untouched.
    let said = decrypt(&old_copy, &out, &["--no-rewrap"]);
    assert_eq!(std::fs::read(&out).unwrap(), data);
    assert!(
        said.contains("is being retired") && said.contains("--no-rewrap"),
        "{said}"
    );
    assert_eq!(std::fs::read(&old_copy).unwrap(), before);

    // Standard input cannot be rewritten: the CLI says how to rewrap.
    let o = pqfile(&alice())
        .args(["decrypt", "-"])
        .write_stdin(before.clone())
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(o.stdout, data);
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("standard input") && said.contains("pqfile rewrap FILE"),
        "{said}"
    );

    assert_eq!(
        names(dir.path()),
        ["old-copy.pqf", "out.bin", "report.bin.pqf"],
        "no temporary file is left"
    );
}

//! Shared by the online test files: the server and tokens that
//! scripts/test.d/50-cli.sh started and created.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use assert_cmd::Command;

pub fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} must be set (scripts/test.d/50-cli.sh sets it)"))
}

/// `pqfile` pointed at the test server with `token`.
pub fn pqfile(token: &str) -> Command {
    let mut c = Command::cargo_bin("pqfile").unwrap();
    c.env("PQFILE_SERVER", env("PQFILE_TEST_SERVER"))
        .env("PQFILE_TOKEN", token)
        .env_remove("PQFILE_TOKEN_FILE");
    c
}

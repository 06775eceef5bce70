//! Key-lifecycle benchmark (issue 5), run by `scripts/bench-lifecycle.sh`:
//!
//! 1. Rewrap of a 1 GiB file's header through the API (and writing the new
//!    header into the file in place) against decrypt + re-encrypt of the same
//!    file with pqfile-core.
//! 2. Rotation of a 100-key pool with 10,000 registered documents: the
//!    rotation check, then moving every document off its old key by rewrap
//!    until every rotation completes; wall time and SQL statements
//!    (pg_stat_statements) for each phase.
//!
//! Needs `PQFILE_BENCH_PG` (`postgres://user@host:port`, no database) on a
//! cluster with `pg_stat_statements` preloaded. Sizes: `BENCH_FILE_MIB`
//! (1024), `BENCH_KEYS` (100), `BENCH_DOCS` (10000), `BENCH_CONCURRENCY` (8).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pqfile_core::format::{Header, Stanza};
use pqfile_core::mlkem768::{PublicKey, SecretKey};
use pqfile_core::stanza::FileKey;
use pqfile_core::{Decryptor, DocumentId, Encryptor, Recipient};
use pqfile_keyserver::accounts;
use pqfile_keyserver::configuration::{KmsKind, Settings};
use pqfile_keyserver::domain::{Role, rng};
use pqfile_keyserver::startup::Application;
use serde_json::{Value, json};

/// The two parts, in `bench_lifecycle/`.
#[path = "bench_lifecycle/file_rewrap.rs"]
mod file_rewrap;
#[path = "bench_lifecycle/rotation.rs"]
mod rotation;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (c, conn) = pqfile_keyserver::db::Target::parse(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    tokio::spawn(conn);
    c
}

struct Server {
    base: String,
    db: tokio_postgres::Client,
    token: String,
    admin: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start(pg: &str, pool_size: u32) -> Server {
    let name = format!("pqfile_bench_{}", DocumentId::generate(&mut rng()));
    connect(&format!("{pg}/postgres"))
        .await
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = format!("{pg}/{name}");
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        database_url: url.clone(),
        owner_database_url: None,
        db_pool_max: 16,
        db_pipelined: 2,
        bind: "127.0.0.1:0".into(),
        web_dir: PathBuf::from("/nonexistent"),
        data_dir: dir.path().to_path_buf(),
        kms_master_key: None,
        kms: KmsKind::Local,
        kms_key_id: None,
        kms_region: "us-east-1".into(),
        kms_endpoint: None,
        pool_size,
        pool_refill_interval_secs: 3600,
        key_cache_size: 1024,
        key_cache_ttl_secs: 3600,
        workers: 2,
        log_format: "pretty".into(),
        rotation_age_days: 30,
        maintenance_interval_secs: 3600,
        access_log_retention_days: 365,
        access_log_retention_floor_days: 30,
        rotation_grace_days: 30,
        audit_checkpoint_interval_ms: 2000,
        max_content_bytes: 4 << 30,
        content_dir: None,
        metrics_token: None,
        metrics_public: false,
        trusted_proxies: String::new(),
        tls_cert_file: None,
        tls_key_file: None,
        tls_reload_interval_secs: 30,
        token_lifetime_days: 90,
        rate_limit_per_address: 0,
        rate_limit_address_burst: 0,
        rate_limit_per_token: 0,
        rate_limit_token_burst: 0,
        body_read_timeout_secs: 30,
        header_read_timeout_secs: 10,
        max_connections: 4096,
        quota_documents: 1_000_000,
        quota_stored_bytes: 50 << 30,
    };
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let pool = app.state().db.clone();
    let keys = &app.state().audit;
    tokio::spawn(app.run_until_stopped());
    accounts::add_user(&pool, keys, "bench", Role::User)
        .await
        .unwrap();
    accounts::add_user(&pool, keys, "root", Role::Admin)
        .await
        .unwrap();
    let token = accounts::create_token(&pool, keys, "bench", None, 90)
        .await
        .unwrap()
        .token
        .expose()
        .to_owned();
    let admin = accounts::create_token(&pool, keys, "root", None, 90)
        .await
        .unwrap()
        .token
        .expose()
        .to_owned();
    let db = connect(&url).await;
    db.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .await
        .unwrap();
    Server {
        base,
        db,
        token,
        admin,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

impl Server {
    async fn post(&self, token: &str, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn reset_statements(&self) {
        self.db
            .batch_execute("SELECT pg_stat_statements_reset()")
            .await
            .unwrap();
    }

    /// Statements the key server ran in this database since the last reset.
    async fn statements(&self) -> i64 {
        self.db
            .query_one(
                "SELECT COALESCE(sum(calls), 0)::int8 FROM pg_stat_statements
                 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND query NOT ILIKE '%pg_stat_statements%'",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

#[tokio::main]
async fn main() {
    let pg = std::env::var("PQFILE_BENCH_PG").expect("PQFILE_BENCH_PG");
    let mib = env_or("BENCH_FILE_MIB", 1024);
    let keys = env_or("BENCH_KEYS", 100);
    let docs = env_or("BENCH_DOCS", 10_000);
    let conc = env_or("BENCH_CONCURRENCY", 8);
    let s = start(&pg, 4).await;
    file_rewrap::file_rewrap_vs_reencrypt(&s, mib).await;
    let s = start(&pg, u32::try_from(keys).unwrap()).await;
    rotation::pool_rotation(&s, keys, docs, conc).await;
}

//! The test harness: a fresh database per test, the key server in-process on
//! a random port, its users and tokens. `documents` (client-side requests),
//! `requests` (admin calls, rewrap, ageing keys) and `processes` (several
//! server processes) add to [`TestApp`].

mod documents;
mod processes;
mod requests;

pub use documents::*;
pub use processes::*;
pub use requests::*;

use std::path::PathBuf;
use std::time::Duration;

use actix_web::web;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pqfile_core::format::{Header, Stanza};
use pqfile_core::mlkem768::{PublicKey, SecretKey};
use pqfile_core::{DocumentId, Encryptor, Recipient};
use pqfile_keyserver::accounts;
use pqfile_keyserver::configuration::{KmsKind, Settings};
use pqfile_keyserver::domain::{Role, rng};
use pqfile_keyserver::kms::aws::AwsKms;
use pqfile_keyserver::startup::Application;
use pqfile_keyserver::state::AppState;
use serde_json::{Value, json};
use tempfile::TempDir;

/// `postgres://postgres@127.0.0.1:PORT` of the test cluster (no database).
pub fn pg_base() -> String {
    std::env::var("PQFILE_TEST_PG")
        .expect("PQFILE_TEST_PG is not set: run these tests through scripts/test.d/40-keyserver.sh")
}

/// The URL of database `name` in the test cluster, with the cluster's TLS
/// settings (`PQFILE_TEST_PG_PARAMS`: verify-full against the harness's CA).
pub fn pg_url(name: &str) -> String {
    match std::env::var("PQFILE_TEST_PG_PARAMS") {
        Ok(params) if !params.is_empty() => format!("{}/{name}?{params}", pg_base()),
        _ => format!("{}/{name}", pg_base()),
    }
}

/// The moto server's URL.
pub fn moto_endpoint() -> String {
    std::env::var("PQFILE_TEST_KMS_ENDPOINT")
        .expect("PQFILE_TEST_KMS_ENDPOINT is not set: run these tests through scripts/test.d/40-keyserver.sh")
}

/// A direct connection (the test's own view of the database), with the
/// URL's TLS settings read the server's way (`db::Target`).
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = pqfile_keyserver::db::Target::parse(url)
        .expect("test database URL")
        .connect()
        .await
        .expect("connect to the test cluster");
    tokio::spawn(conn);
    client
}

/// Creates an empty database and returns its URL.
pub async fn fresh_database() -> String {
    let name = format!("pqfile_test_{}", DocumentId::generate(&mut rng()));
    let admin = connect(&pg_url("postgres")).await;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    pg_url(&name)
}

/// The LOGIN role test servers run as (a member of `pqfile_runtime`, whose
/// rights migration V7 grants): like production, the server cannot change or
/// delete the audit log. Tests keep the superuser for their own view.
pub const APP_ROLE: &str = "pqfile_app";

/// Creates `pqfile_runtime` and [`APP_ROLE`] in the test cluster, once per
/// test process. Roles are cluster-wide and tests run in parallel: a
/// concurrent creation that lost the race is success.
pub async fn ensure_app_role() {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.load(std::sync::atomic::Ordering::Acquire) {
        return;
    }
    let admin = connect(&pg_url("postgres")).await;
    admin
        // The deployers' script (keyserver/README.md, "Database roles").
        .batch_execute(include_str!("../../../../scripts/sql/runtime-roles.sql"))
        .await
        .expect("create the runtime roles");
    DONE.store(true, std::sync::atomic::Ordering::Release);
}

/// `url` (the superuser's, `postgres://postgres@...`) as [`APP_ROLE`].
pub fn as_app_role(url: &str) -> String {
    let rest = url
        .strip_prefix("postgres://postgres@")
        .unwrap_or_else(|| panic!("not a superuser test URL: {url}"));
    format!("postgres://{APP_ROLE}@{rest}")
}

/// Creates a symmetric key in moto and returns its id.
pub async fn moto_key() -> String {
    let kms = AwsKms::connect(String::new(), "us-east-1".into(), Some(moto_endpoint())).await;
    let out = kms
        .client()
        .create_key()
        .description("pqfile test")
        .send()
        .await
        .expect("moto CreateKey");
    out.key_metadata().expect("metadata").key_id().to_owned()
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kms {
    Local,
    Moto,
}

/// A change to the settings a test server starts with.
pub type SettingsTweak = Box<dyn FnOnce(&mut Settings) + Send>;

pub struct Options {
    pub kms: Kms,
    pub pool_size: u32,
    /// Reuse a database (a second server on the same data).
    pub database_url: Option<String>,
    /// Reuse a data directory (the local KMS master key).
    pub data_dir: Option<PathBuf>,
    /// AWS KMS key id to use (default: a fresh moto key).
    pub kms_key_id: Option<String>,
    /// Endpoint override (default: moto).
    pub kms_endpoint: Option<String>,
    pub key_cache_size: usize,
    pub web_dir: Option<PathBuf>,
    /// Create the users and tokens.
    pub bootstrap: bool,
    /// `max_content_bytes`.
    pub max_content_bytes: u64,
    /// Last word on the settings, applied just before the server is built.
    pub settings: Option<SettingsTweak>,
    /// A CA the test client trusts (an HTTPS server's test CA).
    pub root_ca: Option<reqwest::Certificate>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            kms: Kms::Local,
            pool_size: 5,
            database_url: None,
            data_dir: None,
            kms_key_id: None,
            kms_endpoint: None,
            key_cache_size: 16,
            web_dir: None,
            bootstrap: true,
            max_content_bytes: 1 << 20,
            settings: None,
            root_ca: None,
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub database_url: String,
    pub db: tokio_postgres::Client,
    pub db_pool: pqfile_keyserver::db::DbPool,
    pub state: web::Data<AppState>,
    pub settings: Settings,
    /// Owner of the documents the tests create (role user).
    pub alice: String,
    pub alice_id: i32,
    /// Another user (role user).
    pub bob: String,
    /// An admin.
    pub admin: String,
    pub http: reqwest::Client,
    pub _data_dir: Option<TempDir>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(o: Options) -> TestApp {
    let database_url = match o.database_url {
        Some(u) => u,
        None => fresh_database().await,
    };
    let (data_dir, keep) = match o.data_dir {
        Some(d) => (d, None),
        None => {
            let t = tempfile::tempdir().expect("tempdir");
            (t.path().to_path_buf(), Some(t))
        }
    };
    let (kms_key_id, kms_endpoint) = match o.kms {
        Kms::Local => (None, None),
        Kms::Moto => {
            let key = match o.kms_key_id {
                Some(k) => k,
                None => moto_key().await,
            };
            (
                Some(key),
                Some(o.kms_endpoint.unwrap_or_else(moto_endpoint)),
            )
        }
    };
    ensure_app_role().await;
    let mut settings = Settings {
        database_url: as_app_role(&database_url),
        owner_database_url: Some(database_url.clone()),
        db_pool_max: 16,
        db_pipelined: 2,
        bind: "127.0.0.1:0".into(),
        web_dir: o.web_dir.unwrap_or_else(|| PathBuf::from("/nonexistent")),
        data_dir,
        kms_master_key: None,
        kms: if o.kms == Kms::Local {
            KmsKind::Local
        } else {
            KmsKind::Aws
        },
        kms_key_id,
        kms_region: "us-east-1".into(),
        kms_endpoint,
        pool_size: o.pool_size,
        pool_refill_interval_secs: 3600,
        key_cache_size: o.key_cache_size,
        key_cache_ttl_secs: 300,
        workers: 2,
        log_format: "pretty".into(),
        rotation_age_days: 30,
        maintenance_interval_secs: 3600,
        access_log_retention_days: 365,
        access_log_retention_floor_days: 30,
        rotation_grace_days: 30,
        audit_checkpoint_interval_ms: 2000,
        max_content_bytes: o.max_content_bytes,
        content_dir: None,
        metrics_token: None,
        metrics_public: false,
        trusted_proxies: String::new(),
        tls_cert_file: None,
        tls_key_file: None,
        tls_reload_interval_secs: 30,
        token_lifetime_days: 90,
        // Tests fire requests faster than any person: limits are off
        // unless a test (limits.rs) turns them on.
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
    if let Some(tweak) = o.settings {
        tweak(&mut settings);
    }
    let app = Application::build(settings.clone())
        .await
        .expect("build the application");
    // An HTTPS server is reached by a name its test certificate holds.
    let address = match app.scheme() {
        "https" => format!("https://localhost:{}", app.port()),
        _ => format!("http://127.0.0.1:{}", app.port()),
    };
    let state = app.state();
    let db_pool = state.db.clone();
    tokio::spawn(app.run_until_stopped());
    // Accounts are the operator's (`user add`, `token create`): written as
    // the owner, as the command does.
    let owner_pool =
        pqfile_keyserver::db::connect(&database_url, 2).expect("owner connection pool");
    let (mut alice, mut bob, mut admin_token, mut alice_id) =
        (String::new(), String::new(), String::new(), 0);
    if o.bootstrap {
        alice_id = accounts::add_user(&owner_pool, &state.audit, "alice", Role::User)
            .await
            .expect("add alice");
        accounts::add_user(&owner_pool, &state.audit, "bob", Role::User)
            .await
            .expect("add bob");
        accounts::add_user(&owner_pool, &state.audit, "root", Role::Admin)
            .await
            .expect("add admin");
        alice = accounts::create_token(&owner_pool, &state.audit, "alice", None, 90)
            .await
            .expect("token")
            .token
            .expose()
            .to_owned();
        bob = accounts::create_token(&owner_pool, &state.audit, "bob", None, 90)
            .await
            .expect("token")
            .token
            .expose()
            .to_owned();
        admin_token = accounts::create_token(&owner_pool, &state.audit, "root", Some("tests"), 90)
            .await
            .expect("token")
            .token
            .expose()
            .to_owned();
    }
    let db = connect(&database_url).await;
    if o.bootstrap {
        // The harness's own accounts are audited like any operator command
        // (audit_trail::operator_commands_are_audited tests that); their rows
        // are removed here, before the first sealer pass (two seconds after
        // start), so the tests count only the rows of what they do.
        db.batch_execute(
            "DELETE FROM access_logs WHERE user_id IS NULL AND reason LIKE 'operator:%'",
        )
        .await
        .expect("drop the harness's account rows");
    }
    TestApp {
        address,
        db,
        database_url,
        db_pool,
        state,
        settings,
        alice,
        alice_id,
        bob,
        admin: admin_token,
        http: o
            .root_ca
            .into_iter()
            .fold(reqwest::Client::builder(), |b, ca| {
                b.add_root_certificate(ca)
            })
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client"),
        _data_dir: keep,
    }
}

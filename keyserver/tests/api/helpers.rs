use std::path::PathBuf;
use std::time::Duration;

use actix_web::web;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pqfile_core::format::{Header, Stanza};
use pqfile_core::mlkem768::{PublicKey, SecretKey};
use pqfile_core::{DocumentId, Encryptor, Recipient};
use pqfile_keyserver::admin;
use pqfile_keyserver::configuration::{KmsKind, Settings};
use pqfile_keyserver::domain::{Role, rng};
use pqfile_keyserver::kms::aws::AwsKms;
use pqfile_keyserver::startup::Application;
use pqfile_keyserver::state::AppState;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio_postgres::NoTls;

/// `postgres://postgres@127.0.0.1:PORT` of the test cluster (no database).
pub fn pg_base() -> String {
    std::env::var("PQFILE_TEST_PG")
        .expect("PQFILE_TEST_PG is not set: run these tests through scripts/test.d/40-keyserver.sh")
}

/// The moto server's URL.
pub fn moto_endpoint() -> String {
    std::env::var("PQFILE_TEST_KMS_ENDPOINT")
        .expect("PQFILE_TEST_KMS_ENDPOINT is not set: run these tests through scripts/test.d/40-keyserver.sh")
}

/// A direct connection (the test's own view of the database).
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to the test cluster");
    tokio::spawn(conn);
    client
}

/// Creates an empty database and returns its URL.
pub async fn fresh_database() -> String {
    let name = format!("pqfile_test_{}", DocumentId::generate(&mut rng()));
    let admin = connect(&format!("{}/postgres", pg_base())).await;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    format!("{}/{name}", pg_base())
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
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub database_url: String,
    pub db: tokio_postgres::Client,
    pub pool: deadpool_postgres::Pool,
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
    let settings = Settings {
        database_url: database_url.clone(),
        db_pool_max: 16,
        db_pipelined: 2,
        bind: "127.0.0.1:0".into(),
        web_dir: o.web_dir.unwrap_or_else(|| PathBuf::from("/nonexistent")),
        data_dir,
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
        max_content_bytes: o.max_content_bytes,
        content_dir: None,
    };
    let app = Application::build(settings.clone())
        .await
        .expect("build the application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let pool = state.db.clone();
    tokio::spawn(app.run_until_stopped());
    let (mut alice, mut bob, mut admin_token, mut alice_id) =
        (String::new(), String::new(), String::new(), 0);
    if o.bootstrap {
        alice_id = admin::add_user(&pool, "alice", Role::User)
            .await
            .expect("add alice");
        admin::add_user(&pool, "bob", Role::User)
            .await
            .expect("add bob");
        admin::add_user(&pool, "root", Role::Admin)
            .await
            .expect("add admin");
        alice = admin::create_token(&pool, "alice", None)
            .await
            .expect("token")
            .expose()
            .to_owned();
        bob = admin::create_token(&pool, "bob", None)
            .await
            .expect("token")
            .expose()
            .to_owned();
        admin_token = admin::create_token(&pool, "root", Some("tests"))
            .await
            .expect("token")
            .expose()
            .to_owned();
    }
    TestApp {
        address,
        db: connect(&database_url).await,
        database_url,
        pool,
        state,
        settings,
        alice,
        alice_id,
        bob,
        admin: admin_token,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client"),
        _data_dir: keep,
    }
}

/// A document registered by the server and a file encrypted to it with pqfile-core.
pub struct EncryptedFile {
    pub document_id: DocumentId,
    pub key_id: u32,
    pub bytes: Vec<u8>,
    pub header: Header,
    pub header_len: usize,
}

impl EncryptedFile {
    /// The stanza a client sends to unwrap.
    pub fn stanza(&self) -> &Stanza {
        &self.header.stanzas[0]
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn create_document(&self, token: &str) -> reqwest::Response {
        self.http
            .post(self.url("/v1/documents"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// `POST /v1/documents` then encrypt `plaintext` to the returned key.
    pub async fn encrypt(&self, token: &str, plaintext: &[u8]) -> EncryptedFile {
        let resp = self.create_document(token).await;
        assert_eq!(resp.status(), 201);
        let v: Value = resp.json().await.expect("json");
        let document_id =
            DocumentId::parse(v["document_id"].as_str().expect("document_id")).expect("32 hex");
        let key_id = u32::try_from(v["key"]["key_id"].as_i64().expect("key_id")).expect("u32");
        assert_eq!(v["key"]["algorithm"], "ML-KEM-768");
        let pk = STANDARD
            .decode(v["key"]["public_key"].as_str().expect("public_key"))
            .expect("base64");
        assert_eq!(pk.len(), 1184);
        let public_key = PublicKey::from_bytes(&pk).expect("valid key");
        let mut enc = Encryptor::with_document_id(
            document_id,
            &[Recipient { key_id, public_key }],
            &mut rng(),
        )
        .expect("encryptor");
        let mut bytes = Vec::new();
        enc.push(plaintext, &mut bytes).expect("push");
        enc.finish(&mut bytes).expect("finish");
        let (header, header_len) = Header::parse(&bytes).expect("header");
        EncryptedFile {
            document_id,
            key_id,
            bytes,
            header,
            header_len,
        }
    }

    /// `POST /v1/documents/{doc}/unwrap` with raw JSON fields.
    pub async fn unwrap_raw(
        &self,
        token: &str,
        document_id: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/v1/documents/{document_id}/unwrap")))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Unwraps `stanza` for `document_id` with a fresh ephemeral key.
    pub async fn unwrap(
        &self,
        token: &str,
        document_id: &DocumentId,
        stanza: &Stanza,
    ) -> (reqwest::Response, SecretKey) {
        let eph = SecretKey::generate(&mut rng());
        let body = json!({
            "stanza": STANDARD.encode(stanza.to_bytes()),
            "ephemeral_public_key": STANDARD.encode(eph.public_key().to_bytes()),
        });
        (
            self.unwrap_raw(token, &document_id.to_string(), &body)
                .await,
            eph,
        )
    }

    /// Sum of all usage counts.
    pub async fn total_usage(&self) -> i64 {
        self.db
            .query_one(
                "SELECT COALESCE(sum(usage_count), 0)::int8 FROM encryption_keys",
                &[],
            )
            .await
            .expect("query")
            .get(0)
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.db.query_one(sql, &[]).await.expect("query").get(0)
    }

    /// Audit rows of refused `access_type` accesses with error code `reason`.
    pub async fn refusals(&self, access_type: &str, reason: &str) -> i64 {
        self.db
            .query_one(
                "SELECT count(*) FROM access_logs WHERE access_type = $1 AND outcome = 'refused' AND reason = $2",
                &[&access_type, &reason],
            )
            .await
            .expect("query")
            .get(0)
    }
}

/// Decrypts a file with a transport stanza from the server, as a client would.
pub fn decrypt_with_transport(
    file: &EncryptedFile,
    transport_b64: &str,
    eph: &SecretKey,
) -> Vec<u8> {
    let raw = STANDARD.decode(transport_b64).expect("base64");
    let transport = Stanza::parse_exact(&raw).expect("a stanza");
    assert_eq!(
        transport.key_id, 0,
        "transport stanzas use key id 0 (FORMAT.md §7)"
    );
    assert_eq!(transport.kem, pqfile_core::KemId::ML_KEM_768);
    let file_key = pqfile_core::stanza::unwrap(&transport, &file.document_id, eph)
        .expect("open transport stanza");
    pqfile_core::decrypt_with_key(&file.header, &file.bytes[file.header_len..], &file_key)
        .expect("decrypt")
}

/// Asserts a JSON error with `status` and `code`; returns the body.
pub async fn assert_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "expected {status} {code}");
    assert!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json")),
        "error bodies are JSON"
    );
    let v: Value = resp.json().await.expect("json body");
    assert_eq!(v["error"]["code"], code, "body: {v}");
    let msg = v["error"]["message"].as_str().expect("message");
    assert!(!msg.is_empty());
    assert!(v.get("transport_stanza").is_none());
    v
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts three `pqfile-keyserver serve` processes at once on one database
/// (local KMS, 2 workers each), plus `extra_env`, and waits until all are
/// ready. The processes die with the returned handles.
pub async fn spawn_three_processes(
    database_url: &str,
    data_dir: &std::path::Path,
    pool_size: u32,
    extra_env: &[(&str, &str)],
) -> (Vec<tokio::process::Child>, [u16; 3]) {
    let ports = [free_port(), free_port(), free_port()];
    let children = ports
        .iter()
        .map(|port| {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_pqfile-keyserver"))
                .arg("serve")
                .env("PQFILE_DATABASE_URL", database_url)
                .env("PQFILE_DATA_DIR", data_dir)
                .env("PQFILE_BIND", format!("127.0.0.1:{port}"))
                .env("PQFILE_POOL_SIZE", pool_size.to_string())
                .env("PQFILE_KMS", "local")
                .env("PQFILE_WEB_DIR", "/nonexistent")
                .env("PQFILE_WORKERS", "2")
                .env("RUST_LOG", "warn")
                .envs(extra_env.iter().copied())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .expect("spawn pqfile-keyserver")
        })
        .collect();
    let http = reqwest::Client::new();
    for port in ports {
        wait_ready(&http, port).await;
    }
    (children, ports)
}

async fn wait_ready(http: &reqwest::Client, port: u16) {
    for _ in 0..200 {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server on port {port} never became ready");
}

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
use tokio_postgres::NoTls;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
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
        db_pool_max: 16,
        db_pipelined: 2,
        bind: "127.0.0.1:0".into(),
        web_dir: PathBuf::from("/nonexistent"),
        data_dir: dir.path().to_path_buf(),
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
        max_content_bytes: 4 << 30,
        content_dir: None,
    };
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let pool = app.state().db.clone();
    tokio::spawn(app.run_until_stopped());
    accounts::add_user(&pool, "bench", Role::User).await.unwrap();
    accounts::add_user(&pool, "root", Role::Admin).await.unwrap();
    let token = accounts::create_token(&pool, "bench", None)
        .await
        .unwrap()
        .expose()
        .to_owned();
    let admin = accounts::create_token(&pool, "root", None)
        .await
        .unwrap()
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

async fn file_rewrap_vs_reencrypt(s: &Server, mib: usize) {
    let work = tempfile::tempdir_in("/var/tmp").unwrap();
    let doc = s.post(&s.token, "/v1/documents", json!({})).await;
    let document_id = DocumentId::parse(doc["document_id"].as_str().unwrap()).unwrap();
    let key_id = u32::try_from(doc["key"]["key_id"].as_i64().unwrap()).unwrap();
    let pk = PublicKey::from_bytes(
        &STANDARD
            .decode(doc["key"]["public_key"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let path = work.path().join("big.pqf");
    let started = Instant::now();
    {
        let mut enc = Encryptor::with_document_id(
            document_id,
            &[Recipient {
                key_id,
                public_key: pk,
            }],
            &mut rng(),
        )
        .unwrap();
        let mut f =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
        let block: Vec<u8> = (0..1 << 20)
            .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let mut out = Vec::with_capacity(2 << 20);
        for _ in 0..mib {
            out.clear();
            enc.push(&block, &mut out).unwrap();
            f.write_all(&out).unwrap();
        }
        out.clear();
        enc.finish(&mut out).unwrap();
        f.write_all(&out).unwrap();
        f.flush().unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len();
    eprintln!("wrote {size} bytes in {}", secs(started.elapsed()));

    let read_header = || {
        let mut f = std::fs::File::open(&path).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let n = f.read(&mut buf).unwrap();
        let (h, len) = Header::parse(&buf[..n]).unwrap();
        (h, buf[..len].to_vec())
    };

    // Rewrap: read the header, one API call, write the new header in place.
    let mut rewraps = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        let (_, header) = read_header();
        let v = s
            .post(
                &s.token,
                &format!("/v1/documents/{document_id}/rewrap"),
                json!({ "header": STANDARD.encode(&header) }),
            )
            .await;
        let new = STANDARD.decode(v["header"].as_str().unwrap()).unwrap();
        assert_eq!(new.len(), header.len());
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write_all(&new).unwrap();
        f.sync_data().unwrap();
        rewraps.push(t.elapsed());
    }
    rewraps.sort();
    let rewrap_median = rewraps[rewraps.len() / 2];

    // Decrypt + re-encrypt: unwrap the file key, stream the whole file
    // through the decryptor and a new encryptor to a new file.
    let mut full = Vec::new();
    for round in 0..2 {
        let t = Instant::now();
        let (header, hbytes) = read_header();
        let eph = SecretKey::generate(&mut rng());
        let v = s
            .post(
                &s.token,
                &format!("/v1/documents/{document_id}/unwrap"),
                json!({
                    "stanza": STANDARD.encode(header.stanzas[0].to_bytes()),
                    "ephemeral_public_key": STANDARD.encode(eph.public_key().to_bytes()),
                }),
            )
            .await;
        let transport = Stanza::parse_exact(
            &STANDARD
                .decode(v["transport_stanza"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        let file_key: FileKey =
            pqfile_core::stanza::unwrap(&transport, &document_id, &eph).unwrap();
        let new_key = s.post(&s.token, "/v1/documents", json!({})).await;
        let nk = PublicKey::from_bytes(
            &STANDARD
                .decode(new_key["key"]["public_key"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        let nk_id = u32::try_from(new_key["key"]["key_id"].as_i64().unwrap()).unwrap();
        let mut dec = Decryptor::new(&header, &file_key).unwrap();
        let mut enc = Encryptor::with_document_id(
            document_id,
            &[Recipient {
                key_id: nk_id,
                public_key: nk,
            }],
            &mut rng(),
        )
        .unwrap();
        let mut input = std::fs::File::open(&path).unwrap();
        input.seek(SeekFrom::Start(hbytes.len() as u64)).unwrap();
        let out_path = work.path().join(format!("re-{round}.pqf"));
        let mut output =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&out_path).unwrap());
        let mut buf = vec![0u8; 1 << 20];
        let (mut plain, mut cipher) = (Vec::with_capacity(2 << 20), Vec::with_capacity(2 << 20));
        loop {
            let n = input.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            plain.clear();
            dec.push(&buf[..n], &mut plain).unwrap();
            cipher.clear();
            enc.push(&plain, &mut cipher).unwrap();
            output.write_all(&cipher).unwrap();
        }
        plain.clear();
        dec.finish(&mut plain).unwrap();
        cipher.clear();
        enc.push(&plain, &mut cipher).unwrap();
        enc.finish(&mut cipher).unwrap();
        output.write_all(&cipher).unwrap();
        output.flush().unwrap();
        output.get_ref().sync_data().unwrap();
        full.push(t.elapsed());
        std::fs::remove_file(&out_path).unwrap();
    }
    full.sort();
    let full_best = full[0];
    println!("## rewrap vs decrypt+re-encrypt ({mib} MiB plaintext, {size} bytes on disk)");
    println!("| operation | time |");
    println!("|---|---|");
    println!(
        "| rewrap via API + header written in place (median of {}; min {}, max {}) | {} |",
        rewraps.len(),
        secs(rewraps[0]),
        secs(rewraps[rewraps.len() - 1]),
        format_args!("{:.2} ms", rewrap_median.as_secs_f64() * 1e3)
    );
    println!(
        "| decrypt + re-encrypt with pqfile-core, streamed file to file (best of {}; other {}) | {} |",
        full.len(),
        secs(full[full.len() - 1]),
        secs(full_best)
    );
    println!(
        "| ratio | {:.0}x |",
        full_best.as_secs_f64() / rewrap_median.as_secs_f64()
    );
}

async fn pool_rotation(s: &Server, keys: usize, docs: usize, concurrency: usize) {
    // The pool, with public keys.
    let rows =
        s.db.query(
            "SELECT id, public_key FROM encryption_keys WHERE status = 'active' ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), keys);
    let pool: Vec<(u32, PublicKey)> = rows
        .iter()
        .map(|r| {
            let id: i32 = r.get(0);
            let pk: String = r.get(1);
            (
                id as u32,
                PublicKey::from_bytes(&STANDARD.decode(pk).unwrap()).unwrap(),
            )
        })
        .collect();
    // 10,000 documents with real headers, registered round robin.
    let t = Instant::now();
    let owner: i32 =
        s.db.query_one("SELECT id FROM users WHERE name = 'bench'", &[])
            .await
            .unwrap()
            .get(0);
    let mut headers = Vec::with_capacity(docs);
    let (mut ids, mut owners, mut key_ids) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..docs {
        let (kid, pk) = &pool[i % keys];
        let doc = DocumentId::generate(&mut rng());
        let fk = FileKey::generate(&mut rng());
        let h = pqfile_core::header::build(
            doc,
            &[Recipient {
                key_id: *kid,
                public_key: pk.clone(),
            }],
            &fk,
            &mut rng(),
        )
        .unwrap();
        headers.push((doc.to_string(), h.to_bytes()));
        ids.push(doc.to_string());
        owners.push(owner);
        key_ids.push(*kid as i32);
    }
    s.db.execute(
        "INSERT INTO documents (id, owner_id, key_id) SELECT * FROM unnest($1::text[], $2::int4[], $3::int4[])",
        &[&ids, &owners, &key_ids],
    )
    .await
    .unwrap();
    s.db.execute(
        "UPDATE encryption_keys SET usage_count = (SELECT count(*) FROM documents d WHERE d.key_id = encryption_keys.id),
                created_at = created_at - interval '31 days'",
        &[],
    )
    .await
    .unwrap();
    eprintln!(
        "registered {docs} documents on {keys} keys in {}",
        secs(t.elapsed())
    );

    s.reset_statements().await;
    let t = Instant::now();
    let check = s.post(&s.admin, "/v1/admin/rotation", json!({})).await;
    let check_time = t.elapsed();
    let check_queries = s.statements().await;
    assert_eq!(check["queued"].as_array().unwrap().len(), keys);

    s.reset_statements().await;
    let t = Instant::now();
    let m = s.post(&s.admin, "/v1/admin/maintenance", json!({})).await;
    let maint_time = t.elapsed();
    let maint_queries = s.statements().await;
    assert_eq!(
        m["rotations"]["in_progress"].as_array().unwrap().len(),
        keys
    );

    // Move every document off its old key.
    s.reset_statements().await;
    let t = Instant::now();
    let chunks: Vec<Vec<(String, Vec<u8>)>> = headers
        .chunks(docs.div_ceil(concurrency))
        .map(<[_]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let http = s.http.clone();
        let base = s.base.clone();
        let token = s.token.clone();
        tasks.push(tokio::spawn(async move {
            for (doc, h) in chunk {
                let r = http
                    .post(format!("{base}/v1/documents/{doc}/rewrap"))
                    .bearer_auth(&token)
                    .json(&json!({ "header": STANDARD.encode(&h) }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let move_time = t.elapsed();
    let move_queries = s.statements().await;
    let completed: i64 =
        s.db.query_one(
            "SELECT count(*) FROM key_rotations WHERE status = 'completed'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        completed as usize, keys,
        "every rotation completed with its last rewrap"
    );

    println!();
    println!("## rotation of a {keys}-key pool with {docs} documents");
    println!("| phase | time | SQL statements |");
    println!("|---|---|---|");
    println!(
        "| rotation check (`POST /v1/admin/rotation`: {keys} keys queued, {keys} replacements generated and KMS-wrapped) | {} | {check_queries} |",
        secs(check_time)
    );
    println!(
        "| maintenance run (expiry, rotation progress, refill, retention) | {} | {maint_queries} |",
        secs(maint_time)
    );
    println!(
        "| rewrap of all {docs} documents ({concurrency} concurrent clients) until all {keys} rotations completed | {} ({:.0} rewraps/s) | {move_queries} ({:.1} per rewrap, incl. token lookup) |",
        secs(move_time),
        docs as f64 / move_time.as_secs_f64(),
        move_queries as f64 / docs as f64
    );
}

#[tokio::main]
async fn main() {
    let pg = std::env::var("PQFILE_BENCH_PG").expect("PQFILE_BENCH_PG");
    let mib = env_or("BENCH_FILE_MIB", 1024);
    let keys = env_or("BENCH_KEYS", 100);
    let docs = env_or("BENCH_DOCS", 10_000);
    let conc = env_or("BENCH_CONCURRENCY", 8);
    let s = start(&pg, 4).await;
    file_rewrap_vs_reencrypt(&s, mib).await;
    let s = start(&pg, u32::try_from(keys).unwrap()).await;
    pool_rotation(&s, keys, docs, conc).await;
}

//! Abuse limits (issue 12, item 5): rate limits per token and per address
//! (429 + Retry-After, audited), stalled bodies and heads cut off, a cap on
//! open connections. Raw TCP where a well-behaved HTTP client cannot show it.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

async fn limited_app(
    tweak: impl FnOnce(&mut pqfile_keyserver::configuration::Settings) + Send + 'static,
) -> TestApp {
    spawn_app_with(Options {
        settings: Some(Box::new(tweak)),
        ..Options::default()
    })
    .await
}

/// `host:port` of a test server.
fn authority(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads until the peer closes or `within` passes; what arrived, and
/// whether the connection was closed.
async fn read_until_closed(conn: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into(), false),
        }
    }
}

#[tokio::test]
async fn over_its_rate_a_token_gets_429_with_retry_after_and_an_audit_row() {
    let app = limited_app(|s| {
        s.rate_limit_per_token = 1;
        s.rate_limit_token_burst = 3;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(app.get_as(&app.alice, "/v1/me").await.status(), 200);
    }
    let resp = app.get_as(&app.alice, "/v1/me").await;
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert_error(resp, 429, "rate_limited").await;
    // Another token of the same address has its own bucket.
    assert_eq!(app.get_as(&app.bob, "/v1/me").await.status(), 200);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM access_logs WHERE outcome = 'refused' AND reason = 'rate_limited'"
        )
        .await,
        1
    );
    // After Retry-After the token works again.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(app.get_as(&app.alice, "/v1/me").await.status(), 200);
}

#[tokio::test]
async fn an_address_is_limited_before_any_token_is_looked_up() {
    let app = limited_app(|s| {
        s.rate_limit_per_address = 1;
        s.rate_limit_address_burst = 2;
    })
    .await;
    // Guessing tokens: a new one each time, so no token bucket would stop it.
    for i in 0..2 {
        let guess = format!("pqf_{:064x}", i);
        assert_error(app.get_as(&guess, "/v1/me").await, 401, "invalid_token").await;
    }
    let guess = format!("pqf_{:064x}", 99);
    assert_error(app.get_as(&guess, "/v1/me").await, 429, "rate_limited").await;
    assert_error(app.get_as(&app.alice, "/v1/me").await, 429, "rate_limited").await;
    // The page and health checks are outside the API's limits.
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_stalled_json_body_is_answered_408_and_the_connection_closed() {
    let app = limited_app(|s| s.body_read_timeout_secs = 1).await;
    let file = app.encrypt(&app.alice, b"slow").await;
    let mut conn = TcpStream::connect(authority(&app)).await.unwrap();
    let head = format!(
        "POST /v1/documents/{}/unwrap HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{{\"stanza\": \"",
        file.document_id, app.alice
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut conn, Duration::from_secs(10)).await;
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(closed, "the connection stays open");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(app.refusals("decrypt", "body_timeout").await, 1);
}

#[tokio::test]
async fn a_body_that_trickles_in_under_the_timeout_is_read() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let app = limited_app(|s| s.body_read_timeout_secs = 1).await;
    let file = app.encrypt(&app.alice, b"slow but steady").await;
    let eph = pqfile_core::mlkem768::SecretKey::generate(&mut pqfile_keyserver::domain::rng());
    let body = serde_json::json!({
        "stanza": b64.encode(file.stanza().to_bytes()),
        "ephemeral_public_key": b64.encode(eph.public_key().to_bytes()),
    })
    .to_string();
    let mut conn = TcpStream::connect(authority(&app)).await.unwrap();
    let head = format!(
        "POST /v1/documents/{}/unwrap HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        file.document_id,
        app.alice,
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    // Eight pieces 500 ms apart: 4 s in all, four times the timeout, but
    // never idle that long.
    let started = Instant::now();
    for piece in body.as_bytes().chunks(body.len().div_ceil(8)) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        conn.write_all(piece).await.unwrap();
    }
    assert!(started.elapsed() > Duration::from_secs(3));
    let (answer, _) = read_until_closed(&mut conn, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_request_head_that_never_ends_is_cut_off() {
    let app = limited_app(|s| s.header_read_timeout_secs = 1).await;
    let mut conn = TcpStream::connect(authority(&app)).await.unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut conn, Duration::from_secs(10)).await;
    assert!(closed, "still open after {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let app = limited_app(|s| {
        s.max_connections = 2;
        s.workers = 1;
    })
    .await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(authority(&app)).await.unwrap();
        c.write_all(request).await.unwrap();
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
            .await
            .expect("answered")
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(c); // kept alive, idle
    }
    let mut third = TcpStream::connect(authority(&app)).await.unwrap();
    third.write_all(request).await.unwrap();
    let mut buf = [0u8; 1024];
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), third.read(&mut buf))
            .await
            .is_err(),
        "a third connection was served while two were open"
    );
    drop(held.pop());
    let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("served once a slot freed")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

impl TestApp {
    async fn put_content(&self, token: &str, file: &EncryptedFile) -> reqwest::Response {
        self.http
            .put(self.url(&format!("/v1/documents/{}/content", file.document_id)))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(file.bytes.clone())
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_user_over_the_document_quota_registers_no_more() {
    let app = limited_app(|s| s.quota_documents = 2).await;
    for _ in 0..2 {
        assert_eq!(app.create_document(&app.alice).await.status(), 201);
    }
    let body = assert_error(app.create_document(&app.alice).await, 403, "quota_exceeded").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("quota_documents: 2"),
        "{body}"
    );
    assert_eq!(app.count("SELECT count(*) FROM documents").await, 2);
    assert_eq!(
        app.count("SELECT count(*) FROM access_logs WHERE reason = 'quota_exceeded'")
            .await,
        1
    );
    assert_eq!(
        app.create_document(&app.bob).await.status(),
        201,
        "bob has his own quota"
    );
}

#[tokio::test]
async fn stored_bytes_over_the_quota_are_refused_and_nothing_is_kept() {
    let first_probe = spawn_app().await;
    let size = first_probe
        .encrypt(&first_probe.alice, &[1u8; 3000])
        .await
        .bytes
        .len() as u64;
    drop(first_probe);
    // Room for one such file and a half.
    let app = limited_app(move |s| s.quota_stored_bytes = size * 3 / 2).await;
    let one = app.encrypt(&app.alice, &[1u8; 3000]).await;
    let two = app.encrypt(&app.alice, &[2u8; 3000]).await;
    assert_eq!(app.put_content(&app.alice, &one).await.status(), 201);
    // Replacing a stored copy counts its new size only.
    assert_eq!(app.put_content(&app.alice, &one).await.status(), 201);
    assert_error(
        app.put_content(&app.alice, &two).await,
        403,
        "quota_exceeded",
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM documents WHERE content_size IS NOT NULL")
            .await,
        1
    );
    let leftovers = std::fs::read_dir(app.settings.content_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".upload")
        })
        .count();
    assert_eq!(leftovers, 0, "the refused upload's temporary file is gone");
    let bob_file = app.encrypt(&app.bob, &[3u8; 3000]).await;
    assert_eq!(app.put_content(&app.bob, &bob_file).await.status(), 201);
}

#[tokio::test]
async fn a_stalled_upload_is_answered_408_and_leaves_no_file() {
    let app = limited_app(|s| s.body_read_timeout_secs = 1).await;
    let file = app.encrypt(&app.alice, &[5u8; 10_000]).await;
    let mut conn = TcpStream::connect(authority(&app)).await.unwrap();
    let head = format!(
        "PUT /v1/documents/{}/content HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        file.document_id,
        app.alice,
        file.bytes.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&file.bytes[..file.bytes.len() / 2])
        .await
        .unwrap();
    let (answer, closed) = read_until_closed(&mut conn, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(closed);
    let leftovers = std::fs::read_dir(app.settings.content_dir())
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0, "no partial upload kept");
    assert_eq!(
        app.count("SELECT count(*) FROM documents WHERE content_size IS NOT NULL")
            .await,
        0
    );
}

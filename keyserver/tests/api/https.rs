//! HTTPS (issue 12, item 2): the listener's certificate from files, a test
//! CA made here (rcgen), HTTP/2, HSTS, and reloads (file change, SIGHUP)
//! that do not drop open connections.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

use crate::helpers::*;

/// A certificate authority that exists only in this test.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        Self {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn reqwest(&self) -> reqwest::Certificate {
        reqwest::Certificate::from_pem(self.issuer.pem().as_bytes()).unwrap()
    }

    /// A server certificate for localhost: (certificate PEM, key PEM, DER).
    fn leaf(&self) -> (String, String, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }
}

/// Writes a pair the way a deployer's tool would: each file replaced whole.
fn install(dir: &Path, (cert, key, _): &(String, String, Vec<u8>)) -> (PathBuf, PathBuf) {
    let (cert_path, key_path) = (dir.join("server.crt"), dir.join("server.key"));
    for (path, text) in [(&key_path, key), (&cert_path, cert)] {
        let temp = path.with_extension("new");
        std::fs::write(&temp, text).unwrap();
        std::fs::rename(&temp, path).unwrap();
    }
    (cert_path, key_path)
}

/// An HTTPS test server with `leaf` installed in `dir`.
async fn spawn_https(
    ca: &TestCa,
    dir: &Path,
    leaf: &(String, String, Vec<u8>),
    reload_secs: u64,
) -> TestApp {
    let (cert, key) = install(dir, leaf);
    spawn_app_with(Options {
        root_ca: Some(ca.reqwest()),
        settings: Some(Box::new(move |s| {
            s.tls_cert_file = Some(cert);
            s.tls_key_file = Some(key);
            s.tls_reload_interval_secs = reload_secs;
        })),
        ..Options::default()
    })
    .await
}

/// The certificate (DER) a new connection to `url` is shown.
async fn served_certificate(ca: &TestCa, url: &str) -> Vec<u8> {
    let client = reqwest::Client::builder()
        .add_root_certificate(ca.reqwest())
        .tls_info(true)
        .build()
        .unwrap();
    let resp = client.get(url).send().await.expect("https request");
    resp.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("peer certificate")
        .to_vec()
}

async fn wait_until_served(ca: &TestCa, url: &str, der: &[u8]) {
    for _ in 0..100 {
        if served_certificate(ca, url).await == der {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the new certificate was never served");
}

#[tokio::test]
async fn the_api_answers_over_https_with_http2_and_hsts() {
    let (ca, dir) = (TestCa::new("pqfile test CA"), tempfile::tempdir().unwrap());
    let app = spawn_https(&ca, dir.path(), &ca.leaf(), 30).await;
    assert!(app.address.starts_with("https://"), "{}", app.address);

    let resp = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_2, "ALPN h2");
    assert_eq!(
        resp.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    // Refusals carry it too.
    let resp = app.http.get(app.url("/v1/me")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("strict-transport-security"));

    // A whole round trip through the API over TLS.
    let file = app.encrypt(&app.alice, b"over https").await;
    let (resp, _) = app
        .unwrap(&app.alice, &file.document_id, file.stanza())
        .await;
    assert_eq!(resp.status(), 200);

    // The port does not also answer in clear.
    let clear = reqwest::Client::new()
        .get(app.url("/healthz").replacen("https://", "http://", 1))
        .send()
        .await;
    assert!(
        clear.is_err() || clear.unwrap().status() != 200,
        "HTTP on the HTTPS port"
    );
}

#[tokio::test]
async fn plain_http_sends_no_hsts() {
    let app = spawn_app().await;
    let resp = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert!(!resp.headers().contains_key("strict-transport-security"));
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_is_refused() {
    let (ca, dir) = (TestCa::new("pqfile test CA"), tempfile::tempdir().unwrap());
    let app = spawn_https(&ca, dir.path(), &ca.leaf(), 30).await;
    let other = TestCa::new("another CA");
    let client = reqwest::Client::builder()
        .add_root_certificate(other.reqwest())
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    let err = client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect_err("untrusted certificate");
    let chain = format!("{:?}", err);
    assert!(chain.contains("UnknownIssuer"), "{chain}");
}

#[tokio::test]
async fn a_changed_certificate_is_served_without_dropping_an_open_upload() {
    let (ca, dir) = (TestCa::new("pqfile test CA"), tempfile::tempdir().unwrap());
    let first = ca.leaf();
    let app = spawn_https(&ca, dir.path(), &first, 1).await;
    let health = app.url("/healthz");
    assert_eq!(served_certificate(&ca, &health).await, first.2);

    // An upload is in flight on a connection made with the first certificate.
    let file = app.encrypt(&app.alice, &vec![7u8; 256 * 1024]).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let upload = {
        let (http, url, token) = (
            app.http.clone(),
            app.url(&format!("/v1/documents/{}/content", file.document_id)),
            app.alice.clone(),
        );
        tokio::spawn(async move {
            let body = reqwest::Body::wrap_stream(tokio_stream(rx));
            http.put(url)
                .bearer_auth(token)
                .header("content-type", "application/octet-stream")
                .body(body)
                .send()
                .await
        })
    };
    let half = file.bytes.len() / 2;
    tx.send(Ok(file.bytes[..half].to_vec())).await.unwrap();

    // A broken pair (half-written) is not taken: the old one stays served.
    std::fs::write(dir.path().join("server.crt"), "not a certificate").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(served_certificate(&ca, &health).await, first.2);

    // A good new pair is picked up by the next handshakes...
    let second = ca.leaf();
    install(dir.path(), &second);
    wait_until_served(&ca, &health, &second.2).await;

    // ...while the open upload finishes on its old connection.
    tx.send(Ok(file.bytes[half..].to_vec())).await.unwrap();
    drop(tx);
    let resp = upload
        .await
        .unwrap()
        .expect("the upload survived the reload");
    assert!(resp.status().is_success(), "{}", resp.status());
    let stored = app
        .http
        .get(app.url(&format!("/v1/documents/{}/content", file.document_id)))
        .bearer_auth(&app.alice)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.bytes().await.unwrap(), file.bytes);
}

/// The receiver as a body stream.
fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn sighup_reloads_the_certificate_of_a_running_process() {
    let (ca, dir) = (TestCa::new("pqfile test CA"), tempfile::tempdir().unwrap());
    let first = ca.leaf();
    let (cert, key) = install(dir.path(), &first);
    let database_url = fresh_database().await;
    let data = tempfile::tempdir().unwrap();
    // File polling off (an hour): only the signal can reload.
    let (children, ports) = spawn_three_processes_trusting(
        &database_url,
        data.path(),
        3,
        &[
            ("PQFILE_TLS_CERT_FILE", cert.to_str().unwrap()),
            ("PQFILE_TLS_KEY_FILE", key.to_str().unwrap()),
            ("PQFILE_TLS_RELOAD_INTERVAL_SECS", "3600"),
        ],
        Some(ca.reqwest()),
    )
    .await;
    let url = format!("https://localhost:{}/healthz", ports[0]);
    assert_eq!(served_certificate(&ca, &url).await, first.2);
    let second = ca.leaf();
    install(dir.path(), &second);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        served_certificate(&ca, &url).await,
        first.2,
        "no reload yet"
    );
    let pid = children[0].id().expect("pid");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_until_served(&ca, &url, &second.2).await;
    // The others were not signalled and still serve the first.
    let other = format!("https://localhost:{}/healthz", ports[1]);
    assert_eq!(served_certificate(&ca, &other).await, first.2);
}

#[tokio::test]
async fn a_key_that_does_not_fit_the_certificate_stops_start_up_clearly() {
    let (ca, dir) = (TestCa::new("pqfile test CA"), tempfile::tempdir().unwrap());
    let (cert, _, der) = ca.leaf();
    let (_, other_key, _) = ca.leaf();
    let (cert_path, key_path) = install(dir.path(), &(cert, other_key, der));
    let files = pqfile_keyserver::https::CertificateFiles {
        cert: cert_path.clone(),
        key: key_path,
    };
    let err = files.load().expect_err("mismatched pair").to_string();
    assert!(err.contains("does not fit"), "{err}");
    let missing = pqfile_keyserver::https::CertificateFiles {
        cert: dir.path().join("absent.crt"),
        key: cert_path,
    };
    let err = missing.load().expect_err("missing file").to_string();
    assert!(err.contains("cannot read tls_cert_file"), "{err}");
}

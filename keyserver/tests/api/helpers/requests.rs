//! Requests as any user, admin calls, rewrap, ageing keys (issue 5).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pqfile_core::format::Header;
use serde_json::{Value, json};

use super::*;

impl TestApp {
    /// Runs `pqfile-keyserver ARGS` (an operator command) on this app's
    /// database and data directory, plus `env`; asserts success, returns stdout.
    pub fn operator(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pqfile-keyserver"))
            .args(args)
            .env("PQFILE_DATABASE_URL", as_app_role(&self.database_url))
            .env("PQFILE_OWNER_DATABASE_URL", &self.database_url)
            .env("PQFILE_DATA_DIR", &self.settings.data_dir)
            .env("PQFILE_KMS", "local")
            .env("RUST_LOG", "error")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// GET as admin, expecting 200 JSON.
    pub async fn admin_json(&self, path: &str) -> Value {
        let resp = self.get_as(&self.admin, path).await;
        assert_eq!(resp.status(), 200, "{path}");
        resp.json().await.unwrap()
    }

    /// POST as admin, expecting 200 JSON.
    pub async fn admin_post(&self, path: &str, body: &Value) -> Value {
        let resp = self.post_as(&self.admin, path, body).await;
        assert_eq!(resp.status(), 200, "{path}");
        resp.json().await.unwrap()
    }

    /// `POST /v1/documents/{doc}/rewrap` with `header` bytes.
    pub async fn rewrap(&self, token: &str, document_id: &str, header: &[u8]) -> reqwest::Response {
        self.post_as(
            token,
            &format!("/v1/documents/{document_id}/rewrap"),
            &json!({ "header": STANDARD.encode(header) }),
        )
        .await
    }

    /// Makes every key (or those matching `filter`) `days` days older.
    pub async fn age_keys(&self, days: i32, filter: &str) {
        self.db
            .execute(
                &format!(
                    "UPDATE encryption_keys SET created_at = created_at - make_interval(days => $1) WHERE {filter}"
                ),
                &[&days],
            )
            .await
            .unwrap();
    }

    pub async fn key_status(&self, id: u32) -> String {
        self.db
            .query_one(
                "SELECT status FROM encryption_keys WHERE id = $1",
                &[&i32::try_from(id).unwrap()],
            )
            .await
            .unwrap()
            .get(0)
    }

    pub async fn document_key(&self, doc: &str) -> i32 {
        self.db
            .query_one("SELECT key_id FROM documents WHERE id = $1", &[&doc])
            .await
            .unwrap()
            .get(0)
    }
}

impl EncryptedFile {
    pub fn header_bytes(&self) -> &[u8] {
        &self.bytes[..self.header_len]
    }

    /// The file with its header replaced by `header` (what a client does
    /// with a rewrap answer).
    pub fn with_header(&self, header: &[u8]) -> EncryptedFile {
        let mut bytes = header.to_vec();
        bytes.extend_from_slice(&self.bytes[self.header_len..]);
        let (parsed, header_len) = Header::parse(&bytes).unwrap();
        EncryptedFile {
            document_id: self.document_id,
            key_id: parsed.stanzas[0].key_id,
            header: parsed,
            header_len,
            bytes,
        }
    }
}

/// The new header of a successful rewrap answer, and the answer.
pub async fn rewrapped(resp: reqwest::Response) -> (Vec<u8>, Value) {
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let h = STANDARD.decode(v["header"].as_str().unwrap()).unwrap();
    (h, v)
}

/// Unwraps `file`'s first stanza as `token` and decrypts it.
pub async fn open_file(app: &TestApp, token: &str, file: &EncryptedFile) -> Vec<u8> {
    let (resp, eph) = app.unwrap(token, &file.document_id, file.stanza()).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    decrypt_with_transport(file, v["transport_stanza"].as_str().unwrap(), &eph)
}

pub fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

/// The text of `GET /metrics` (read with the admin's token).
pub async fn metrics(app: &TestApp) -> String {
    app.http
        .get(app.url("/metrics"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// `PUT /v1/documents/{doc}/content` as `token` with `body`.
pub fn put(app: &TestApp, token: &str, doc: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
    app.http
        .put(app.url(&format!("/v1/documents/{doc}/content")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(body)
}

//! Registering, encrypting and unwrapping documents as a client does, and
//! reading the answers.

use super::*;

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
        self.unwrap_via(&self.address, token, document_id, stanza)
            .await
    }

    /// As [`TestApp::unwrap`], through the server at `base` (another
    /// process on the same database).
    pub async fn unwrap_via(
        &self,
        base: &str,
        token: &str,
        document_id: &DocumentId,
        stanza: &Stanza,
    ) -> (reqwest::Response, SecretKey) {
        let eph = SecretKey::generate(&mut rng());
        let body = json!({
            "stanza": STANDARD.encode(stanza.to_bytes()),
            "ephemeral_public_key": STANDARD.encode(eph.public_key().to_bytes()),
        });
        let resp = self
            .http
            .post(format!("{base}/v1/documents/{document_id}/unwrap"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        (resp, eph)
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

    /// Inserts an audit row `days` days old, sealed as the server seals its
    /// rows (as if it had been written then).
    pub async fn aged_audit_row(&self, days: i32) {
        let seal = self.state.audit_seal();
        self.db
            .execute(
                "INSERT INTO access_logs (document_id, access_type, timestamp, user_id, outcome, seal)
                 VALUES (NULL, 'decrypt', now() - make_interval(days => $1), '1', 'allowed', $2)",
                &[&days, &seal],
            )
            .await
            .expect("insert an aged audit row");
    }

    /// Writes an audit row `days` old by hand, as a superuser would (no
    /// seal); returns its id.
    pub async fn forged_audit_row(&self, days: i32) -> i64 {
        self.db
            .query_one(
                "INSERT INTO access_logs (access_type, timestamp, user_id, outcome)
                 VALUES ('decrypt', now() - make_interval(days => $1), '1', 'allowed') RETURNING id",
                &[&days],
            )
            .await
            .expect("insert a forged audit row")
            .get(0)
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

//! The key server's HTTP API (see keyserver/README.md): create a document,
//! unwrap a stanza with the ephemeral-key transport (FORMAT.md §7).

use base64::{Engine, engine::general_purpose::STANDARD as B64};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::cli::ServerArgs;
use crate::error::CliError;

#[cfg(test)]
mod tests {
    #[test]
    fn clear_text_is_allowed_only_to_this_machine() {
        for url in [
            "https://keys.example",
            "http://127.0.0.1:8080",
            "http://localhost:8080/",
            "http://[::1]:8080",
            "http://127.0.0.2",
        ] {
            assert!(super::is_protected(url), "{url}");
        }
        for url in [
            "http://keys.example",
            "http://10.0.0.5:8080",
            "http://localhost.example:80",
            "http://127.0.0.1.nip.io",
            "http://user@keys.example",
        ] {
            assert!(!super::is_protected(url), "{url}");
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

pub struct Client {
    base: String,
    token: Zeroizing<String>,
    agent: ureq::Agent,
}

#[derive(Deserialize)]
pub struct KeyInfo {
    pub key_id: u32,
    pub algorithm: String,
    pub public_key: String,
}

#[derive(Deserialize)]
pub struct NewDocument {
    pub document_id: String,
    pub key: KeyInfo,
}

#[derive(Deserialize)]
struct UnwrapBody {
    transport_stanza: String,
    #[serde(default)]
    key_status: Option<String>,
    #[serde(default)]
    key_expires_at: Option<String>,
}

/// The answer to an unwrap: the transport stanza, and the state of the key
/// that opened the stanza (absent from servers older than issue 11).
pub struct Unwrapped {
    pub transport: Vec<u8>,
    /// `active` or `rotation_queued` (then the copy should be rewrapped).
    pub key_status: Option<String>,
    /// RFC 3339: when the key stops unwrapping.
    pub key_expires_at: Option<String>,
}

impl Unwrapped {
    /// The key is being retired: this copy should move to a current key.
    pub fn key_retiring(&self) -> bool {
        self.key_status.as_deref() == Some("rotation_queued")
    }
}

/// The answer to a rewrap: the new header and the key it now uses.
pub struct Rewrapped {
    pub header: Vec<u8>,
    pub key_id: Option<u32>,
    pub replaced_key_id: Option<u32>,
}

/// Whether `url` protects what is sent to it: https, or http to this
/// machine (loopback never leaves it).
fn is_protected(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return true; // https:// (anything else fails to connect)
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The CA certificates of a PEM file.
fn read_cas(path: &std::path::Path) -> Result<Vec<ureq::tls::Certificate<'static>>, CliError> {
    let what = format!("--ca-cert {}", path.display());
    let pem =
        std::fs::read(path).map_err(|e| CliError::CaCert(format!("cannot read {what}: {e}")))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::CaCert(format!("{what}: {e}")))?;
    if certs.is_empty() {
        return Err(CliError::CaCert(format!("{what} holds no certificate")));
    }
    Ok(certs)
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

impl Client {
    pub fn new(args: &ServerArgs) -> Result<Self, CliError> {
        let token = match (&args.token, &args.token_file) {
            (Some(t), _) if !t.trim().is_empty() => Zeroizing::new(t.trim().to_string()),
            (_, Some(path)) => {
                let t = std::fs::read_to_string(path).map_err(|source| CliError::Io {
                    what: format!("reading {}", path.display()),
                    source,
                })?;
                Zeroizing::new(t.trim().to_string())
            }
            _ => return Err(CliError::NoToken),
        };
        let base = args.server.trim_end_matches('/').to_string();
        if !args.allow_http && !is_protected(&base) {
            return Err(CliError::InsecureServer(base));
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = &args.ca_cert {
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&read_cas(path)?));
        }
        let agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            .user_agent(concat!("pqfile-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Self { base, token, agent })
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token.as_str())
    }

    fn unreachable(&self, e: ureq::Error) -> CliError {
        CliError::Unreachable {
            url: self.base.clone(),
            detail: e.to_string(),
        }
    }

    fn check(
        resp: ureq::http::Response<ureq::Body>,
    ) -> Result<ureq::http::Response<ureq::Body>, CliError> {
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let text = resp.into_body().read_to_string().unwrap_or_default();
        let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => (b.error.code, b.error.message),
            Err(_) => ("http_error".into(), format!("HTTP {status}")),
        };
        Err(CliError::Api(ApiError {
            status,
            code,
            message,
        }))
    }

    fn json(resp: ureq::http::Response<ureq::Body>) -> Result<serde_json::Value, CliError> {
        let text = Self::check(resp)?
            .into_body()
            .read_to_string()
            .map_err(|e| CliError::BadResponse(e.to_string()))?;
        if text.trim().is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| CliError::BadResponse(e.to_string()))
    }

    pub fn post(&self, path: &str, body: serde_json::Value) -> Result<serde_json::Value, CliError> {
        let url = format!("{}{}", self.base, path);
        let resp = self
            .agent
            .post(&url)
            .header("Authorization", &self.auth())
            .send_json(&body)
            .map_err(|e| self.unreachable(e))?;
        Self::json(resp)
    }

    /// Sends a bodiless request (GET, DELETE) with the token.
    fn call(
        &self,
        req: ureq::RequestBuilder<ureq::typestate::WithoutBody>,
    ) -> Result<ureq::http::Response<ureq::Body>, CliError> {
        req.header("Authorization", &self.auth())
            .call()
            .map_err(|e| self.unreachable(e))
    }

    pub fn get(&self, path: &str) -> Result<serde_json::Value, CliError> {
        Self::json(self.call(self.agent.get(format!("{}{}", self.base, path)))?)
    }

    pub fn delete(&self, path: &str) -> Result<serde_json::Value, CliError> {
        Self::json(self.call(self.agent.delete(format!("{}{}", self.base, path)))?)
    }

    /// Streams `body` (of `len` bytes) with PUT.
    pub fn put_stream(
        &self,
        path: &str,
        body: impl std::io::Read,
        len: u64,
    ) -> Result<serde_json::Value, CliError> {
        let url = format!("{}{}", self.base, path);
        let resp = self
            .agent
            .put(&url)
            .header("Authorization", &self.auth())
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", &len.to_string())
            .send(ureq::SendBody::from_reader(&mut std::io::BufReader::new(
                body,
            )))
            .map_err(|e| self.unreachable(e))?;
        Self::json(resp)
    }

    /// GETs a binary body as a reader.
    pub fn get_stream(
        &self,
        path: &str,
    ) -> Result<(Option<u64>, Box<dyn std::io::Read>), CliError> {
        let resp = Self::check(self.call(self.agent.get(format!("{}{}", self.base, path)))?)?;
        let len = resp.body().content_length();
        Ok((len, Box::new(resp.into_body().into_reader())))
    }

    /// Rewraps a document's header to a current key.
    pub fn rewrap(&self, document_id: &str, header: &[u8]) -> Result<Rewrapped, CliError> {
        let v = self.post(
            &format!("/v1/documents/{document_id}/rewrap"),
            serde_json::json!({ "header": B64.encode(header) }),
        )?;
        let h = v["header"]
            .as_str()
            .ok_or_else(|| CliError::BadResponse("missing header".into()))?;
        let key = |field: &str| v[field].as_u64().and_then(|k| u32::try_from(k).ok());
        Ok(Rewrapped {
            header: decode_b64(h)?,
            key_id: key("key_id"),
            replaced_key_id: key("replaced_key_id"),
        })
    }

    pub fn create_document(&self) -> Result<NewDocument, CliError> {
        let v = self.post("/v1/documents", serde_json::json!({}))?;
        let d: NewDocument =
            serde_json::from_value(v).map_err(|e| CliError::BadResponse(e.to_string()))?;
        if d.key.algorithm != "ML-KEM-768" {
            return Err(CliError::UnsupportedAlgorithm(d.key.algorithm));
        }
        Ok(d)
    }

    /// Returns the transport stanza bytes and the opening key's state.
    pub fn unwrap(
        &self,
        document_id: &str,
        stanza: &[u8],
        ephemeral_pk: &[u8],
    ) -> Result<Unwrapped, CliError> {
        let v = self.post(
            &format!("/v1/documents/{document_id}/unwrap"),
            serde_json::json!({ "stanza": B64.encode(stanza), "ephemeral_public_key": B64.encode(ephemeral_pk) }),
        )?;
        let u: UnwrapBody =
            serde_json::from_value(v).map_err(|e| CliError::BadResponse(e.to_string()))?;
        Ok(Unwrapped {
            transport: decode_b64(&u.transport_stanza)?,
            key_status: u.key_status,
            key_expires_at: u.key_expires_at,
        })
    }
}

pub fn decode_b64(s: &str) -> Result<Vec<u8>, CliError> {
    B64.decode(s)
        .map_err(|e| CliError::BadResponse(e.to_string()))
}

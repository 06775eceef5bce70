//! The key server's HTTP API (see keyserver/README.md): create a document,
//! unwrap a stanza with the ephemeral-key transport (FORMAT.md §7).

use base64::{Engine, engine::general_purpose::STANDARD as B64};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::cli::ServerArgs;
use crate::error::CliError;

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
struct Unwrapped {
    transport_stanza: String,
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
                let t = std::fs::read_to_string(path)
                    .map_err(|source| CliError::Io { what: format!("reading {}", path.display()), source })?;
                Zeroizing::new(t.trim().to_string())
            }
            _ => return Err(CliError::NoToken),
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            .user_agent(concat!("pqfile-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Self { base: args.server.trim_end_matches('/').to_string(), token, agent })
    }

    fn post(&self, path: &str, body: serde_json::Value) -> Result<serde_json::Value, CliError> {
        let url = format!("{}{}", self.base, path);
        let resp = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token.as_str()))
            .send_json(&body)
            .map_err(|e| CliError::Unreachable { url: self.base.clone(), detail: e.to_string() })?;
        let status = resp.status().as_u16();
        let text = resp
            .into_body()
            .read_to_string()
            .map_err(|e| CliError::BadResponse(e.to_string()))?;
        if !(200..300).contains(&status) {
            let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
                Ok(b) => (b.error.code, b.error.message),
                Err(_) => ("http_error".into(), format!("HTTP {status}")),
            };
            return Err(CliError::Api(ApiError { status, code, message }));
        }
        serde_json::from_str(&text).map_err(|e| CliError::BadResponse(e.to_string()))
    }

    pub fn create_document(&self) -> Result<NewDocument, CliError> {
        let v = self.post("/v1/documents", serde_json::json!({}))?;
        let d: NewDocument = serde_json::from_value(v).map_err(|e| CliError::BadResponse(e.to_string()))?;
        if d.key.algorithm != "ML-KEM-768" {
            return Err(CliError::BadResponse(format!("unsupported key algorithm {}", d.key.algorithm)));
        }
        Ok(d)
    }

    /// Returns the transport stanza bytes.
    pub fn unwrap(&self, document_id: &str, stanza: &[u8], ephemeral_pk: &[u8]) -> Result<Vec<u8>, CliError> {
        let v = self.post(
            &format!("/v1/documents/{document_id}/unwrap"),
            serde_json::json!({ "stanza": B64.encode(stanza), "ephemeral_public_key": B64.encode(ephemeral_pk) }),
        )?;
        let u: Unwrapped = serde_json::from_value(v).map_err(|e| CliError::BadResponse(e.to_string()))?;
        B64.decode(u.transport_stanza).map_err(|e| CliError::BadResponse(e.to_string()))
    }
}

pub fn decode_b64(s: &str) -> Result<Vec<u8>, CliError> {
    B64.decode(s).map_err(|e| CliError::BadResponse(e.to_string()))
}

//! CLI errors: what went wrong, a stable code, and a hint the user can act on.

use crate::client::ApiError;
use pqfile_core::keyserver_unwrap::ResponseError;
use pqfile_core::{DecryptError, EncryptError, ParseError};

#[derive(Debug)]
pub enum CliError {
    /// Reading or writing a file.
    Io {
        what: String,
        source: std::io::Error,
    },
    /// The output exists.
    OutputExists(String),
    /// No token configured.
    NoToken,
    /// The key server could not be reached.
    Unreachable { url: String, detail: String },
    /// The key server answered with an error.
    Api(ApiError),
    /// A malformed file header.
    Parse(ParseError),
    /// Decryption failed (opaque).
    Decrypt(DecryptError),
    /// Encryption failed.
    Encrypt(EncryptError),
    /// The key server sent something that is not valid.
    BadResponse(String),
    /// The key server offered a key of a KEM this version cannot encrypt to.
    UnsupportedAlgorithm(String),
    /// A file changed while it was being rewrapped; it is left as it was.
    FileChanged(String),
    /// The `--ca-cert` file cannot be used.
    CaCert(String),
    /// An http:// server off this machine without --allow-http.
    InsecureServer(String),
}

impl CliError {
    pub fn code(&self) -> &str {
        match self {
            Self::Io { .. } => "io_error",
            Self::OutputExists(_) => "output_exists",
            Self::NoToken => "no_token",
            Self::Unreachable { .. } => "server_unreachable",
            Self::Api(e) => &e.code,
            Self::Parse(e) => e.code(),
            Self::Decrypt(e) => e.code(),
            Self::Encrypt(e) => e.code(),
            Self::BadResponse(_) => "bad_server_response",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::FileChanged(_) => "file_changed",
            Self::CaCert(_) => "bad_ca_cert",
            Self::InsecureServer(_) => "insecure_server",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Io { what, source } => format!("{what}: {source}"),
            Self::OutputExists(p) => format!("{p} already exists"),
            Self::NoToken => "no API token configured".into(),
            Self::Unreachable { url, detail } => {
                format!("cannot reach the key server at {url}: {detail}")
            }
            Self::Api(e) => format!(
                "key server refused the request (HTTP {}): {}",
                e.status, e.message
            ),
            Self::Parse(e) => e.to_string(),
            Self::Decrypt(e) => e.to_string(),
            Self::Encrypt(e) => e.to_string(),
            Self::BadResponse(m) => format!("invalid response from the key server: {m}"),
            Self::UnsupportedAlgorithm(a) => {
                format!("the key server's key uses {a}, which this version cannot encrypt to")
            }
            Self::FileChanged(p) => format!("{p} changed while it was being rewrapped"),
            Self::CaCert(m) => m.clone(),
            Self::InsecureServer(url) => {
                format!("refusing to send the API token to {url} without TLS")
            }
        }
    }

    fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Self::OutputExists(_) => "pass --force to overwrite it, or choose another name with -o",
            Self::NoToken => {
                "set PQFILE_TOKEN or pass --token-file (scripts/run.sh prints a token on first start)"
            }
            Self::Unreachable { detail, .. } if detail.contains("UnknownIssuer") => {
                "the server's certificate is not signed by a CA this CLI trusts: pass --ca-cert FILE (PEM) for a private CA"
            }
            Self::Unreachable { .. } => {
                "is the key server running? start it with scripts/run.sh or set PQFILE_SERVER"
            }
            Self::Api(e) if e.code == "token_expired" => {
                "your API token has expired: ask an admin for a new one (pqfile-keyserver token create NAME)"
            }
            Self::Api(e) if e.code == "token_revoked" => {
                "your API token was revoked (or your account disabled): ask an admin"
            }
            Self::Api(e) if e.status == 401 => {
                "your token is missing or not one this server issued: check PQFILE_TOKEN"
            }
            Self::Api(e) if e.code == "key_revoked" => {
                "the key protecting this file was revoked; an admin can rescue it with `pqfile admin rewrap FILE`"
            }
            Self::Api(e) if e.code == "admin_only" => "this needs an admin token",
            Self::Api(e) if e.code == "stored_header_mismatch" => {
                "the key server stores another copy of this document; keep this file as it is (it decrypts until its key expires) or download the stored copy"
            }
            Self::FileChanged(_) => "the file was left as it was; run the command again",
            Self::InsecureServer(_) => {
                "use the server's https:// URL, or pass --allow-http if the network is trusted"
            }
            Self::Api(e) if e.status == 403 => {
                "you are not allowed to decrypt this document: ask its owner to share it"
            }
            Self::Api(e) if e.status == 503 => {
                "the key server's KMS is unavailable: try again later"
            }
            Self::UnsupportedAlgorithm(_) => {
                "update pqfile: the key server hands out keys of a newer KEM"
            }
            Self::Parse(ParseError::BadMagic) => "this is not a .pqf file",
            Self::Parse(ParseError::Incomplete { .. }) => {
                "the file is cut short: was the download or copy complete?"
            }
            Self::Decrypt(DecryptError::DecryptionFailed) => {
                "the file was modified, truncated or is not the original; no output was kept"
            }
            _ => return None,
        })
    }

    pub fn report(&self) {
        eprintln!("error: {} [{}]", self.message(), self.code());
        if let Some(h) = self.hint() {
            eprintln!("hint: {h}");
        }
    }

    /// Reports a failure that does not fail the command (`what` says what
    /// did not happen).
    pub fn report_warning(&self, what: &str) {
        eprintln!("warning: {what}: {} [{}]", self.message(), self.code());
        if let Some(h) = self.hint() {
            eprintln!("hint: {h}");
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Decrypt(_) | Self::Parse(_) => 2,
            Self::Api(_)
            | Self::Unreachable { .. }
            | Self::BadResponse(_)
            | Self::UnsupportedAlgorithm(_)
            | Self::NoToken => 3,
            _ => 1,
        }
    }
}

impl From<ParseError> for CliError {
    fn from(e: ParseError) -> Self {
        Self::Parse(e)
    }
}

impl From<DecryptError> for CliError {
    fn from(e: DecryptError) -> Self {
        match e {
            DecryptError::Parse(p) => Self::Parse(p),
            e => Self::Decrypt(e),
        }
    }
}

impl From<EncryptError> for CliError {
    fn from(e: EncryptError) -> Self {
        Self::Encrypt(e)
    }
}

/// The key server's answer to an unwrap did not give the file key.
impl From<ResponseError> for CliError {
    fn from(e: ResponseError) -> Self {
        match e {
            ResponseError::DecryptionFailed => Self::Decrypt(DecryptError::DecryptionFailed),
            e => Self::BadResponse(e.to_string()),
        }
    }
}

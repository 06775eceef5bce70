//! TLS to PostgreSQL, the way libpq reads a connection string.
//!
//! tokio-postgres parses `sslmode` only as `disable`, `prefer` or `require`
//! and knows no `sslrootcert`, so [`Target::parse`] takes the TLS parameters
//! out of the URL first, hands the rest to tokio-postgres, and builds one
//! rustls connector (ring provider) whose certificate check is the mode's:
//!
//! | `sslmode`            | TLS                          | certificate checked         |
//! |----------------------|------------------------------|-----------------------------|
//! | `disable`            | never                        | —                           |
//! | `prefer` (default)   | if the server offers it      | no                          |
//! | `require`            | always                       | no; as `verify-ca` when `sslrootcert` is given |
//! | `verify-ca`          | always                       | chain to `sslrootcert`      |
//! | `verify-full`        | always                       | chain and host name         |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the
//! operating system's store; without it `verify-*` read
//! `~/.postgresql/root.crt`, as libpq does, and fail if there is none.
//! The host name checked is the URL's `host` (also with `hostaddr`).
//! Client certificates (`sslcert`, `sslkey`) are not supported and refused.
//! Unlike libpq, `prefer` does not retry in clear after a failed handshake.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::DbError;

/// The `sslmode` of a connection string (libpq's five).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Clear text only.
    Disable,
    /// TLS if the server offers it, no certificate check.
    Prefer,
    /// TLS always, no certificate check (unless `sslrootcert` is given).
    Require,
    /// TLS always, the chain checked against `sslrootcert`.
    VerifyCa,
    /// TLS always, the chain and the host name checked.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, DbError> {
        Ok(match value {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            // libpq's `allow` tries clear text first: never what a key server wants.
            other => {
                return Err(DbError::Tls(format!(
                    "sslmode={other} is not supported (use disable, prefer, require, verify-ca or verify-full)"
                )));
            }
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    /// What tokio-postgres is told: whether TLS is off, optional or required.
    fn transport(self) -> tokio_postgres::config::SslMode {
        match self {
            Self::Disable => tokio_postgres::config::SslMode::Disable,
            Self::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        }
    }
}

/// Where and how to connect: tokio-postgres settings plus the TLS connector
/// the URL's `sslmode` and `sslrootcert` ask for.
#[derive(Clone)]
pub struct Target {
    /// Everything but TLS (`sslmode` reduced to off, optional or required).
    pub config: tokio_postgres::Config,
    /// The connector whose certificate check is the mode's.
    pub tls: MakeRustlsConnect,
    /// The `sslmode` asked for.
    pub mode: SslMode,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Config's Debug redacts the password.
        f.debug_struct("Target")
            .field("config", &self.config)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Parses a `postgres://` URL or a `key=value` connection string.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        let (rest, params) = take_tls_params(url)?;
        let mut config = tokio_postgres::Config::from_str(&rest).map_err(DbError::Url)?;
        config.ssl_mode(params.mode.transport());
        let verifier = Verifier::new(params.mode, params.root_cert.as_deref())?;
        let tls = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| DbError::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(Self {
            config,
            tls: MakeRustlsConnect::new(tls),
            mode: params.mode,
        })
    }

    /// One connection (its driver must be spawned by the caller).
    pub async fn connect(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            tokio_postgres::Connection<tokio_postgres::Socket, TlsStream>,
        ),
        tokio_postgres::Error,
    > {
        self.config.connect(self.tls.clone()).await
    }
}

/// The stream type of a connection made by [`Target::connect`].
pub type TlsStream =
    <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>>::Stream;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

struct TlsParams {
    mode: SslMode,
    /// `sslrootcert`: a file, or `system`.
    root_cert: Option<String>,
}

/// Splits the TLS parameters off `url`; returns the rest for tokio-postgres
/// (with `sslmode` reduced to what it knows).
fn take_tls_params(url: &str) -> Result<(String, TlsParams), DbError> {
    let mut mode = SslMode::Prefer;
    let mut root_cert = None;
    let mut take = |key: &str, value: &str| -> Result<bool, DbError> {
        match key {
            "sslmode" => mode = SslMode::parse(value)?,
            "sslrootcert" => root_cert = Some(value.to_owned()),
            "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" => {
                return Err(DbError::Tls(format!(
                    "{key} is not supported: the key server does not present client certificates or read CRLs"
                )));
            }
            _ => return Ok(false),
        }
        Ok(true)
    };
    let rest = if let Some((base, query)) = url
        .split_once('?')
        .filter(|_| url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(k, &percent_decode(v)?)? {
                kept.push(pair);
            }
        }
        if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        url.to_owned()
    } else {
        // key=value form; values with spaces or quotes are left to
        // tokio-postgres, which rejects the verify modes it does not know.
        let mut kept = Vec::new();
        for token in url.split_whitespace() {
            match token.split_once('=') {
                Some((k, v)) if take(k, v)? => {}
                _ => kept.push(token),
            }
        }
        kept.join(" ")
    };
    Ok((rest, TlsParams { mode, root_cert }))
}

fn percent_decode(value: &str) -> Result<String, DbError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| DbError::Tls(format!("bad percent-encoding in {value:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| DbError::Tls(format!("{value:?} is not UTF-8")))
}

/// The certificate check of one `sslmode`.
#[derive(Debug)]
struct Verifier {
    mode: SslMode,
    /// Chain (and name) verification; `None` when the mode checks nothing.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    /// Which roots, for error messages.
    roots: String,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Verifier {
    fn new(mode: SslMode, root_cert: Option<&str>) -> Result<Self, DbError> {
        let algorithms = provider().signature_verification_algorithms;
        let checks_chain = match mode {
            SslMode::VerifyCa | SslMode::VerifyFull => true,
            // libpq: `require` with a root certificate behaves as `verify-ca`.
            SslMode::Require => root_cert.is_some(),
            SslMode::Disable | SslMode::Prefer => false,
        };
        if !checks_chain {
            return Ok(Self {
                mode,
                webpki: None,
                roots: String::new(),
                algorithms,
            });
        }
        let (roots, name) = load_roots(mode, root_cert)?;
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| DbError::Tls(format!("cannot use {name}: {e}")))?;
        Ok(Self {
            mode: if mode == SslMode::Require {
                SslMode::VerifyCa
            } else {
                mode
            },
            webpki: Some(webpki),
            roots: name,
            algorithms,
        })
    }

    /// A rustls certificate error reworded to name the setting at fault.
    fn explain(&self, e: rustls::Error, server_name: &ServerName<'_>) -> rustls::Error {
        let why = match &e {
            rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer | CertificateError::BadSignature,
            ) => format!(
                "the server's certificate is not signed by a CA in {} (sslmode={})",
                self.roots,
                self.mode.as_str()
            ),
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => format!(
                "the server's certificate is not valid for the host name {} (sslmode=verify-full checks it; {e})",
                server_name.to_str()
            ),
            rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. },
            ) => format!("the server's certificate has expired ({e})"),
            _ => return e,
        };
        // `Other`, not `InvalidCertificate(Other)`: rustls prints the
        // latter with `Debug`.
        rustls::Error::Other(rustls::OtherError(Arc::new(Explained(why))))
    }
}

#[derive(Debug)]
struct Explained(String);

impl std::fmt::Display for Explained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Explained {}

fn load_roots(mode: SslMode, root_cert: Option<&str>) -> Result<(RootCertStore, String), DbError> {
    let mut roots = RootCertStore::empty();
    if root_cert == Some("system") {
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(DbError::Tls(
                "sslrootcert=system: the system certificate store has no usable CA".into(),
            ));
        }
        return Ok((roots, "the system certificate store".into()));
    }
    let path = match root_cert {
        Some(p) => PathBuf::from(p),
        None => {
            let default = std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".postgresql/root.crt"))
                .filter(|p| p.exists());
            default.ok_or_else(|| {
                DbError::Tls(format!(
                    "sslmode={} needs the CA that signed the server's certificate: \
                     add sslrootcert=FILE (PEM) or sslrootcert=system to the database URL",
                    mode.as_str()
                ))
            })?
        }
    };
    let name = format!("sslrootcert {}", path.display());
    let certs = CertificateDer::pem_file_iter(&path)
        .map_err(|e| DbError::Tls(format!("cannot read {name}: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DbError::Tls(format!("cannot read {name}: {e}")))?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(DbError::Tls(format!("{name} holds no CA certificate")));
    }
    Ok((roots, name))
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            // webpki checks the chain before the name: a name error means
            // the chain is good, which is all `verify-ca` asks.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.mode == SslMode::VerifyCa => Ok(ServerCertVerified::assertion()),
            Err(e) => Err(self.explain(e, server_name)),
            Ok(v) => Ok(v),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes_are_taken_out_of_the_url_and_the_rest_kept() {
        let (rest, p) = take_tls_params(
            "postgres://u@db:5432/x?application_name=a&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u@db:5432/x?application_name=a");
        assert_eq!(p.mode, SslMode::VerifyFull);
        assert_eq!(p.root_cert.as_deref(), Some("/etc/ca.pem"));

        let (rest, p) =
            take_tls_params("host=db sslmode=verify-ca sslrootcert=/ca dbname=x").unwrap();
        assert_eq!(rest, "host=db dbname=x");
        assert_eq!(p.mode, SslMode::VerifyCa);

        let (_, p) = take_tls_params("postgres://u@db/x").unwrap();
        assert_eq!(p.mode, SslMode::Prefer, "libpq's default");
    }

    #[test]
    fn unsupported_settings_are_refused_by_name() {
        for (url, word) in [
            ("postgres://u@db/x?sslmode=allow", "sslmode=allow"),
            ("postgres://u@db/x?sslcert=/c", "sslcert"),
            ("postgres://u@db/x?sslmode=verify", "sslmode=verify"),
        ] {
            let e = Target::parse(url).unwrap_err().to_string();
            assert!(e.contains(word), "{url}: {e}");
        }
    }

    #[test]
    fn verify_without_a_root_certificate_says_what_to_add() {
        let e = Verifier::new(SslMode::VerifyFull, Some("/nonexistent/ca.pem")).unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot read sslrootcert /nonexistent/ca.pem"),
            "{e}"
        );
    }
}

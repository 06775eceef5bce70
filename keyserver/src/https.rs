//! HTTPS: the listener's certificate (`tls_cert_file`, `tls_key_file`, PEM),
//! served through rustls (ring provider; TLS 1.2 and 1.3; HTTP/2 and
//! HTTP/1.1 by ALPN) and reloaded without a restart.
//!
//! [`ReloadingCertificate`] answers every handshake with the certificate it
//! holds now. A reload (SIGHUP, or either file changing: their modification
//! time and size are polled every `tls_reload_interval_secs`) swaps it for
//! the next handshakes only; open connections keep the session they have, so
//! nothing is dropped. A reload that fails (unreadable file, key not matching
//! the certificate, a half-written pair) keeps the current certificate and is
//! logged; the next change or SIGHUP tries again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// `Strict-Transport-Security` sent on every answer when HTTPS is on: a
/// year, this host only (subdomains may be other services).
pub const HSTS: &str = "max-age=31536000";

/// Why a certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("HTTPS certificate: {0}")]
pub struct CertificateError(String);

/// The certificate and key files.
#[derive(Clone, Debug)]
pub struct CertificateFiles {
    /// PEM: the server certificate first, then its intermediates.
    pub cert: PathBuf,
    /// PEM: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// What a change to the files looks like from outside: modification time
/// and size of both.
type Stamp = [(Option<SystemTime>, u64); 2];

impl CertificateFiles {
    fn stamp(&self) -> Stamp {
        let one =
            |p: &Path| std::fs::metadata(p).map_or((None, 0), |m| (m.modified().ok(), m.len()));
        [one(&self.cert), one(&self.key)]
    }

    /// Reads and checks the pair: a chain, a key, and the key matching the
    /// chain's first certificate.
    pub fn load(&self) -> Result<CertifiedKey, CertificateError> {
        let cert_name = format!("tls_cert_file {}", self.cert.display());
        let key_name = format!("tls_key_file {}", self.key.display());
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .map_err(|e| CertificateError(format!("cannot read {cert_name}: {e}")))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CertificateError(format!("cannot read {cert_name}: {e}")))?;
        if chain.is_empty() {
            return Err(CertificateError(format!(
                "{cert_name} holds no certificate"
            )));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| {
            CertificateError(format!("cannot read a private key from {key_name}: {e}"))
        })?;
        CertifiedKey::from_der(chain, key, &provider()).map_err(|e| {
            CertificateError(format!(
                "{key_name} does not fit {cert_name} (or is of an unsupported type): {e}"
            ))
        })
    }
}

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The certificate every new handshake gets; swapped by [`Self::reload`].
#[derive(Debug)]
pub struct ReloadingCertificate {
    files: CertificateFiles,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files as they were when last loaded (or tried).
    seen: Mutex<Stamp>,
}

impl ReloadingCertificate {
    /// Loads the files once; an error here stops start-up.
    pub fn load(files: CertificateFiles) -> Result<Arc<Self>, CertificateError> {
        let seen = files.stamp();
        let current = files.load()?;
        Ok(Arc::new(Self {
            files,
            current: RwLock::new(Arc::new(current)),
            seen: Mutex::new(seen),
        }))
    }

    /// Loads the files again and serves them from the next handshake on;
    /// on error keeps what it has.
    pub fn reload(&self) -> Result<(), CertificateError> {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = self.files.stamp();
        let next = self.files.load()?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(())
    }

    /// Whether either file changed since the last (attempted) load.
    fn changed(&self) -> bool {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) != self.files.stamp()
    }

    /// The rustls configuration of the listener (actix-web adds the ALPN
    /// protocols h2 and http/1.1).
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, CertificateError> {
        Ok(
            rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| CertificateError(e.to_string()))?
                .with_no_client_auth()
                .with_cert_resolver(self.clone()),
        )
    }

    /// Reloads on SIGHUP, and when the files change (checked every `every`),
    /// for as long as the process runs.
    pub fn spawn_reloader(self: &Arc<Self>, every: Duration) {
        let cert = self.clone();
        tokio::spawn(async move {
            let mut hangup = match tokio::signal::unix::signal(
                tokio::signal::unix::SignalKind::hangup(),
            ) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "no SIGHUP handler: certificates reload on file changes only");
                    None
                }
            };
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let why = tokio::select! {
                    Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => None } } => "SIGHUP",
                    _ = tick.tick() => {
                        if !cert.changed() { continue; }
                        "file change"
                    }
                };
                match cert.reload() {
                    Ok(()) => {
                        tracing::info!(trigger = why, cert = %cert.files.cert.display(), "HTTPS certificate reloaded")
                    }
                    Err(e) => {
                        tracing::error!(trigger = why, error = %e, "HTTPS certificate not reloaded; still serving the previous one")
                    }
                }
            }
        });
    }
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

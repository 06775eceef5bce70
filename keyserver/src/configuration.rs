//! Settings: built-in defaults, then an optional TOML file (`PQFILE_CONFIG` or
//! `--config`), then `PQFILE_*` environment variables, each overriding the last.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Which [`crate::kms::KeyWrapper`] protects the private keys.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum KmsKind {
    /// A master key file in the data directory (the embedded default).
    Local,
    /// AWS KMS (or any endpoint speaking its API, such as moto).
    Aws,
}

/// Everything the key server reads at start-up.
#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    /// PostgreSQL URL the server runs as, e.g.
    /// `postgres://pqfile_app@127.0.0.1:5432/pqfile_db`: the runtime role,
    /// which may append to the audit log but not change or delete it.
    pub database_url: String,
    /// PostgreSQL URL of the role that owns the tables: migrations and
    /// access-log retention run as it (short-lived connections). Unset: the
    /// runtime URL is used for those too (then the audit log is only as
    /// append-only as that role's rights make it).
    pub owner_database_url: Option<String>,
    /// Most pooled connections to PostgreSQL (transactions, admin, background work).
    pub db_pool_max: usize,
    /// Shared, pipelined connections per worker thread for the per-request
    /// statements (token lookup, document lookup, audit row).
    pub db_pipelined: usize,
    /// `host:port` to listen on; port 0 picks a free port.
    pub bind: String,
    /// Folder served at `/` (the web page).
    pub web_dir: PathBuf,
    /// Folder for server state outside the database (stored ciphertexts).
    pub data_dir: PathBuf,
    /// The local KMS master key file (`kms = local`). Keep it away from the
    /// database and its backups: a database dump alone must recover nothing.
    /// Unset: `DATA_DIR/kms-master.key`.
    pub kms_master_key: Option<PathBuf>,
    /// `local` or `aws`.
    pub kms: KmsKind,
    /// AWS KMS key id, ARN or alias that wraps the private keys (`kms = aws`).
    pub kms_key_id: Option<String>,
    /// AWS region (`kms = aws`).
    pub kms_region: String,
    /// Endpoint override for a KMS emulator (`kms = aws`).
    pub kms_endpoint: Option<String>,
    /// Number of active key pairs the pool keeps.
    pub pool_size: u32,
    /// Seconds between background pool checks.
    pub pool_refill_interval_secs: u64,
    /// Most unwrapped private keys kept in memory (0 disables the cache).
    pub key_cache_size: usize,
    /// Seconds an unwrapped private key stays in memory.
    pub key_cache_ttl_secs: u64,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// `pretty` or `json` logs.
    pub log_format: String,
    /// Active keys older than this many days are queued for rotation.
    pub rotation_age_days: u32,
    /// Seconds between background maintenance runs (expiry, rotation,
    /// rotation completion, pool refill, access-log retention).
    pub maintenance_interval_secs: u64,
    /// Access-log rows older than this many days are deleted by maintenance.
    pub access_log_retention_days: u32,
    /// No retention, scheduled or on demand, deletes rows younger than this
    /// many days. Never below [`MIN_RETENTION_FLOOR_DAYS`].
    pub access_log_retention_floor_days: u32,
    /// Days a rotated key keeps unwrapping (`rotation_queued`) before it
    /// expires; stored ciphertexts are rewrapped off it in that time.
    pub rotation_grace_days: u32,
    /// Milliseconds between signed audit-log checkpoints.
    pub audit_checkpoint_interval_ms: u64,
    /// Largest ciphertext `PUT /v1/documents/{id}/content` accepts, in bytes.
    pub max_content_bytes: u64,
    /// Folder for stored ciphertexts (default `DATA_DIR/content`).
    pub content_dir: Option<PathBuf>,
    /// A bearer token that may read `GET /metrics` (for a Prometheus
    /// scraper) besides admins' API tokens.
    pub metrics_token: Option<Secret>,
    /// Serve `GET /metrics` to anyone (only behind a network that keeps
    /// strangers out). Default false: a token is needed.
    pub metrics_public: bool,
    /// Comma-separated CIDRs or addresses of the reverse proxies whose
    /// `Forwarded` / `X-Forwarded-For` name the client (`client_address`);
    /// empty: the TCP peer is the client, headers are ignored.
    pub trusted_proxies: String,
    /// PEM certificate chain of the HTTPS listener (`https`). With
    /// `tls_key_file` set too, `bind` speaks HTTPS (HTTP/2 and HTTP/1.1)
    /// instead of HTTP, and every answer carries HSTS.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the HTTPS listener.
    pub tls_key_file: Option<PathBuf>,
    /// Seconds between checks of the certificate files for changes (a
    /// changed pair is reloaded; SIGHUP reloads at once).
    pub tls_reload_interval_secs: u64,
    /// API requests a second one client address may make (0: no limit);
    /// per process (`rate_limit`).
    pub rate_limit_per_address: u32,
    /// Requests one address may make at once above its rate.
    pub rate_limit_address_burst: u32,
    /// API requests a second one token may make (0: no limit); per process.
    pub rate_limit_per_token: u32,
    /// Requests one token may make at once above its rate.
    pub rate_limit_token_burst: u32,
    /// Seconds a request body may stall (no byte arriving) before the
    /// request is answered 408 and the connection closed.
    pub body_read_timeout_secs: u64,
    /// Seconds a client has to send a request's head (line and headers).
    pub header_read_timeout_secs: u64,
    /// Most open client connections (all workers together); more wait in
    /// the listen backlog.
    pub max_connections: usize,
    /// Most documents one user may register (0: no limit; `quota`).
    pub quota_documents: u64,
    /// Most bytes of stored ciphertext one user may keep (0: no limit).
    pub quota_stored_bytes: u64,
    /// Days a new API token is valid unless `token create
    /// --expires-in-days` says otherwise (1 to 3650).
    pub token_lifetime_days: u32,
}

/// A setting that must not be printed: its `Debug` is redacted.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for comparing it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// The lowest retention floor a configuration may set (issue 11).
pub const MIN_RETENTION_FLOOR_DAYS: u32 = 30;

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or the environment could not be read or parsed.
    #[error("invalid configuration: {0}")]
    Read(#[from] config::ConfigError),
    /// The values parse but break a rule.
    #[error("invalid configuration: {0}")]
    Rule(String),
}

impl Settings {
    /// Where stored ciphertexts live.
    pub fn content_dir(&self) -> PathBuf {
        self.content_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("content"))
    }

    /// The URL migrations and retention run as.
    pub fn owner_url(&self) -> &str {
        self.owner_database_url
            .as_deref()
            .unwrap_or(&self.database_url)
    }

    /// The local KMS master key file.
    pub fn kms_master_key_path(&self) -> PathBuf {
        self.kms_master_key
            .clone()
            .unwrap_or_else(|| self.data_dir.join("kms-master.key"))
    }

    /// The HTTPS certificate files, if HTTPS is configured.
    pub fn https(&self) -> Option<crate::https::CertificateFiles> {
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => Some(crate::https::CertificateFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }

    /// Checks the rules the types cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=crate::accounts::MAX_TOKEN_DAYS).contains(&self.token_lifetime_days) {
            return Err(ConfigError::Rule(format!(
                "token_lifetime_days is {}; it must be 1 to {}",
                self.token_lifetime_days,
                crate::accounts::MAX_TOKEN_DAYS
            )));
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err(ConfigError::Rule(
                "tls_cert_file and tls_key_file go together: set both for HTTPS, or neither".into(),
            ));
        }
        if self.access_log_retention_floor_days < MIN_RETENTION_FLOOR_DAYS {
            return Err(ConfigError::Rule(format!(
                "access_log_retention_floor_days is {}; it may not be below {MIN_RETENTION_FLOOR_DAYS}",
                self.access_log_retention_floor_days
            )));
        }
        crate::client_address::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(ConfigError::Rule)?;
        if self.access_log_retention_days < self.access_log_retention_floor_days {
            return Err(ConfigError::Rule(format!(
                "access_log_retention_days ({}) is below the retention floor ({} days)",
                self.access_log_retention_days, self.access_log_retention_floor_days
            )));
        }
        Ok(())
    }

    /// Reads defaults, then `file` (or `PQFILE_CONFIG`) if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env_file = std::env::var_os("PQFILE_CONFIG").map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(env_file);
        let mut b = config::Config::builder()
            .set_default(
                "database_url",
                "postgres://postgres@127.0.0.1:5432/pqfile_db",
            )?
            .set_default("db_pool_max", 32)?
            .set_default("db_pipelined", 2)?
            .set_default("bind", "127.0.0.1:8080")?
            .set_default("web_dir", "web")?
            .set_default("data_dir", ".pqfile")?
            .set_default("kms", "local")?
            .set_default("kms_region", "us-east-1")?
            .set_default("pool_size", 100)?
            .set_default("pool_refill_interval_secs", 30)?
            .set_default("key_cache_size", 1024)?
            .set_default("key_cache_ttl_secs", 300)?
            .set_default("workers", 0)?
            .set_default("log_format", "pretty")?
            .set_default("rotation_age_days", 30)?
            .set_default("maintenance_interval_secs", 3600)?
            .set_default("access_log_retention_days", 365)?
            .set_default("access_log_retention_floor_days", MIN_RETENTION_FLOOR_DAYS)?
            .set_default("rotation_grace_days", 30)?
            .set_default("audit_checkpoint_interval_ms", 2000)?
            .set_default("max_content_bytes", 4_u64 << 30)?
            .set_default("metrics_public", false)?
            .set_default("trusted_proxies", "")?
            .set_default("tls_reload_interval_secs", 30)?
            .set_default("token_lifetime_days", 90)?
            .set_default("rate_limit_per_address", 100)?
            .set_default("rate_limit_address_burst", 200)?
            .set_default("rate_limit_per_token", 50)?
            .set_default("rate_limit_token_burst", 100)?
            .set_default("body_read_timeout_secs", 30)?
            .set_default("header_read_timeout_secs", 10)?
            .set_default("max_connections", 4096)?
            .set_default("quota_documents", 1_000_000)?
            .set_default("quota_stored_bytes", 50_u64 << 30)?;
        if let Some(f) = file {
            b = b.add_source(
                config::File::from(f)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        b = b.add_source(config::Environment::with_prefix("PQFILE").try_parsing(true));
        let settings: Self = b.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settings_file_overrides_the_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keyserver.toml");
        std::fs::write(
            &path,
            "pool_size = 7\nkms = \"aws\"\nkms_key_id = \"alias/pqfile\"\nkey_cache_size = 0\n",
        )
        .expect("write");
        let s = Settings::load(Some(&path)).expect("load");
        assert_eq!(s.pool_size, 7);
        assert_eq!(s.kms, KmsKind::Aws);
        assert_eq!(s.kms_key_id.as_deref(), Some("alias/pqfile"));
        assert_eq!(s.key_cache_size, 0);
        assert_eq!(
            s.key_cache_ttl_secs, 300,
            "untouched keys keep their defaults"
        );
    }

    #[test]
    fn a_retention_floor_below_thirty_days_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keyserver.toml");
        std::fs::write(&path, "access_log_retention_floor_days = 7\n").expect("write");
        let err = Settings::load(Some(&path)).expect_err("floor 7 must be refused");
        assert!(err.to_string().contains("may not be below 30"), "{err}");
        std::fs::write(&path, "access_log_retention_days = 10\n").expect("write");
        let err = Settings::load(Some(&path)).expect_err("retention under the floor");
        assert!(
            err.to_string().contains("below the retention floor"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_settings_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keyserver.toml");
        std::fs::write(&path, "pool_size = \"many\"\n").expect("write");
        assert!(Settings::load(Some(&path)).is_err());
        assert!(Settings::load(Some(&dir.path().join("missing.toml"))).is_err());
    }
}

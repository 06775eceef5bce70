//! What every handler shares.

use std::sync::Arc;
use std::time::Instant;

use pqfile_core::format::Stanza;
use pqfile_core::mlkem768::SecretKey;
use pqfile_core::stanza::{self, FileKey};
use tokio::sync::Notify;

use crate::audit_chain::key::AuditKeys;
use crate::audit_chain::sealer;
use crate::configuration::Settings;
use crate::db::DbPool;
use crate::domain::{DocumentId, KeyId};
use crate::error::ApiError;
use crate::key_pool::{self, FillError};
use crate::keycache::KeyCache;
use crate::kms::{KeyWrapper, KmsError, Purpose, WrappedKey};
use crate::lifecycle::{self, MaintenancePolicy, MaintenanceReport};
use crate::metrics::Metrics;
use crate::pipeline::Pipelined;
use crate::store::documents::DocumentKey;
use crate::store::keys::KeyStatus;

/// Shared application state.
pub struct AppState {
    /// PostgreSQL connections.
    pub db: DbPool,
    /// Shared, pipelined connections for the per-request statements (token
    /// lookup, document lookup, audit row); see `pipeline`.
    pub hot: Pipelined,
    /// The KMS protecting private keys.
    pub kms: Arc<dyn KeyWrapper>,
    /// Unwrapped private keys.
    pub cache: KeyCache,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Wakes the background refill early (pool ran dry).
    pub refill: Arc<Notify>,
    /// The settings the server started with.
    pub settings: Settings,
    /// The audit key (row seals, signed checkpoints).
    pub audit: AuditKeys,
    /// The proxies whose forwarding headers name the client.
    pub trusted_proxies: crate::client_address::TrustedProxies,
    /// This process's rate-limit buckets (`rate_limit`).
    pub rate_limits: crate::rate_limit::RateLimits,
    /// This process's per-user document-count estimates (`quota`).
    pub document_counts: crate::quota::DocumentCounts,
}

impl AppState {
    /// The private key of `id`: from the cache, else unwrapped through the KMS.
    pub async fn secret_key(
        &self,
        id: KeyId,
        wrapped: &WrappedKey,
    ) -> Result<Arc<SecretKey>, KmsError> {
        if let Some(k) = self.cache.get(id) {
            self.metrics.key_cache_hits.inc();
            return Ok(k);
        }
        self.metrics.key_cache_misses.inc();
        let started = Instant::now();
        let result = self.kms.unwrap(Purpose::PoolKey, id, wrapped).await;
        self.metrics
            .kms_latency
            .observe(started.elapsed().as_secs_f64());
        let label = match &result {
            Ok(_) => "ok",
            Err(KmsError::Unavailable(_)) => "unavailable",
            Err(_) => "rejected",
        };
        self.metrics.kms_unwraps.with_label_values(&[label]).inc();
        let seed = result?;
        let key = Arc::new(
            SecretKey::from_seed(seed.as_slice()).map_err(|e| KmsError::Rejected(e.to_string()))?,
        );
        self.cache.insert(id, Arc::clone(&key));
        Ok(key)
    }

    /// Opens `stanza` with `key` (one of the document's history, through the
    /// cache or the KMS) in the context of `document_id`: the one place
    /// unwrap and rewrap get a file key. `Ok(None)`: the stanza does not open
    /// for this document (wrong document, tampered stanza); the caller
    /// refuses.
    pub async fn open_stanza(
        &self,
        key: &DocumentKey,
        stanza: &Stanza,
        document_id: &DocumentId,
    ) -> Result<Option<FileKey>, ApiError> {
        let secret = self.secret_key(key.id, &key.wrapped).await?;
        Ok(stanza::unwrap(stanza, document_id, &secret).ok())
    }
}

impl AppState {
    /// Expiry, rotation check, rotation progress, pool refill and access-log
    /// retention, once (the background task and `POST /v1/admin/maintenance`).
    pub async fn maintenance(&self) -> Result<MaintenanceReport, FillError> {
        let policy = MaintenancePolicy {
            pool_size: self.settings.pool_size,
            rotation_age_days: self.settings.rotation_age_days,
            rotation_grace_days: self.settings.rotation_grace_days,
            access_log_retention_days: self.settings.access_log_retention_days,
            owner_url: self.settings.owner_url().to_owned(),
            audit_key: self.audit.get(),
        };
        let mut result = lifecycle::run_maintenance(&self.db, self.kms.as_ref(), &policy).await;
        // Stored ciphertexts move off keys under rotation before those expire;
        // then the rotations they were the last documents of can complete.
        if let Ok(r) = &mut result {
            match crate::rewrap::stored_ciphertexts(self).await {
                Ok(stored) => {
                    r.stored_rewraps = stored;
                    if r.stored_rewraps.rewrapped > 0
                        && let Ok(progress) = lifecycle::advance_rotations(&self.db).await
                    {
                        r.rotations = progress;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "stored ciphertexts were not rewrapped"),
            }
        }
        let label = if result.is_ok() { "ok" } else { "error" };
        self.metrics
            .maintenance_runs
            .with_label_values(&[label])
            .inc();
        if let Ok(r) = &result {
            self.metrics
                .rotations_started
                .inc_by(r.rotation.queued.len() as u64);
            self.metrics
                .keys_generated
                .inc_by(u64::from(r.keys_generated));
            self.metrics.keys_expired.inc_by(r.expired.len() as u64);
            let unused = i64::try_from(r.unused_keys.len()).unwrap_or(i64::MAX);
            self.metrics.unused_keys.set(unused);
        }
        self.refresh_pool_gauges().await;
        result
    }

    /// Sets the pool gauges (keys per status, active keys, stalled
    /// rotations) from the database.
    pub async fn refresh_pool_gauges(&self) {
        if let Ok(counts) = lifecycle::keys_by_status(&self.db).await {
            for status in KeyStatus::ALL {
                let n = counts
                    .iter()
                    .find(|(s, _)| *s == status)
                    .map_or(0, |(_, n)| *n);
                self.metrics
                    .pool_keys
                    .with_label_values(&[status.as_str()])
                    .set(n);
            }
        }
        if let Ok(n) = key_pool::active_keys(&self.db).await {
            self.metrics.pool_active_keys.set(n);
        }
        if let Ok(n) = lifecycle::stalled_rotations(&self.db).await {
            self.metrics.rotations_stalled.set(n);
        }
    }
}

impl AppState {
    /// A seal for an audit row this server writes now (`None`, counted in
    /// `pqfile_audit_rows_written_unsealed_total`, while the audit key is not
    /// loaded).
    pub fn audit_seal(&self) -> Option<Vec<u8>> {
        let seal = self.audit.seal();
        if seal.is_none() {
            self.metrics.audit_rows_written_unsealed.inc();
        }
        seal
    }

    /// One pass of the audit sealer (loading the audit key first if the KMS
    /// could not give it at start-up).
    pub async fn seal_audit_log(&self) -> Result<Option<sealer::Pass>, Box<dyn std::error::Error>> {
        if self.audit.get().is_none() {
            self.audit.load(&self.db, self.kms.as_ref()).await?;
            tracing::info!("audit key loaded");
        }
        let Some(key) = self.audit.get() else {
            return Ok(None);
        };
        let mut client = self.db.get().await?;
        let pass = sealer::seal_once(&mut client, &key).await?;
        if let Some(p) = &pass {
            self.metrics.audit_rows_chained.inc_by(p.chained);
            self.metrics.audit_rows_unsealed.inc_by(p.unsealed);
        }
        Ok(pass)
    }
}

//! What every handler shares.

use std::sync::Arc;
use std::time::Instant;

use deadpool_postgres::Pool;
use pqfile_core::mlkem768::SecretKey;
use tokio::sync::Notify;

use crate::configuration::Settings;
use crate::domain::KeyId;
use crate::keycache::KeyCache;
use crate::kms::{KeyWrapper, KmsError, WrappedKey};
use crate::metrics::Metrics;

/// Shared application state.
pub struct AppState {
    /// PostgreSQL connections.
    pub db: Pool,
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
        let result = self.kms.unwrap(id, wrapped).await;
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
}

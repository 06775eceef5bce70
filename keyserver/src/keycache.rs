//! A bounded, time-limited cache of unwrapped private keys, like the AWS
//! Encryption SDK's caching CMM: it saves a KMS round trip per unwrap.
//! Entries are `Arc<SecretKey>`; the key is zeroized when the last reference
//! drops (ml-kem `zeroize`), i.e. on eviction or expiry once no request
//! still uses it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pqfile_core::mlkem768::SecretKey;

use crate::domain::KeyId;

/// The cache. `capacity` 0 disables it.
pub struct KeyCache {
    entries: Mutex<HashMap<KeyId, (Arc<SecretKey>, Instant)>>,
    capacity: usize,
    ttl: Duration,
}

impl KeyCache {
    /// A cache of at most `capacity` keys, each kept at most `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<KeyId, (Arc<SecretKey>, Instant)>> {
        // A panic while holding the lock leaves only whole entries behind.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached key, unless absent or older than the TTL.
    pub fn get(&self, id: KeyId) -> Option<Arc<SecretKey>> {
        let mut map = self.lock();
        match map.get(&id) {
            Some((k, at)) if at.elapsed() < self.ttl => Some(Arc::clone(k)),
            Some(_) => {
                map.remove(&id);
                None
            }
            None => None,
        }
    }

    /// Caches `key`, evicting expired entries, then the oldest, when full.
    pub fn insert(&self, id: KeyId, key: Arc<SecretKey>) {
        if self.capacity == 0 {
            return;
        }
        let mut map = self.lock();
        if map.len() >= self.capacity && !map.contains_key(&id) {
            map.retain(|_, (_, at)| at.elapsed() < self.ttl);
            if map.len() >= self.capacity
                && let Some(oldest) = map.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
        }
        map.insert(id, (key, Instant::now()));
    }

    /// Drops the entries older than the TTL; returns how many. Run on a
    /// timer (`spawn_evictor`), so an unwrapped key does not stay in memory
    /// past its TTL just because nobody asked for it again.
    pub fn evict_expired(&self) -> usize {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, (_, at)| at.elapsed() < self.ttl);
        before - map.len()
    }

    /// How often [`KeyCache::evict_expired`] should run: a quarter of the
    /// TTL, between one second and one minute.
    pub fn eviction_period(&self) -> Duration {
        (self.ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    /// Drops one key (e.g. when it is revoked).
    pub fn remove(&self, id: KeyId) {
        self.lock().remove(&id);
    }

    /// Drops every key (the revocation broadcast may have been missed).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Number of cached keys.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rng;

    fn key() -> Arc<SecretKey> {
        Arc::new(SecretKey::generate(&mut rng()))
    }

    fn id(n: u32) -> KeyId {
        KeyId::new(n).expect("valid id")
    }

    #[test]
    fn bounded_size_evicts_the_oldest() {
        let c = KeyCache::new(2, Duration::from_secs(60));
        c.insert(id(1), key());
        c.insert(id(2), key());
        c.insert(id(3), key());
        assert_eq!(c.len(), 2);
        assert!(c.get(id(1)).is_none());
        assert!(c.get(id(3)).is_some());
    }

    #[test]
    fn entries_expire() {
        let c = KeyCache::new(4, Duration::from_millis(20));
        c.insert(id(1), key());
        assert!(c.get(id(1)).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(c.get(id(1)).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn expired_entries_are_evicted_without_being_looked_up() {
        let c = KeyCache::new(4, Duration::from_millis(20));
        c.insert(id(1), key());
        assert_eq!(c.evict_expired(), 0);
        std::thread::sleep(Duration::from_millis(40));
        c.insert(id(2), key());
        assert_eq!(c.evict_expired(), 1);
        assert_eq!(c.len(), 1);
        assert!(c.get(id(2)).is_some());
    }

    #[test]
    fn capacity_zero_disables() {
        let c = KeyCache::new(0, Duration::from_secs(60));
        c.insert(id(1), key());
        assert!(c.get(id(1)).is_none());
    }
}

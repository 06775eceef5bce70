//! The audit key: one 64-byte seed, stored only wrapped by the KMS (like
//! the pool's private keys, with its own purpose), whose first half is the
//! Ed25519 signing seed of the checkpoints and whose second half is the
//! HMAC-SHA-256 key of the row seals.

use std::sync::{Arc, RwLock};

use deadpool_postgres::GenericClient;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use hmac::{Hmac, KeyInit, Mac};
use rand_core::Rng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::db::{DbError, DbPool};
use crate::domain::{KeyId, rng};
use crate::kms::{KeyWrapper, KmsError, Purpose, WrappedKey};

/// Arbitrary constant naming the advisory lock under which the first
/// process creates the audit key.
const AUDIT_KEY_LOCK: i64 = 0x7071_6669_6c65_0004;

/// A seal: 16-byte nonce || HMAC-SHA-256(row key, label || nonce).
pub const SEAL_LEN: usize = 48;

/// The unwrapped audit key.
pub struct AuditKey {
    /// `audit_signing_keys.id`.
    pub id: i32,
    signing: SigningKey,
    mac: Zeroizing<[u8; 32]>,
}

fn row_mac(key: &[u8; 32], nonce: &[u8]) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(b"pqfile audit row seal v1");
    m.update(nonce);
    m
}

impl AuditKey {
    fn from_seed(id: i32, seed: &[u8; 64]) -> Self {
        let mut sign = Zeroizing::new([0u8; 32]);
        sign.copy_from_slice(&seed[..32]);
        let mut mac = Zeroizing::new([0u8; 32]);
        mac.copy_from_slice(&seed[32..]);
        Self {
            id,
            signing: SigningKey::from_bytes(&sign),
            mac,
        }
    }

    /// A fresh seal for a row this server writes.
    pub fn seal(&self) -> Vec<u8> {
        let mut nonce = [0u8; 16];
        rng().fill_bytes(&mut nonce);
        let tag = row_mac(&self.mac, &nonce).finalize().into_bytes();
        let mut s = nonce.to_vec();
        s.extend_from_slice(&tag);
        s
    }

    /// Whether `seal` was made with this key.
    pub fn seal_is_valid(&self, seal: &[u8]) -> bool {
        seal.len() == SEAL_LEN
            && row_mac(&self.mac, &seal[..16])
                .verify_slice(&seal[16..])
                .is_ok()
    }

    /// Signs a checkpoint message.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.signing.sign(message).to_bytes().to_vec()
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// Whether `signature` is this key's over `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature)
            .is_ok_and(|s| self.verifying_key().verify(message, &s).is_ok())
    }
}

/// The audit key of a running server: absent while the KMS could not give
/// it (rows are then written unsealed, and counted).
#[derive(Default)]
pub struct AuditKeys(RwLock<Option<Arc<AuditKey>>>);

impl AuditKeys {
    /// The key, if loaded.
    pub fn get(&self) -> Option<Arc<AuditKey>> {
        self.0.read().map(|k| k.clone()).unwrap_or_default()
    }

    /// A seal for a new row (`None` while the key is not loaded).
    pub fn seal(&self) -> Option<Vec<u8>> {
        self.get().map(|k| k.seal())
    }

    fn set(&self, key: AuditKey) {
        if let Ok(mut k) = self.0.write() {
            *k = Some(Arc::new(key));
        }
    }

    /// Loads the newest audit key (creating the first one if there is none)
    /// into `self`.
    pub async fn load(&self, db: &DbPool, kms: &dyn KeyWrapper) -> Result<(), AuditKeyError> {
        self.set(load_or_create(db, kms).await?);
        Ok(())
    }
}

/// Why the audit key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AuditKeyError {
    /// Database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// KMS.
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// The stored public key is not the one of the wrapped seed.
    #[error("audit signing key {0}: the stored public key does not match the KMS-wrapped seed")]
    Mismatch(i32),
}

/// Unwraps stored key `id` and checks it against its public key.
pub async fn unwrap_stored(
    kms: &dyn KeyWrapper,
    id: i32,
    public_key: &[u8],
    wrapped: &WrappedKey,
) -> Result<AuditKey, AuditKeyError> {
    let seed = kms
        .unwrap(Purpose::AuditKey, KeyId::from_db(id), wrapped)
        .await?;
    let key = AuditKey::from_seed(id, &seed);
    if key.verifying_key().as_bytes().as_slice() != public_key {
        return Err(AuditKeyError::Mismatch(id));
    }
    Ok(key)
}

/// The stored audit keys: id, public key, wrapped seed.
pub async fn stored(db: &impl GenericClient) -> Result<Vec<(i32, Vec<u8>, WrappedKey)>, DbError> {
    Ok(db
        .query(
            "SELECT id, public_key, private_key, kms_key_id, kms_key_arn FROM audit_signing_keys ORDER BY id",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                WrappedKey {
                    ciphertext: r.get(2),
                    kms_key_id: r.get::<_, Option<String>>(3).unwrap_or_default(),
                    kms_key_arn: r.get(4),
                },
            )
        })
        .collect())
}

async fn load_or_create(db: &DbPool, kms: &dyn KeyWrapper) -> Result<AuditKey, AuditKeyError> {
    let mut client = db.get().await.map_err(DbError::from)?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_KEY_LOCK])
        .await?;
    if let Some((id, public, wrapped)) = stored(&tx).await?.pop() {
        drop(tx);
        return unwrap_stored(kms, id, &public, &wrapped).await;
    }
    let id = 1;
    let mut seed = Zeroizing::new([0u8; 64]);
    rng().fill_bytes(seed.as_mut_slice());
    let key = AuditKey::from_seed(id, &seed);
    let wrapped = kms
        .wrap(Purpose::AuditKey, KeyId::from_db(id), &seed)
        .await?;
    tx.execute(
        "INSERT INTO audit_signing_keys (id, public_key, private_key, kms_key_id, kms_key_arn)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &id,
            &key.verifying_key().as_bytes().as_slice(),
            &wrapped.ciphertext,
            &wrapped.kms_key_id,
            &wrapped.kms_key_arn,
        ],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(id, "audit key created");
    Ok(key)
}

impl From<tokio_postgres::Error> for AuditKeyError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e.into())
    }
}

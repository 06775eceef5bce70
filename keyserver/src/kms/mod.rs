//! The KMS seam: whatever protects the pool's private keys at rest.
//!
//! `encryption_keys.private_key` holds only what a [`KeyWrapper`] returns, so
//! a dump of the database alone recovers no key (issue 4). The 64-byte
//! ML-KEM-768 seed (FIPS 203 §7.1 `d || z`) is what gets wrapped; it is well
//! under KMS Encrypt's 4096-byte plaintext limit.
//!
//! Both implementations bind each wrapped key to its `encryption_keys.id`
//! and to a fixed purpose string (the AWS EncryptionContext, the local AAD),
//! so a wrapped key copied onto another row does not unwrap.

pub mod aws;
pub mod local;

use futures_util::future::BoxFuture;
use pqfile_core::mlkem768::SEED_LEN;
use zeroize::Zeroizing;

use crate::domain::KeyId;

/// What the wrapped key is for: part of the EncryptionContext / AAD.
pub const PURPOSE: &str = "pqfile-keyserver/ml-kem-768-private-key";

/// The purpose of the audit key's seed (`audit_chain::key`).
pub const AUDIT_PURPOSE: &str = "pqfile-keyserver/audit-signing-key";

/// What a wrapped seed is for; bound into the ciphertext with its id, so a
/// pool key's wrapped seed copied into the audit key's row (or the reverse)
/// does not unwrap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// An ML-KEM-768 private key of the key pool ([`PURPOSE`]).
    PoolKey,
    /// The audit key ([`AUDIT_PURPOSE`]).
    AuditKey,
}

impl Purpose {
    /// The string bound into the ciphertext.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PoolKey => PURPOSE,
            Self::AuditKey => AUDIT_PURPOSE,
        }
    }
}
/// EncryptionContext entry naming the key id.
pub const CONTEXT_KEY_ID: &str = "pqfile_key_id";
/// EncryptionContext entry naming the purpose.
pub const CONTEXT_PURPOSE: &str = "purpose";

/// A wrapped private key as stored in `encryption_keys`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    /// Base64 of the KMS ciphertext (`private_key`).
    pub ciphertext: String,
    /// The KMS key that wrapped it (`kms_key_id`).
    pub kms_key_id: String,
    /// Its ARN when the KMS has one (`kms_key_arn`).
    pub kms_key_arn: Option<String>,
}

/// A 64-byte ML-KEM-768 seed, zeroized on drop.
pub type Seed = Zeroizing<[u8; SEED_LEN]>;

/// Why the KMS could not wrap or unwrap.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    /// The KMS could not be reached or failed transiently: retry later (503).
    #[error("the KMS is unavailable: {0}")]
    Unavailable(String),
    /// The KMS refused this ciphertext or key (tampered row, wrong KMS key).
    #[error("the KMS refused the request: {0}")]
    Rejected(String),
    /// The KMS is misconfigured (no key id, unreadable master key).
    #[error("KMS configuration error: {0}")]
    Config(String),
}

/// Wraps and unwraps private-key seeds. Implementations must bind the
/// ciphertext to `key_id` and the [`Purpose`].
pub trait KeyWrapper: Send + Sync {
    /// Wraps `seed` of `purpose` for key `key_id`.
    fn wrap<'a>(
        &'a self,
        purpose: Purpose,
        key_id: KeyId,
        seed: &'a [u8; SEED_LEN],
    ) -> BoxFuture<'a, Result<WrappedKey, KmsError>>;

    /// Unwraps what [`KeyWrapper::wrap`] returned for `purpose` and `key_id`.
    fn unwrap<'a>(
        &'a self,
        purpose: Purpose,
        key_id: KeyId,
        wrapped: &'a WrappedKey,
    ) -> BoxFuture<'a, Result<Seed, KmsError>>;

    /// A name for logs and metrics (`local`, `aws`).
    fn kind(&self) -> &'static str;
}

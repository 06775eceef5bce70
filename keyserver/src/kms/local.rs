//! The embedded local KMS: a 256-bit master key in a file (created 0600 on
//! first run) wrapping each seed with AES-256-GCM.
//!
//! Wrapped form (base64): `0x01 || nonce (12) || ciphertext (64) || tag (16)`,
//! AAD = `PURPOSE || 0x00 || key id (4, big-endian)`.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::BoxFuture;
use pqfile_core::mlkem768::SEED_LEN;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{KeyWrapper, KmsError, Purpose, Seed, WrappedKey};
use crate::domain::{KeyId, rng};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const WRAPPED_LEN: usize = 1 + NONCE_LEN + SEED_LEN + TAG_LEN;
/// File name of the master key inside the data directory.
pub const MASTER_KEY_FILE: &str = "kms-master.key";

/// A master key loaded from disk. No `Debug`; zeroized on drop (aes-gcm `zeroize`).
pub struct LocalKms {
    cipher: Aes256Gcm,
    id: String,
    path: PathBuf,
}

impl LocalKms {
    /// Loads the master key file `path`, creating it (mode 0600, and its
    /// folder) on first run.
    pub fn open_or_create(path: &Path) -> Result<Self, KmsError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| KmsError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        let path = path.to_path_buf();
        // A master key others can read is refused before it is read: every
        // wrapped private key depends on it staying secret.
        if let Ok(meta) = std::fs::metadata(&path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KmsError::Config(format!(
                    "{} is readable by group or others (mode {mode:o}); it must be 0600: chmod 600 {}",
                    path.display(),
                    path.display()
                )));
            }
        }
        let key = match std::fs::read(&path) {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(&path)?,
            Err(e) => {
                return Err(KmsError::Config(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        if key.len() != 32 {
            return Err(KmsError::Config(format!(
                "{} must hold exactly 32 bytes",
                path.display()
            )));
        }
        let cipher = Aes256Gcm::new_from_slice(&key)
            .map_err(|_| KmsError::Config("bad master key".into()))?;
        // A public name for the master key: lets an operator see which file wrapped which rows.
        let id = format!(
            "local:{}",
            &hex::encode(Sha256::digest(key.as_slice()))[..16]
        );
        Ok(Self { cipher, id, path })
    }

    fn create(path: &Path) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let mut key = Zeroizing::new(vec![0u8; 32]);
        rand_core::Rng::fill_bytes(&mut rng(), &mut key);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| KmsError::Config(format!("cannot create {}: {e}", path.display())))?;
        f.write_all(&key)
            .and_then(|()| f.sync_all())
            .map_err(|e| KmsError::Config(format!("cannot write {}: {e}", path.display())))?;
        tracing::info!(path = %path.display(), "created a new local KMS master key");
        Ok(key)
    }

    /// Where the master key lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The public name of the master key (`local:<16 hex>`).
    pub fn id(&self) -> &str {
        &self.id
    }

    fn aad(purpose: Purpose, key_id: KeyId) -> Vec<u8> {
        let purpose = purpose.as_str();
        let mut aad = Vec::with_capacity(purpose.len() + 5);
        aad.extend_from_slice(purpose.as_bytes());
        aad.push(0);
        aad.extend_from_slice(&key_id.as_u32().to_be_bytes());
        aad
    }

    fn wrap_now(&self, purpose: Purpose, key_id: KeyId, seed: &[u8; SEED_LEN]) -> WrappedKey {
        let mut nonce = [0u8; NONCE_LEN];
        rand_core::Rng::fill_bytes(&mut rng(), &mut nonce);
        let mut buf = Zeroizing::new(*seed);
        // AES-GCM fails only beyond 2^36 bytes; 64 cannot.
        let tag = self
            .cipher
            .encrypt_inout_detached(
                &Nonce::<U12>::from(nonce),
                &Self::aad(purpose, key_id),
                buf.as_mut_slice().into(),
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(buf.as_slice());
        out.extend_from_slice(&tag);
        WrappedKey {
            ciphertext: STANDARD.encode(out),
            kms_key_id: self.id.clone(),
            kms_key_arn: None,
        }
    }

    fn unwrap_now(
        &self,
        purpose: Purpose,
        key_id: KeyId,
        wrapped: &WrappedKey,
    ) -> Result<Seed, KmsError> {
        if wrapped.kms_key_id != self.id {
            return Err(KmsError::Rejected(format!(
                "key {key_id} was wrapped by {}, this server holds {}",
                wrapped.kms_key_id, self.id
            )));
        }
        let raw = STANDARD
            .decode(&wrapped.ciphertext)
            .map_err(|_| KmsError::Rejected("wrapped key is not base64".into()))?;
        if raw.len() != WRAPPED_LEN || raw[0] != VERSION {
            return Err(KmsError::Rejected(
                "wrapped key has the wrong length or version".into(),
            ));
        }
        let nonce = Nonce::<U12>::try_from(&raw[1..1 + NONCE_LEN])
            .map_err(|_| KmsError::Rejected("nonce".into()))?;
        let tag = Tag::<U16>::try_from(&raw[1 + NONCE_LEN + SEED_LEN..])
            .map_err(|_| KmsError::Rejected("tag".into()))?;
        let mut seed: Seed = Zeroizing::new([0u8; SEED_LEN]);
        seed.copy_from_slice(&raw[1 + NONCE_LEN..1 + NONCE_LEN + SEED_LEN]);
        self.cipher
            .decrypt_inout_detached(
                &nonce,
                &Self::aad(purpose, key_id),
                seed.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| KmsError::Rejected("wrapped key does not authenticate".into()))?;
        Ok(seed)
    }
}

impl KeyWrapper for LocalKms {
    fn wrap<'a>(
        &'a self,
        purpose: Purpose,
        key_id: KeyId,
        seed: &'a [u8; SEED_LEN],
    ) -> BoxFuture<'a, Result<WrappedKey, KmsError>> {
        Box::pin(async move { Ok(self.wrap_now(purpose, key_id, seed)) })
    }

    fn unwrap<'a>(
        &'a self,
        purpose: Purpose,
        key_id: KeyId,
        wrapped: &'a WrappedKey,
    ) -> BoxFuture<'a, Result<Seed, KmsError>> {
        Box::pin(async move { self.unwrap_now(purpose, key_id, wrapped) })
    }

    fn kind(&self) -> &'static str {
        "local"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_master_key_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(MASTER_KEY_FILE);
        LocalKms::open_or_create(&path).expect("create");
        for mode in [0o640, 0o604, 0o644] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            match LocalKms::open_or_create(&path) {
                Err(KmsError::Config(m)) => {
                    assert!(
                        m.contains("readable by group or others") && m.contains("chmod 600"),
                        "{m}"
                    );
                }
                Err(e) => panic!("mode {mode:o}: {e}"),
                Ok(_) => panic!("mode {mode:o} was accepted"),
            }
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(LocalKms::open_or_create(&path).is_ok());
    }

    #[test]
    fn master_key_is_created_0600_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = LocalKms::open_or_create(&dir.path().join(MASTER_KEY_FILE)).expect("create");
        let mode = std::fs::metadata(a.path())
            .expect("stat")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let b = LocalKms::open_or_create(&dir.path().join(MASTER_KEY_FILE)).expect("reopen");
        assert_eq!(a.id(), b.id());
        let id = KeyId::new(5).expect("id");
        let w = a.wrap_now(Purpose::PoolKey, id, &[7u8; SEED_LEN]);
        assert_eq!(
            b.unwrap_now(Purpose::PoolKey, id, &w)
                .expect("unwrap")
                .as_slice(),
            &[7u8; SEED_LEN]
        );
    }

    #[test]
    fn wrapped_key_is_bound_to_its_key_id_and_master_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kms = LocalKms::open_or_create(&dir.path().join(MASTER_KEY_FILE)).expect("create");
        let w = kms.wrap_now(
            Purpose::PoolKey,
            KeyId::new(5).expect("id"),
            &[7u8; SEED_LEN],
        );
        assert!(matches!(
            kms.unwrap_now(Purpose::PoolKey, KeyId::new(6).expect("id"), &w),
            Err(KmsError::Rejected(_))
        ));
        let other_dir = tempfile::tempdir().expect("tempdir");
        let other =
            LocalKms::open_or_create(&other_dir.path().join(MASTER_KEY_FILE)).expect("create");
        let relabelled = WrappedKey {
            kms_key_id: other.id().to_owned(),
            ..w
        };
        assert!(matches!(
            other.unwrap_now(Purpose::PoolKey, KeyId::new(5).expect("id"), &relabelled),
            Err(KmsError::Rejected(_))
        ));
    }
}

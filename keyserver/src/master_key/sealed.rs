//! The local KMS master key sealed to a passphrase: the file written by
//! `pqfile-keyserver kms export-master-key` and read back by
//! `kms import-master-key`.
//!
//! The master key is the one secret a database backup must never contain, so
//! it is backed up on its own, encrypted: argon2id (RFC 9106) stretches the
//! passphrase into an AES-256-GCM key, so a stolen backup file costs an
//! attacker one argon2id evaluation per guess.
//!
//! Format, version 1 (106 bytes, integers big-endian):
//!
//! | offset | length | field                                                    |
//! |-------:|-------:|----------------------------------------------------------|
//! |      0 |      8 | magic `PQFILEMK`                                         |
//! |      8 |      1 | format version, `0x01`                                   |
//! |      9 |      1 | KDF, `0x01` = argon2id version 0x13                      |
//! |     10 |      4 | argon2id memory cost, KiB                                |
//! |     14 |      4 | argon2id time cost (passes)                              |
//! |     18 |      4 | argon2id parallelism (lanes)                             |
//! |     22 |     16 | argon2id salt (random)                                   |
//! |     38 |      8 | key id: SHA-256(master key)[..8], the `local:` name      |
//! |     46 |     12 | AES-256-GCM nonce (random)                               |
//! |     58 |     32 | the master key, encrypted                                |
//! |     90 |     16 | AES-256-GCM tag                                          |
//!
//! The AAD is bytes 0..58 (everything before the ciphertext), so the cost
//! parameters, salt and key id cannot be altered without the tag failing.
//! The key id is in the clear so an operator (and the backup manifest) can
//! tell which master key a file holds without the passphrase; it is a hash
//! prefix of a random 256-bit key and reveals nothing about it. After
//! decryption the key's own hash must match it.
//!
//! Reading refuses cost parameters above [`MAX_MEMORY_KIB`] / [`MAX_PASSES`]
//! / [`MAX_LANES`], so a crafted file cannot make import allocate without bound.

use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::domain::rng;

/// The master key length (AES-256).
pub const KEY_LEN: usize = 32;
const MAGIC: &[u8; 8] = b"PQFILEMK";
const VERSION: u8 = 1;
const KDF_ARGON2ID: u8 = 1;
const SALT_LEN: usize = 16;
const ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 8 + 1 + 1 + 12 + SALT_LEN + ID_LEN + NONCE_LEN;
/// Length of a version-1 file.
pub const SEALED_LEN: usize = HEADER_LEN + KEY_LEN + TAG_LEN;

/// Cost written by this version: 64 MiB, 3 passes, 1 lane (RFC 9106's
/// second recommended option); about half a second on a small server.
pub const MEMORY_KIB: u32 = 64 * 1024;
/// Passes written by this version.
pub const PASSES: u32 = 3;
/// Lanes written by this version.
pub const LANES: u32 = 1;
/// Largest memory cost a file may ask for (1 GiB).
pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
/// Largest time cost a file may ask for.
pub const MAX_PASSES: u32 = 16;
/// Largest parallelism a file may ask for.
pub const MAX_LANES: u32 = 16;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    /// Memory, KiB.
    pub memory_kib: u32,
    /// Passes.
    pub passes: u32,
    /// Lanes.
    pub lanes: u32,
}

impl Default for Cost {
    fn default() -> Self {
        Self {
            memory_kib: MEMORY_KIB,
            passes: PASSES,
            lanes: LANES,
        }
    }
}

/// Why a sealed file could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    /// Not this format, or a version this build does not read.
    #[error("not a pqfile master key backup: {0}")]
    Format(String),
    /// The tag did not verify: the passphrase is wrong (or the file was altered).
    #[error("wrong passphrase (or the backup file was altered)")]
    WrongPassphrase,
}

/// The public name of a master key, as the local KMS writes it into
/// `encryption_keys.kms_key_id`: `local:` and the first 16 hex digits of
/// its SHA-256.
pub fn key_id(key: &[u8]) -> String {
    format!("local:{}", hex::encode(&Sha256::digest(key)[..ID_LEN]))
}

fn derive(passphrase: &[u8], salt: &[u8], cost: Cost) -> Result<Aes256Gcm, OpenError> {
    let params = Params::new(cost.memory_kib, cost.passes, cost.lanes, Some(KEY_LEN))
        .map_err(|e| OpenError::Format(format!("argon2id parameters: {e}")))?;
    let mut kek = Zeroizing::new([0u8; KEY_LEN]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, kek.as_mut_slice())
        .map_err(|e| OpenError::Format(format!("argon2id: {e}")))?;
    Aes256Gcm::new_from_slice(kek.as_slice()).map_err(|_| OpenError::Format("key length".into()))
}

/// Encrypts `key` to `passphrase` with `cost`.
pub fn seal(key: &[u8; KEY_LEN], passphrase: &[u8], cost: Cost) -> Result<Vec<u8>, OpenError> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    rand_core::Rng::fill_bytes(&mut rng(), &mut salt);
    rand_core::Rng::fill_bytes(&mut rng(), &mut nonce);
    let cipher = derive(passphrase, &salt, cost)?;
    let mut out = Vec::with_capacity(SEALED_LEN);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(KDF_ARGON2ID);
    for v in [cost.memory_kib, cost.passes, cost.lanes] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&salt);
    out.extend_from_slice(&Sha256::digest(key)[..ID_LEN]);
    out.extend_from_slice(&nonce);
    let mut body = Zeroizing::new(*key);
    // AES-GCM fails only beyond 2^36 bytes; 32 cannot.
    let tag = cipher
        .encrypt_inout_detached(&Nonce::<U12>::from(nonce), &out, body.as_mut_slice().into())
        .unwrap_or_default();
    out.extend_from_slice(body.as_slice());
    out.extend_from_slice(&tag);
    Ok(out)
}

/// The key id a sealed file names, read without the passphrase.
pub fn peek_key_id(sealed: &[u8]) -> Result<String, OpenError> {
    check_header(sealed)?;
    Ok(format!("local:{}", hex::encode(&sealed[38..38 + ID_LEN])))
}

fn check_header(sealed: &[u8]) -> Result<Cost, OpenError> {
    if sealed.len() < 10 || &sealed[..8] != MAGIC {
        return Err(OpenError::Format("it does not start with PQFILEMK".into()));
    }
    if sealed[8] != VERSION || sealed[9] != KDF_ARGON2ID {
        return Err(OpenError::Format(format!(
            "format version {} / KDF {} is not supported by this build (version {VERSION}, argon2id)",
            sealed[8], sealed[9]
        )));
    }
    if sealed.len() != SEALED_LEN {
        return Err(OpenError::Format(format!(
            "{} bytes, a version-1 file has {SEALED_LEN}",
            sealed.len()
        )));
    }
    let word = |at: usize| {
        u32::from_be_bytes([sealed[at], sealed[at + 1], sealed[at + 2], sealed[at + 3]])
    };
    let cost = Cost {
        memory_kib: word(10),
        passes: word(14),
        lanes: word(18),
    };
    if cost.memory_kib > MAX_MEMORY_KIB || cost.passes > MAX_PASSES || cost.lanes > MAX_LANES {
        return Err(OpenError::Format(format!(
            "argon2id cost {cost:?} is above this build's limits"
        )));
    }
    Ok(cost)
}

/// Decrypts a sealed file with `passphrase`.
pub fn open(sealed: &[u8], passphrase: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, OpenError> {
    let cost = check_header(sealed)?;
    let cipher = derive(passphrase, &sealed[22..22 + SALT_LEN], cost)?;
    let nonce = Nonce::<U12>::try_from(&sealed[46..HEADER_LEN])
        .map_err(|_| OpenError::Format("nonce".into()))?;
    let tag = Tag::<U16>::try_from(&sealed[HEADER_LEN + KEY_LEN..])
        .map_err(|_| OpenError::Format("tag".into()))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&sealed[HEADER_LEN..HEADER_LEN + KEY_LEN]);
    cipher
        .decrypt_inout_detached(
            &nonce,
            &sealed[..HEADER_LEN],
            key.as_mut_slice().into(),
            &tag,
        )
        .map_err(|_| OpenError::WrongPassphrase)?;
    if Sha256::digest(key.as_slice())[..ID_LEN] != sealed[38..38 + ID_LEN] {
        return Err(OpenError::Format(
            "the key does not match the id it names".into(),
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters: the format, not the cost, is under test.
    const FAST: Cost = Cost {
        memory_kib: 64,
        passes: 1,
        lanes: 1,
    };

    #[test]
    fn a_sealed_key_opens_with_its_passphrase_only() {
        let key = [9u8; KEY_LEN];
        let sealed = seal(&key, b"correct horse battery", FAST).expect("seal");
        assert_eq!(sealed.len(), SEALED_LEN);
        assert_eq!(peek_key_id(&sealed).expect("peek"), key_id(&key));
        assert_eq!(*open(&sealed, b"correct horse battery").expect("open"), key);
        assert_eq!(
            open(&sealed, b"correct horse battery!"),
            Err(OpenError::WrongPassphrase)
        );
    }

    #[test]
    fn any_altered_byte_is_refused() {
        let sealed = seal(&[1u8; KEY_LEN], b"passphrase", FAST).expect("seal");
        for i in 0..SEALED_LEN {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(open(&bad, b"passphrase").is_err(), "byte {i} altered");
        }
        assert!(matches!(
            open(&sealed[..SEALED_LEN - 1], b"passphrase"),
            Err(OpenError::Format(_))
        ));
        let mut greedy = sealed.clone();
        greedy[10..14].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            open(&greedy, b"passphrase"),
            Err(OpenError::Format(m)) if m.contains("limits")
        ));
    }
}

//! Wrapping the file key to a recipient (FORMAT.md §4) and the transport
//! stanza of the key server (§7).

use aes_gcm::{Aes256Gcm, KeyInit, aead::AeadInOut};
use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::format::{DocumentId, KemId, MAGIC, Stanza, VERSION};
use crate::kem::{SharedSecret, mlkem768};

/// Body length of an ML-KEM-768 stanza: ciphertext + wrapped file key.
pub const MLKEM768_BODY_LEN: usize = mlkem768::CIPHERTEXT_LEN + WRAPPED_KEY_LEN;
/// The file key sealed with AES-256-GCM: 32 bytes + 16-byte tag.
pub const WRAPPED_KEY_LEN: usize = 48;
/// Key id of the key server's transport stanza (FORMAT.md §7).
pub const TRANSPORT_KEY_ID: u32 = 0;
const LABEL: &[u8] = b"pqfile/v1/stanza";

/// The 256-bit file key (FORMAT.md §4). Zeroized on drop, no `Debug`.
pub struct FileKey(Zeroizing<[u8; 32]>);

impl FileKey {
    /// A fresh random file key.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(k.as_mut());
        Self(k)
    }

    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key bytes. Handle with care: never log or persist them.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Why a stanza could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StanzaUnwrapError {
    /// The stanza's KEM is not one this build implements (S2).
    UnsupportedKem,
    /// Opaque: wrong key, wrong document, tampered stanza (W1).
    DecryptionFailed,
}

impl StanzaUnwrapError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedKem => "unsupported_kem",
            Self::DecryptionFailed => "decryption_failed",
        }
    }
}

impl core::fmt::Display for StanzaUnwrapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::UnsupportedKem => "the stanza uses a KEM this version does not support",
            Self::DecryptionFailed => "decryption failed",
        })
    }
}

impl core::error::Error for StanzaUnwrapError {}

/// `magic || version || flags || document id || kem || key id` (FORMAT.md §4 step 2).
fn binding(document_id: &DocumentId, kem: KemId, key_id: u32) -> [u8; 28] {
    let mut b = [0u8; 28];
    b[..4].copy_from_slice(&MAGIC);
    b[4] = VERSION;
    b[5] = 0;
    b[6..22].copy_from_slice(document_id.as_bytes());
    b[22..24].copy_from_slice(&kem.0.to_be_bytes());
    b[24..28].copy_from_slice(&key_id.to_be_bytes());
    b
}

fn wrap_cipher(bind: &[u8; 28], kem_ciphertext: &[u8], ss: &SharedSecret) -> Aes256Gcm {
    let hk = Hkdf::<Sha256>::new(Some(bind), ss.expose());
    let mut key = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA-256's 8160-byte limit.
    let _ = hk.expand_multi_info(&[LABEL, &[0], kem_ciphertext], key.as_mut());
    Aes256Gcm::new(&(*key).into())
}

fn aad(bind: &[u8; 28]) -> [u8; 45] {
    let mut a = [0u8; 45];
    a[..16].copy_from_slice(LABEL);
    a[17..].copy_from_slice(bind);
    a
}

/// Seals `file_key` given an already-run KEM (`kem_ciphertext`, `ss`):
/// the key server uses this for transport stanzas, tests for vectors.
pub fn seal(
    file_key: &FileKey,
    document_id: &DocumentId,
    kem: KemId,
    key_id: u32,
    kem_ciphertext: &[u8],
    ss: &SharedSecret,
) -> Stanza {
    let bind = binding(document_id, kem, key_id);
    let cipher = wrap_cipher(&bind, kem_ciphertext, ss);
    let mut body = Vec::with_capacity(kem_ciphertext.len() + WRAPPED_KEY_LEN);
    body.extend_from_slice(kem_ciphertext);
    let mut sealed = *file_key.expose();
    let nonce = aes_gcm::Nonce::<aes_gcm::aead::consts::U12>::default();
    // AES-GCM only fails for messages over 2^36 bytes; 32 bytes cannot.
    let tag = cipher
        .encrypt_inout_detached(&nonce, &aad(&bind), sealed.as_mut_slice().into())
        .unwrap_or_default();
    body.extend_from_slice(&sealed);
    body.extend_from_slice(&tag);
    zeroize::Zeroize::zeroize(&mut sealed);
    Stanza { kem, key_id, body }
}

/// Opens a stanza given the KEM shared secret, in the context of
/// `document_id` (the id of the header being decrypted, W2).
pub fn open(
    stanza: &Stanza,
    document_id: &DocumentId,
    ss: &SharedSecret,
) -> Result<FileKey, StanzaUnwrapError> {
    if stanza.kem != KemId::ML_KEM_768 {
        return Err(StanzaUnwrapError::UnsupportedKem);
    }
    if stanza.body.len() != MLKEM768_BODY_LEN {
        return Err(StanzaUnwrapError::DecryptionFailed);
    }
    let (ct, wrapped) = stanza.body.split_at(mlkem768::CIPHERTEXT_LEN);
    let bind = binding(document_id, stanza.kem, stanza.key_id);
    let cipher = wrap_cipher(&bind, ct, ss);
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&wrapped[..32]);
    let tag = aes_gcm::Tag::<aes_gcm::aead::consts::U16>::try_from(&wrapped[32..])
        .map_err(|_| StanzaUnwrapError::DecryptionFailed)?;
    let nonce = aes_gcm::Nonce::<aes_gcm::aead::consts::U12>::default();
    cipher
        .decrypt_inout_detached(&nonce, &aad(&bind), key.as_mut_slice().into(), &tag)
        .map_err(|_| StanzaUnwrapError::DecryptionFailed)?;
    Ok(FileKey(key))
}

/// The KEM ciphertext of an ML-KEM-768 stanza (what the key server decapsulates).
pub fn kem_ciphertext(stanza: &Stanza) -> Result<&[u8], StanzaUnwrapError> {
    if stanza.kem != KemId::ML_KEM_768 {
        return Err(StanzaUnwrapError::UnsupportedKem);
    }
    stanza
        .body
        .get(..mlkem768::CIPHERTEXT_LEN)
        .ok_or(StanzaUnwrapError::DecryptionFailed)
}

/// Encapsulates to `public_key` and seals `file_key` (FORMAT.md §4).
pub fn wrap<R: CryptoRng + ?Sized>(
    file_key: &FileKey,
    document_id: &DocumentId,
    key_id: u32,
    public_key: &mlkem768::PublicKey,
    rng: &mut R,
) -> Stanza {
    let (ct, ss) = public_key.encapsulate(rng);
    seal(file_key, document_id, KemId::ML_KEM_768, key_id, &ct, &ss)
}

/// Decapsulates with `secret_key` and opens the stanza.
pub fn unwrap(
    stanza: &Stanza,
    document_id: &DocumentId,
    secret_key: &mlkem768::SecretKey,
) -> Result<FileKey, StanzaUnwrapError> {
    let ct = kem_ciphertext(stanza)?;
    let ss = secret_key
        .decapsulate(ct)
        .map_err(|_| StanzaUnwrapError::DecryptionFailed)?;
    open(stanza, document_id, &ss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn stanza_opens_only_in_its_own_document_and_key_id() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let sk = mlkem768::SecretKey::generate(&mut rng);
        let fk = FileKey::generate(&mut rng);
        let doc_a = DocumentId::generate(&mut rng);
        let doc_b = DocumentId::generate(&mut rng);
        let s = wrap(&fk, &doc_a, 7, &sk.public_key(), &mut rng);
        assert_eq!(s.body.len(), MLKEM768_BODY_LEN);
        assert_eq!(unwrap(&s, &doc_a, &sk).unwrap().expose(), fk.expose());
        assert_eq!(
            unwrap(&s, &doc_b, &sk).err(),
            Some(StanzaUnwrapError::DecryptionFailed)
        );
        let relabelled = Stanza {
            key_id: 8,
            ..s.clone()
        };
        assert_eq!(
            unwrap(&relabelled, &doc_a, &sk).err(),
            Some(StanzaUnwrapError::DecryptionFailed)
        );
        let other = mlkem768::SecretKey::generate(&mut rng);
        assert_eq!(
            unwrap(&s, &doc_a, &other).err(),
            Some(StanzaUnwrapError::DecryptionFailed)
        );
        let unknown = Stanza {
            kem: KemId::X_WING,
            ..s
        };
        assert_eq!(
            unwrap(&unknown, &doc_a, &sk).err(),
            Some(StanzaUnwrapError::UnsupportedKem)
        );
    }
}

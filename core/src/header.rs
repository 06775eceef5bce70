//! Header MAC (FORMAT.md §5) and header construction / stanza replacement (§8).

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use rand_core::CryptoRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::format::{DocumentId, Header, KemId, MAX_KEY_ID, MAX_STANZAS, Stanza};
use crate::kem::mlkem768;
use crate::stanza::{self, FileKey};

fn mac_key(file_key: &FileKey) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(None, file_key.expose());
    let mut k = Zeroizing::new([0u8; 32]);
    let _ = hk.expand(b"pqfile/v1/header-mac", k.as_mut());
    k
}

fn hmac(file_key: &FileKey) -> Hmac<Sha256> {
    let key = mac_key(file_key);
    // HMAC accepts keys of any length.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_ref()).unwrap_or_else(|_| unreachable_hmac())
}

#[allow(clippy::panic)]
fn unreachable_hmac() -> ! {
    panic!("HMAC-SHA-256 accepts any key length")
}

/// Computes the MAC of `header` under `file_key`.
pub fn compute_mac(header: &Header, file_key: &FileKey) -> [u8; 32] {
    let mut m = hmac(file_key);
    m.update(&header.mac_input());
    m.finalize().into_bytes().into()
}

/// Verifies the header MAC in constant time (M1).
pub fn verify_mac(header: &Header, file_key: &FileKey) -> bool {
    let mut m = hmac(file_key);
    m.update(&header.mac_input());
    m.verify_slice(&header.mac).is_ok()
}

/// Recomputes and stores the MAC.
pub fn set_mac(header: &mut Header, file_key: &FileKey) {
    header.mac = compute_mac(header, file_key);
}

/// A recipient of a new file: the key server's key id and public key.
#[derive(Clone, Debug)]
pub struct Recipient {
    /// `encryption_keys.id` on the key server.
    pub key_id: u32,
    /// The ML-KEM-768 public key.
    pub public_key: mlkem768::PublicKey,
}

/// Why a header could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// No recipients, or more than 16 (P4).
    BadRecipientCount,
    /// A key id of 0 or above 2³¹−1 (S5).
    BadKeyId,
    /// The same key twice (S6).
    DuplicateRecipient,
}

impl BuildError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRecipientCount => "bad_recipient_count",
            Self::BadKeyId => "bad_key_id",
            Self::DuplicateRecipient => "duplicate_recipient",
        }
    }
}

impl core::fmt::Display for BuildError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::BadRecipientCount => "a file needs between 1 and 16 recipients",
            Self::BadKeyId => "recipient key ids must be between 1 and 2147483647",
            Self::DuplicateRecipient => "the same recipient key was given twice",
        })
    }
}

impl core::error::Error for BuildError {}

fn check_stanzas(stanzas: &[Stanza]) -> Result<(), BuildError> {
    if stanzas.is_empty() || stanzas.len() > MAX_STANZAS {
        return Err(BuildError::BadRecipientCount);
    }
    for (i, s) in stanzas.iter().enumerate() {
        if s.key_id == 0 || s.key_id > MAX_KEY_ID {
            return Err(BuildError::BadKeyId);
        }
        if stanzas[..i]
            .iter()
            .any(|t| t.kem == s.kem && t.key_id == s.key_id)
        {
            return Err(BuildError::DuplicateRecipient);
        }
    }
    Ok(())
}

/// Builds a header wrapping `file_key` to each recipient, MAC included.
pub fn build<R: CryptoRng + ?Sized>(
    document_id: DocumentId,
    recipients: &[Recipient],
    file_key: &FileKey,
    rng: &mut R,
) -> Result<Header, BuildError> {
    let stanzas: Vec<Stanza> = recipients
        .iter()
        .map(|r| stanza::wrap(file_key, &document_id, r.key_id, &r.public_key, rng))
        .collect();
    from_stanzas(document_id, stanzas, file_key)
}

/// Builds a header (MAC included) from ready stanzas (which may include stanzas of
/// KEMs this build does not implement, S1).
pub fn from_stanzas(
    document_id: DocumentId,
    stanzas: Vec<Stanza>,
    file_key: &FileKey,
) -> Result<Header, BuildError> {
    check_stanzas(&stanzas)?;
    let mut h = Header {
        document_id,
        stanzas,
        mac: [0; 32],
    };
    set_mac(&mut h, file_key);
    Ok(h)
}

/// Replaces the stanza for (`kem`, `old_key_id`) with `new_stanza` (or
/// appends it when `old_key_id` is `None`) and recomputes the MAC (FORMAT.md §8).
/// The caller must have verified the header with `file_key` first.
pub fn replace_stanza(
    header: &Header,
    old: Option<(KemId, u32)>,
    new_stanza: Stanza,
    file_key: &FileKey,
) -> Result<Header, BuildError> {
    let mut stanzas: Vec<Stanza> = header
        .stanzas
        .iter()
        .filter(|s| Some((s.kem, s.key_id)) != old)
        .cloned()
        .collect();
    stanzas.push(new_stanza);
    from_stanzas(header.document_id, stanzas, file_key)
}

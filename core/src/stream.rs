//! The payload: C2SP chunked encryption v1 with SHA-256 and AEAD_AES_256_GCM
//! (FORMAT.md §6, https://c2sp.org/chunked-encryption).
//!
//! [`PayloadEncryptor`] and [`PayloadDecryptor`] are push-based state machines holding at
//! most one chunk; [`Seekable`] decrypts any chunk on its own for random access.

use aes_gcm::{Aes256Gcm, KeyInit, aead::AeadInOut};
use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::stanza::FileKey;

mod seekable;
pub use seekable::{RangeError, Seekable};

/// Plaintext bytes per full chunk.
pub const CHUNK_SIZE: usize = 16384;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Ciphertext bytes per full chunk.
pub const CHUNK_CT_SIZE: usize = CHUNK_SIZE + TAG_LEN;
/// Salt length.
pub const SALT_LEN: usize = 24;
/// Commitment length.
pub const COMMITMENT_LEN: usize = 32;
/// Salt + commitment, before the first chunk.
pub const PAYLOAD_PREFIX_LEN: usize = SALT_LEN + COMMITMENT_LEN;
/// AES-GCM nonce length.
pub const NONCE_LEN: usize = 12;
/// C4: the chunk counter stays below 2³⁸.
pub const MAX_CHUNKS: u64 = 1 << 38;
const AEAD_NAME: &[u8] = b"AEAD_AES_256_GCM";

/// Opaque decryption failure (FORMAT.md W1, M1, C2, C3): no detail on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecryptionFailed;

impl core::fmt::Display for DecryptionFailed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("decryption failed")
    }
}

impl core::error::Error for DecryptionFailed {}

/// Encryption stops at 2³⁸ chunks (C4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageTooLong;

impl core::fmt::Display for MessageTooLong {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the plaintext exceeds the 4 PiB limit of the format")
    }
}

impl core::error::Error for MessageTooLong {}

/// The per-file AEAD key and base nonce derived from the input key, salt and
/// context. Exposed so that a JS layer can seal chunks with WebCrypto and
/// produce byte-identical output.
pub struct PayloadKey {
    key: Zeroizing<[u8; 32]>,
    base_nonce: [u8; NONCE_LEN],
    commitment: [u8; COMMITMENT_LEN],
}

impl PayloadKey {
    /// Derives the key, base nonce and commitment (FORMAT.md §6).
    pub fn derive(file_key: &FileKey, salt: &[u8; SALT_LEN], context: &[u8]) -> Self {
        let hk = Hkdf::<Sha256>::new(None, file_key.expose());
        let mut input_key = Zeroizing::new([0u8; 32]);
        let _ = hk.expand(b"pqfile/v1/payload", input_key.as_mut());
        // HKDF-Expand only: the input key is already uniformly random.
        let Ok(prk) = Hkdf::<Sha256>::from_prk(input_key.as_ref()) else {
            unreachable_prk()
        };
        let mut okm = Zeroizing::new([0u8; 32 + NONCE_LEN + COMMITMENT_LEN]);
        let _ = prk.expand_multi_info(
            &[
                b"c2sp.org/chunked-encryption@v1+",
                AEAD_NAME,
                &[0],
                salt,
                context,
            ],
            okm.as_mut(),
        );
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&okm[..32]);
        let mut base_nonce = [0u8; NONCE_LEN];
        base_nonce.copy_from_slice(&okm[32..44]);
        let mut commitment = [0u8; COMMITMENT_LEN];
        commitment.copy_from_slice(&okm[44..]);
        Self {
            key,
            base_nonce,
            commitment,
        }
    }

    /// The AES-256-GCM key. Secret.
    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The base nonce.
    pub fn base_nonce(&self) -> &[u8; NONCE_LEN] {
        &self.base_nonce
    }

    /// The commitment.
    pub fn commitment(&self) -> &[u8; COMMITMENT_LEN] {
        &self.commitment
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&(*self.key).into())
    }
}

#[allow(clippy::panic)]
fn unreachable_prk() -> ! {
    panic!("a 32-byte PRK is valid for HKDF-SHA-256")
}

/// Nonce of chunk `counter`: base nonce XOR big-endian counter.
pub fn chunk_nonce(base: &[u8; NONCE_LEN], counter: u64) -> [u8; NONCE_LEN] {
    let mut n = *base;
    for (b, c) in n[4..].iter_mut().zip(counter.to_be_bytes()) {
        *b ^= c;
    }
    n
}

/// Streaming payload encryptor. Output: salt, commitment, then chunks.
pub struct PayloadEncryptor {
    cipher: Aes256Gcm,
    base_nonce: [u8; NONCE_LEN],
    counter: u64,
    buf: Zeroizing<Vec<u8>>,
    prefix: Option<[u8; PAYLOAD_PREFIX_LEN]>,
}

impl PayloadEncryptor {
    /// Starts a payload with a random salt.
    pub fn new<R: CryptoRng + ?Sized>(file_key: &FileKey, context: &[u8], rng: &mut R) -> Self {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        Self::with_salt(file_key, context, salt)
    }

    /// Starts a payload with a given salt (test vectors). The salt MUST NOT
    /// repeat for a file key.
    pub fn with_salt(file_key: &FileKey, context: &[u8], salt: [u8; SALT_LEN]) -> Self {
        let pk = PayloadKey::derive(file_key, &salt, context);
        let mut prefix = [0u8; PAYLOAD_PREFIX_LEN];
        prefix[..SALT_LEN].copy_from_slice(&salt);
        prefix[SALT_LEN..].copy_from_slice(pk.commitment());
        Self {
            cipher: pk.cipher(),
            base_nonce: pk.base_nonce,
            counter: 0,
            buf: Zeroizing::new(Vec::with_capacity(CHUNK_SIZE)),
            prefix: Some(prefix),
        }
    }

    fn seal_chunk(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), MessageTooLong> {
        if self.counter >= MAX_CHUNKS {
            return Err(MessageTooLong);
        }
        let nonce = chunk_nonce(&self.base_nonce, self.counter);
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce.into(), b"", (&mut out[start..]).into())
            .map_err(|_| MessageTooLong)?;
        out.extend_from_slice(&tag);
        self.counter += 1;
        Ok(())
    }

    fn emit_prefix(&mut self, out: &mut Vec<u8>) {
        if let Some(p) = self.prefix.take() {
            out.extend_from_slice(&p);
        }
    }

    /// Encrypts `data`, appending every completed chunk to `out`. Holds back
    /// less than one chunk of plaintext.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), MessageTooLong> {
        self.emit_prefix(out);
        out.reserve((self.buf.len() + data.len()) / CHUNK_SIZE * CHUNK_CT_SIZE);
        if !self.buf.is_empty() {
            let take = (CHUNK_SIZE - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() < CHUNK_SIZE {
                return Ok(());
            }
            // A full chunk is never the last one (C1): seal it now.
            let chunk = core::mem::take(&mut *self.buf);
            self.seal_chunk(&chunk, out)?;
            *self.buf = chunk;
            self.buf.clear();
        }
        // Seal full chunks straight from the input, no intermediate copy.
        while data.len() >= CHUNK_SIZE {
            let (chunk, rest) = data.split_at(CHUNK_SIZE);
            self.seal_chunk(chunk, out)?;
            data = rest;
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Seals the final, short (possibly empty) chunk.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), MessageTooLong> {
        self.emit_prefix(out);
        let last = core::mem::take(&mut *self.buf);
        let r = self.seal_chunk(&last, out);
        drop(Zeroizing::new(last));
        r
    }
}

enum DecState {
    Prefix,
    Chunks,
    Failed,
}

/// Streaming payload decryptor. Releases each chunk's plaintext as soon as it
/// authenticates (C6); only [`PayloadDecryptor::finish`] confirms the stream ended
/// where it should.
pub struct PayloadDecryptor {
    file_key: FileKey,
    context: Vec<u8>,
    cipher: Option<Aes256Gcm>,
    base_nonce: [u8; NONCE_LEN],
    counter: u64,
    buf: Vec<u8>,
    state: DecState,
}

impl PayloadDecryptor {
    /// Prepares to decrypt a payload whose context is `context` (the header prefix).
    pub fn new(file_key: &FileKey, context: &[u8]) -> Self {
        Self {
            file_key: FileKey::from_bytes(*file_key.expose()),
            context: context.to_vec(),
            cipher: None,
            base_nonce: [0; NONCE_LEN],
            counter: 0,
            buf: Vec::with_capacity(CHUNK_CT_SIZE),
            state: DecState::Prefix,
        }
    }

    fn open_chunk(&mut self, ct: &[u8], out: &mut Vec<u8>) -> Result<(), DecryptionFailed> {
        let cipher = self.cipher.as_ref().ok_or(DecryptionFailed)?;
        if self.counter >= MAX_CHUNKS || ct.len() < TAG_LEN {
            return Err(DecryptionFailed);
        }
        let nonce = chunk_nonce(&self.base_nonce, self.counter);
        let (body, tag) = ct.split_at(ct.len() - TAG_LEN);
        let start = out.len();
        out.extend_from_slice(body);
        let tag = aes_gcm::Tag::<aes_gcm::aead::consts::U16>::try_from(tag)
            .map_err(|_| DecryptionFailed)?;
        if cipher
            .decrypt_inout_detached(&nonce.into(), b"", (&mut out[start..]).into(), &tag)
            .is_err()
        {
            // Never leave unauthenticated plaintext in the caller's buffer.
            out.truncate(start);
            return Err(DecryptionFailed);
        }
        self.counter += 1;
        Ok(())
    }

    fn fail<T>(&mut self) -> Result<T, DecryptionFailed> {
        self.state = DecState::Failed;
        Err(DecryptionFailed)
    }

    /// Consumes ciphertext, appending authenticated plaintext to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), DecryptionFailed> {
        loop {
            match self.state {
                DecState::Failed => return Err(DecryptionFailed),
                DecState::Prefix => {
                    let take = (PAYLOAD_PREFIX_LEN - self.buf.len()).min(data.len());
                    self.buf.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.buf.len() < PAYLOAD_PREFIX_LEN {
                        return Ok(());
                    }
                    let mut salt = [0u8; SALT_LEN];
                    salt.copy_from_slice(&self.buf[..SALT_LEN]);
                    let pk = PayloadKey::derive(&self.file_key, &salt, &self.context);
                    // C2: check the commitment before any chunk.
                    if !bool::from(
                        pk.commitment()
                            .ct_eq(&self.buf[SALT_LEN..PAYLOAD_PREFIX_LEN]),
                    ) {
                        return self.fail();
                    }
                    self.cipher = Some(pk.cipher());
                    self.base_nonce = pk.base_nonce;
                    self.buf.clear();
                    self.state = DecState::Chunks;
                }
                DecState::Chunks => {
                    if !self.buf.is_empty() {
                        let take = (CHUNK_CT_SIZE - self.buf.len()).min(data.len());
                        self.buf.extend_from_slice(&data[..take]);
                        data = &data[take..];
                        if self.buf.len() < CHUNK_CT_SIZE {
                            return Ok(());
                        }
                        let chunk = core::mem::take(&mut self.buf);
                        let r = self.open_chunk(&chunk, out);
                        self.buf = chunk;
                        self.buf.clear();
                        if r.is_err() {
                            return self.fail();
                        }
                    }
                    // A full-length chunk is never final (C1), so it can be
                    // opened as soon as it is complete.
                    while data.len() >= CHUNK_CT_SIZE {
                        let (chunk, rest) = data.split_at(CHUNK_CT_SIZE);
                        if self.open_chunk(chunk, out).is_err() {
                            return self.fail();
                        }
                        data = rest;
                    }
                    self.buf.extend_from_slice(data);
                    return Ok(());
                }
            }
        }
    }

    /// Ends the stream: the buffered remainder must be a valid, short final chunk.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), DecryptionFailed> {
        if !matches!(self.state, DecState::Chunks) || self.buf.len() < TAG_LEN {
            return Err(DecryptionFailed);
        }
        let last = core::mem::take(&mut self.buf);
        self.open_chunk(&last, out)
    }
}

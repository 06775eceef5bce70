//! Random access to a payload (FORMAT.md §6.1): any chunk decrypts on its
//! own, so a byte range costs only the chunks that overlap it.

use aes_gcm::{Aes256Gcm, aead::AeadInOut};
use subtle::ConstantTimeEq;

use super::{
    CHUNK_CT_SIZE, CHUNK_SIZE, DecryptionFailed, MAX_CHUNKS, NONCE_LEN, PAYLOAD_PREFIX_LEN,
    PayloadKey, SALT_LEN, TAG_LEN, chunk_nonce,
};
use crate::stanza::FileKey;

/// Random-access view of a payload (FORMAT.md §6.1).
pub struct Seekable {
    cipher: Aes256Gcm,
    base_nonce: [u8; NONCE_LEN],
    payload_len: u64,
    chunk_count: u64,
    plaintext_len: u64,
}

impl Seekable {
    /// Checks the payload prefix (salt, commitment) and the payload length.
    /// `payload_len` is the length of the whole payload, prefix included.
    pub fn new(
        file_key: &FileKey,
        context: &[u8],
        payload_prefix: &[u8],
        payload_len: u64,
    ) -> Result<Self, DecryptionFailed> {
        let prefix: &[u8; PAYLOAD_PREFIX_LEN] =
            payload_prefix.try_into().map_err(|_| DecryptionFailed)?;
        let body = payload_len
            .checked_sub(PAYLOAD_PREFIX_LEN as u64)
            .ok_or(DecryptionFailed)?;
        let full = body / CHUNK_CT_SIZE as u64;
        let last = body % CHUNK_CT_SIZE as u64;
        if last < TAG_LEN as u64 || full + 1 > MAX_CHUNKS {
            return Err(DecryptionFailed);
        }
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&prefix[..SALT_LEN]);
        let pk = PayloadKey::derive(file_key, &salt, context);
        if !bool::from(pk.commitment().ct_eq(&prefix[SALT_LEN..])) {
            return Err(DecryptionFailed);
        }
        Ok(Self {
            cipher: pk.cipher(),
            base_nonce: pk.base_nonce,
            payload_len,
            chunk_count: full + 1,
            plaintext_len: full * CHUNK_SIZE as u64 + (last - TAG_LEN as u64),
        })
    }

    /// Plaintext length implied by the payload length (authenticated only
    /// once the last chunk is decrypted).
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Number of chunks.
    pub fn chunk_count(&self) -> u64 {
        self.chunk_count
    }

    /// Payload offset and length of chunk `k`.
    pub fn chunk_span(&self, k: u64) -> Option<(u64, usize)> {
        if k >= self.chunk_count {
            return None;
        }
        let off = PAYLOAD_PREFIX_LEN as u64 + k * CHUNK_CT_SIZE as u64;
        let len = (self.payload_len - off).min(CHUNK_CT_SIZE as u64) as usize;
        Some((off, len))
    }

    /// Decrypts chunk `k` from its ciphertext.
    pub fn decrypt_chunk(&self, k: u64, ct: &[u8]) -> Result<Vec<u8>, DecryptionFailed> {
        let (_, len) = self.chunk_span(k).ok_or(DecryptionFailed)?;
        if ct.len() != len || len < TAG_LEN {
            return Err(DecryptionFailed);
        }
        let nonce = chunk_nonce(&self.base_nonce, k);
        let (body, tag) = ct.split_at(len - TAG_LEN);
        let mut out = body.to_vec();
        let tag = aes_gcm::Tag::<aes_gcm::aead::consts::U16>::try_from(tag)
            .map_err(|_| DecryptionFailed)?;
        self.cipher
            .decrypt_inout_detached(&nonce.into(), b"", out.as_mut_slice().into(), &tag)
            .map_err(|_| DecryptionFailed)?;
        Ok(out)
    }

    /// Decrypts plaintext bytes `start..end`, reading only the chunks that
    /// overlap it through `read_at(payload_offset, buf)`.
    pub fn decrypt_range<E>(
        &self,
        start: u64,
        end: u64,
        mut read_at: impl FnMut(u64, &mut [u8]) -> Result<(), E>,
    ) -> Result<Vec<u8>, RangeError<E>> {
        if start > end || end > self.plaintext_len {
            return Err(RangeError::OutOfBounds);
        }
        let mut out = Vec::with_capacity((end - start) as usize);
        if start == end {
            return Ok(out);
        }
        let first = start / CHUNK_SIZE as u64;
        let last = (end - 1) / CHUNK_SIZE as u64;
        let mut buf = vec![0u8; CHUNK_CT_SIZE];
        for k in first..=last {
            let (off, len) = self.chunk_span(k).ok_or(RangeError::DecryptionFailed)?;
            read_at(off, &mut buf[..len]).map_err(RangeError::Read)?;
            let pt = self
                .decrypt_chunk(k, &buf[..len])
                .map_err(|_| RangeError::DecryptionFailed)?;
            let base = k * CHUNK_SIZE as u64;
            let lo = start.saturating_sub(base) as usize;
            let hi = ((end - base) as usize).min(pt.len());
            out.extend_from_slice(&pt[lo..hi]);
        }
        Ok(out)
    }
}

/// Why a range could not be decrypted.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeError<E> {
    /// The range lies outside the plaintext.
    OutOfBounds,
    /// Opaque authentication failure.
    DecryptionFailed,
    /// The caller's reader failed.
    Read(E),
}

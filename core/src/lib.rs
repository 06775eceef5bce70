#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod error;
pub mod format;
pub mod header;
mod header_reader;
pub mod kem;
pub mod keyserver_unwrap;
pub mod stanza;
pub mod stream;

pub use error::{DecryptError, ERROR_CODES, EncryptError};
pub use format::{DocumentId, Header, KemId, ParseError, Stanza};
pub use header::{BuildError, Recipient};
pub use header_reader::{HeaderRead, HeaderReader};
pub use kem::mlkem768;
pub use keyserver_unwrap::KeyServerUnwrap;
pub use stanza::{FileKey, StanzaUnwrapError};

use core::borrow::Borrow;

use rand_core::CryptoRng;

/// Something that can open stanzas: a local secret key in tests and tools, or
/// (through the key server) a remote one.
pub trait Identity {
    /// Tries to open `stanza` for `document_id`. `None` when this identity is
    /// not the stanza's recipient.
    fn unwrap_stanza(
        &self,
        stanza: &Stanza,
        document_id: &DocumentId,
    ) -> Option<Result<FileKey, StanzaUnwrapError>>;
}

/// A key-server key held locally: key id plus ML-KEM-768 secret key, owned
/// (`LocalIdentity<SecretKey>`, the default) or borrowed
/// (`LocalIdentity<&SecretKey>`, e.g. from a JavaScript object for one call).
pub struct LocalIdentity<K: Borrow<mlkem768::SecretKey> = mlkem768::SecretKey> {
    /// The key id the stanza must name.
    pub key_id: u32,
    /// The secret key.
    pub secret_key: K,
}

impl<K: Borrow<mlkem768::SecretKey>> Identity for LocalIdentity<K> {
    fn unwrap_stanza(
        &self,
        stanza: &Stanza,
        document_id: &DocumentId,
    ) -> Option<Result<FileKey, StanzaUnwrapError>> {
        if stanza.kem != KemId::ML_KEM_768 || stanza.key_id != self.key_id {
            return None;
        }
        Some(stanza::unwrap(
            stanza,
            document_id,
            self.secret_key.borrow(),
        ))
    }
}

/// Streaming file encryptor: header, then payload. Memory: one chunk plus the header.
pub struct Encryptor {
    header: Header,
    header_pending: bool,
    payload: stream::PayloadEncryptor,
}

impl Encryptor {
    /// Starts a file for `recipients` with a fresh random document id.
    pub fn new<R: CryptoRng + ?Sized>(
        recipients: &[Recipient],
        rng: &mut R,
    ) -> Result<Self, EncryptError> {
        let id = DocumentId::generate(rng);
        Self::with_document_id(id, recipients, rng)
    }

    /// Starts a file with a document id chosen by the key server.
    pub fn with_document_id<R: CryptoRng + ?Sized>(
        document_id: DocumentId,
        recipients: &[Recipient],
        rng: &mut R,
    ) -> Result<Self, EncryptError> {
        let file_key = FileKey::generate(rng);
        let header = header::build(document_id, recipients, &file_key, rng)?;
        let payload = stream::PayloadEncryptor::new(&file_key, &header.prefix(), rng);
        Ok(Self {
            header,
            header_pending: true,
            payload,
        })
    }

    /// Starts a file from a ready header and its file key (test vectors,
    /// callers that add stanzas of other KEMs).
    pub fn with_header(header: Header, file_key: &FileKey, salt: [u8; stream::SALT_LEN]) -> Self {
        let payload = stream::PayloadEncryptor::with_salt(file_key, &header.prefix(), salt);
        Self {
            header,
            header_pending: true,
            payload,
        }
    }

    /// The header of the file being written.
    pub fn header(&self) -> &Header {
        &self.header
    }

    fn emit_header(&mut self, out: &mut Vec<u8>) {
        if self.header_pending {
            out.extend_from_slice(&self.header.to_bytes());
            self.header_pending = false;
        }
    }

    /// Encrypts `data`, appending output to `out`.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), EncryptError> {
        self.emit_header(out);
        Ok(self.payload.push(data, out)?)
    }

    /// Writes the final chunk.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), EncryptError> {
        self.emit_header(out);
        Ok(self.payload.finish(out)?)
    }
}

/// Finds a stanza one of `identities` can open and returns the file key,
/// after verifying the header MAC (M1).
pub fn unwrap_file_key(
    header: &Header,
    identities: &[&dyn Identity],
) -> Result<FileKey, DecryptError> {
    let mut saw_supported = false;
    for s in &header.stanzas {
        if s.kem.is_supported() {
            saw_supported = true;
        }
        for id in identities {
            if let Some(r) = id.unwrap_stanza(s, &header.document_id) {
                let key = r?;
                if !header::verify_mac(header, &key) {
                    return Err(DecryptError::DecryptionFailed);
                }
                return Ok(key);
            }
        }
    }
    Err(if saw_supported {
        DecryptError::NoMatchingStanza
    } else {
        DecryptError::UnsupportedKem
    })
}

/// Streaming payload decryptor for a header whose file key is known.
pub struct Decryptor {
    payload: stream::PayloadDecryptor,
}

impl Decryptor {
    /// Verifies the header MAC with `file_key` and prepares the payload
    /// decryptor. Feed it the bytes after the header.
    pub fn new(header: &Header, file_key: &FileKey) -> Result<Self, DecryptError> {
        if !header::verify_mac(header, file_key) {
            return Err(DecryptError::DecryptionFailed);
        }
        Ok(Self {
            payload: stream::PayloadDecryptor::new(file_key, &header.prefix()),
        })
    }

    /// Decrypts payload bytes, appending authenticated plaintext to `out`.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), DecryptError> {
        Ok(self.payload.push(data, out)?)
    }

    /// Checks the end of the stream and emits the final chunk.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<(), DecryptError> {
        Ok(self.payload.finish(out)?)
    }
}

/// One-shot encryption.
pub fn encrypt<R: CryptoRng + ?Sized>(
    recipients: &[Recipient],
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, EncryptError> {
    let mut e = Encryptor::new(recipients, rng)?;
    let mut out = Vec::with_capacity(plaintext.len() + plaintext.len() / 1000 + 2048);
    e.push(plaintext, &mut out)?;
    e.finish(&mut out)?;
    Ok(out)
}

/// One-shot decryption with local identities.
pub fn decrypt(file: &[u8], identities: &[&dyn Identity]) -> Result<Vec<u8>, DecryptError> {
    let (header, used) = Header::parse(file)?;
    let key = unwrap_file_key(&header, identities)?;
    decrypt_with_key(&header, &file[used..], &key)
}

/// One-shot payload decryption with a known file key.
pub fn decrypt_with_key(
    header: &Header,
    payload: &[u8],
    file_key: &FileKey,
) -> Result<Vec<u8>, DecryptError> {
    let mut d = Decryptor::new(header, file_key)?;
    let mut out = Vec::with_capacity(payload.len());
    d.push(payload, &mut out)?;
    d.finish(&mut out)?;
    Ok(out)
}

/// Random access: decrypts plaintext bytes `start..end` of a file of
/// `file_len` bytes whose header (`header`, `header_len` bytes) is known,
/// reading only the overlapping chunks through `read_at(file_offset, buf)`.
pub fn decrypt_range<E>(
    header: &Header,
    header_len: usize,
    file_key: &FileKey,
    file_len: u64,
    start: u64,
    end: u64,
    mut read_at: impl FnMut(u64, &mut [u8]) -> Result<(), E>,
) -> Result<Vec<u8>, stream::RangeError<E>> {
    if !header::verify_mac(header, file_key) {
        return Err(stream::RangeError::DecryptionFailed);
    }
    let h = header_len as u64;
    let mut prefix = [0u8; stream::PAYLOAD_PREFIX_LEN];
    read_at(h, &mut prefix).map_err(stream::RangeError::Read)?;
    let payload_len = file_len
        .checked_sub(h)
        .ok_or(stream::RangeError::DecryptionFailed)?;
    let s = stream::Seekable::new(file_key, &header.prefix(), &prefix, payload_len)
        .map_err(|_| stream::RangeError::DecryptionFailed)?;
    s.decrypt_range(start, end, |off, buf| read_at(h + off, buf))
}

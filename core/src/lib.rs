#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod format;
pub mod header;
pub mod kem;
pub mod stanza;
pub mod stream;

pub use format::{DocumentId, Header, KemId, ParseError, Stanza};
pub use header::{BuildError, Recipient};
pub use kem::mlkem768;
pub use stanza::{FileKey, UnwrapError};

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
    ) -> Option<Result<FileKey, UnwrapError>>;
}

/// A key-server key held locally: key id plus ML-KEM-768 secret key.
pub struct LocalIdentity {
    /// The key id the stanza must name.
    pub key_id: u32,
    /// The secret key.
    pub secret_key: mlkem768::SecretKey,
}

impl Identity for LocalIdentity {
    fn unwrap_stanza(
        &self,
        stanza: &Stanza,
        document_id: &DocumentId,
    ) -> Option<Result<FileKey, UnwrapError>> {
        if stanza.kem != KemId::ML_KEM_768 || stanza.key_id != self.key_id {
            return None;
        }
        Some(stanza::unwrap(stanza, document_id, &self.secret_key))
    }
}

/// Why a file could not be encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncryptError {
    /// The recipient list is invalid.
    Build(BuildError),
    /// More than 4 PiB of plaintext (C4).
    TooLong,
}

impl EncryptError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Build(e) => e.code(),
            Self::TooLong => "message_too_long",
        }
    }
}

impl core::fmt::Display for EncryptError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Build(e) => e.fmt(f),
            Self::TooLong => stream::MessageTooLong.fmt(f),
        }
    }
}

impl core::error::Error for EncryptError {}

impl From<BuildError> for EncryptError {
    fn from(e: BuildError) -> Self {
        Self::Build(e)
    }
}

impl From<stream::MessageTooLong> for EncryptError {
    fn from(_: stream::MessageTooLong) -> Self {
        Self::TooLong
    }
}

/// Why a file could not be decrypted (FORMAT.md §9).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecryptError {
    /// The header is malformed (says what is wrong).
    Parse(ParseError),
    /// Every stanza uses a KEM this build does not implement (S2).
    UnsupportedKem,
    /// None of the given identities is a recipient of the file.
    NoMatchingStanza,
    /// Opaque: wrong key, tampered, truncated or extended file.
    DecryptionFailed,
}

impl DecryptError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Parse(e) => e.code(),
            Self::UnsupportedKem => "unsupported_kem",
            Self::NoMatchingStanza => "no_matching_stanza",
            Self::DecryptionFailed => "decryption_failed",
        }
    }
}

impl core::fmt::Display for DecryptError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Parse(e) => e.fmt(f),
            Self::UnsupportedKem => {
                f.write_str("the file's stanzas all use KEMs this version does not support")
            }
            Self::NoMatchingStanza => {
                f.write_str("none of the available keys is a recipient of this file")
            }
            Self::DecryptionFailed => f.write_str("decryption failed"),
        }
    }
}

impl core::error::Error for DecryptError {}

impl From<ParseError> for DecryptError {
    fn from(e: ParseError) -> Self {
        Self::Parse(e)
    }
}

impl From<stream::DecryptionFailed> for DecryptError {
    fn from(_: stream::DecryptionFailed) -> Self {
        Self::DecryptionFailed
    }
}

impl From<UnwrapError> for DecryptError {
    fn from(e: UnwrapError) -> Self {
        match e {
            UnwrapError::UnsupportedKem => Self::UnsupportedKem,
            UnwrapError::DecryptionFailed => Self::DecryptionFailed,
        }
    }
}

/// Streaming file encryptor: header, then payload. Memory: one chunk plus the header.
pub struct Encryptor {
    header: Header,
    header_pending: bool,
    payload: stream::Encryptor,
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
        let payload = stream::Encryptor::new(&file_key, &header.prefix(), rng);
        Ok(Self {
            header,
            header_pending: true,
            payload,
        })
    }

    /// Starts a file from a ready header and its file key (test vectors,
    /// callers that add stanzas of other KEMs).
    pub fn with_header(header: Header, file_key: &FileKey, salt: [u8; stream::SALT_LEN]) -> Self {
        let payload = stream::Encryptor::with_salt(file_key, &header.prefix(), salt);
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
    payload: stream::Decryptor,
}

impl Decryptor {
    /// Verifies the header MAC with `file_key` and prepares the payload
    /// decryptor. Feed it the bytes after the header.
    pub fn new(header: &Header, file_key: &FileKey) -> Result<Self, DecryptError> {
        if !header::verify_mac(header, file_key) {
            return Err(DecryptError::DecryptionFailed);
        }
        Ok(Self {
            payload: stream::Decryptor::new(file_key, &header.prefix()),
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

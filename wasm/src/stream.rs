//! Streaming encryption and decryption (FORMAT.md §6), and the chunk key for
//! sealing or opening chunks outside wasm (WebCrypto) with byte-identical
//! output.

use pqfile_core::kem::SharedSecret;
use pqfile_core::stream::{self, PAYLOAD_PREFIX_LEN, PayloadKey, SALT_LEN};
use pqfile_core::{DocumentId, KemId, Recipient, Stanza, header, stanza};
use rand_core::Rng;
use subtle::ConstantTimeEq;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorCode, Result};
use crate::header::Header;
use crate::kem::{Encapsulation, FileKey, PublicKey, document_id};
use crate::rng;

/// The format's sizes, from pqfile-core (FORMAT.md §6, §10): a plain
/// JavaScript object, readable before the module is instantiated.
/// wasm-bindgen takes only literals as values; the assertions below tie each
/// one to the core's constant, so they cannot drift apart.
#[wasm_bindgen]
#[derive(Clone, Copy, Debug)]
pub enum StreamConstant {
    /// Plaintext bytes per full chunk (`CHUNK_SIZE`).
    ChunkSize = 16384,
    /// AES-GCM tag bytes per chunk (`TAG_LEN`).
    TagLen = 16,
    /// Ciphertext bytes per full chunk (`CHUNK_CT_SIZE`).
    ChunkCiphertextSize = 16400,
    /// Salt and commitment between the header and chunk 0 (`PAYLOAD_PREFIX_LEN`).
    PayloadPrefixLen = 56,
    /// The largest possible header (`MAX_HEADER_LEN`).
    MaxHeaderLen = 131256,
}

const _: () = {
    assert!(StreamConstant::ChunkSize as usize == stream::CHUNK_SIZE);
    assert!(StreamConstant::TagLen as usize == stream::TAG_LEN);
    assert!(StreamConstant::ChunkCiphertextSize as usize == stream::CHUNK_CT_SIZE);
    assert!(StreamConstant::PayloadPrefixLen as usize == PAYLOAD_PREFIX_LEN);
    assert!(StreamConstant::MaxHeaderLen as usize == pqfile_core::format::MAX_HEADER_LEN);
};

/// The most chunks a payload may have (FORMAT.md C4: 2³⁸), too large for a
/// `StreamConstant`.
#[wasm_bindgen(js_name = maxChunks)]
pub fn max_chunks() -> f64 {
    stream::MAX_CHUNKS as f64
}

/// One recipient of a new file.
enum Entry {
    /// Encapsulated to inside `new Encryptor` (wasm ML-KEM). Boxed: a public
    /// key is large next to the other variant.
    Key(Box<Recipient>),
    /// Encapsulated beforehand (e.g. by WebCrypto). The shared secret seals
    /// one file key only: the stanza's AES-GCM key is derived from it and
    /// its nonce is fixed (FORMAT.md §4), so `new Encryptor` takes it.
    Encapsulated {
        key_id: u32,
        ciphertext: Vec<u8>,
        shared_secret: Option<SharedSecret>,
    },
}

/// The recipients of a new file: key-server key ids and their public keys
/// or ready encapsulations.
#[wasm_bindgen]
#[derive(Default)]
pub struct Recipients(Vec<Entry>);

#[wasm_bindgen]
impl Recipients {
    /// An empty list.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Recipients {
        Self::default()
    }

    /// Adds the key `keyId` (1 ..= 2³¹−1) with its public key.
    pub fn add(&mut self, key_id: u32, public_key: &PublicKey) {
        self.0.push(Entry::Key(Box::new(Recipient {
            key_id,
            public_key: public_key.0.clone(),
        })));
    }

    /// Adds the key `keyId` with an encapsulation already made to its
    /// public key (`Encapsulation.fromParts` after WebCrypto's
    /// `encapsulateBits`, or `MlKem768PublicKey.encapsulate`). Takes
    /// ownership of `encapsulation`; the `Encryptor` built from this list
    /// consumes its shared secret, so the list serves one file only.
    #[wasm_bindgen(js_name = addEncapsulated)]
    pub fn add_encapsulated(&mut self, key_id: u32, encapsulation: Encapsulation) {
        let (ciphertext, shared_secret) = encapsulation.into_parts();
        self.0.push(Entry::Encapsulated {
            key_id,
            ciphertext,
            shared_secret: Some(shared_secret),
        });
    }

    /// How many recipients were added.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.0.len()
    }
}

/// Streaming encryptor. Output: header, payload prefix (salt, commitment),
/// then 16 KiB chunks. Holds less than one chunk of plaintext.
///
/// Either `push`/`finish` (AES-GCM in wasm) or `chunkKey` (chunks sealed by
/// the caller, e.g. with WebCrypto): taking the chunk key disables `push`
/// so that the two never seal under the same nonces.
#[wasm_bindgen]
pub struct Encryptor {
    inner: Option<pqfile_core::Encryptor>,
    document_id: DocumentId,
    header: Vec<u8>,
    payload_prefix: [u8; PAYLOAD_PREFIX_LEN],
    payload_key: Option<PayloadKey>,
    started: bool,
}

#[wasm_bindgen]
impl Encryptor {
    /// Starts a file for `recipients`, with the document id chosen by the
    /// key server (32 hex digits) or, when omitted, a random one. Throws
    /// `bad_recipient_count`, `bad_key_id`, `duplicate_recipient`,
    /// `bad_document_id`. A list with encapsulations (`addEncapsulated`)
    /// serves one file only (`invalid_state` the second time).
    #[wasm_bindgen(constructor)]
    pub fn new(recipients: &mut Recipients, document_id: Option<String>) -> Result<Encryptor> {
        let rng = &mut rng();
        let document_id = match document_id {
            Some(hex) => self::document_id(&hex)?,
            None => DocumentId::generate(rng),
        };
        let file_key = pqfile_core::FileKey::generate(rng);
        let mut stanzas: Vec<Stanza> = Vec::with_capacity(recipients.0.len());
        for entry in &mut recipients.0 {
            stanzas.push(match entry {
                Entry::Key(r) => stanza::wrap(&file_key, &document_id, r.key_id, &r.public_key, rng),
                Entry::Encapsulated {
                    key_id,
                    ciphertext,
                    shared_secret,
                } => {
                    let ss = shared_secret.take().ok_or_else(|| {
                        Error::new(
                            ErrorCode::InvalidState,
                            "an encapsulation seals one file only: encapsulate again for the next file",
                        )
                    })?;
                    stanza::seal(&file_key, &document_id, KemId::ML_KEM_768, *key_id, ciphertext, &ss)
                }
            });
        }
        let header = header::from_stanzas(document_id, stanzas, &file_key)?;
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let payload_key = PayloadKey::derive(&file_key, &salt, &header.prefix());
        let mut payload_prefix = [0u8; PAYLOAD_PREFIX_LEN];
        payload_prefix[..SALT_LEN].copy_from_slice(&salt);
        payload_prefix[SALT_LEN..].copy_from_slice(payload_key.commitment());
        let header_bytes = header.to_bytes();
        let inner = pqfile_core::Encryptor::with_header(header, &file_key, salt);
        Ok(Self {
            inner: Some(inner),
            document_id,
            header: header_bytes,
            payload_prefix,
            payload_key: Some(payload_key),
            started: false,
        })
    }

    /// Continues a file from its header, file key and 24-byte payload salt
    /// (e.g. re-encrypting with the parameters of an existing file to check
    /// that two implementations agree byte for byte). A salt MUST NOT be
    /// reused with another plaintext: the nonces would repeat.
    #[wasm_bindgen(js_name = withHeader)]
    pub fn with_header(header: &Header, file_key: &FileKey, salt: &[u8]) -> Result<Encryptor> {
        let salt: [u8; SALT_LEN] = salt
            .try_into()
            .map_err(|_| Error::new(ErrorCode::InvalidState, "the payload salt is 24 bytes"))?;
        if !pqfile_core::header::verify_mac(&header.inner, &file_key.0) {
            return Err(stream::DecryptionFailed.into());
        }
        let payload_key = PayloadKey::derive(&file_key.0, &salt, &header.inner.prefix());
        let mut payload_prefix = [0u8; PAYLOAD_PREFIX_LEN];
        payload_prefix[..SALT_LEN].copy_from_slice(&salt);
        payload_prefix[SALT_LEN..].copy_from_slice(payload_key.commitment());
        Ok(Self {
            inner: Some(pqfile_core::Encryptor::with_header(
                header.inner.clone(),
                &file_key.0,
                salt,
            )),
            document_id: header.inner.document_id,
            header: header.inner.to_bytes(),
            payload_prefix,
            payload_key: Some(payload_key),
            started: false,
        })
    }

    /// The document id, 32 lowercase hex digits.
    #[wasm_bindgen(getter, js_name = documentId)]
    pub fn document_id(&self) -> String {
        self.document_id.to_string()
    }

    /// The encoded header (the first bytes of the file).
    #[wasm_bindgen(getter)]
    pub fn header(&self) -> Vec<u8> {
        self.header.clone()
    }

    /// Salt and commitment: the 56 bytes between the header and chunk 0.
    #[wasm_bindgen(getter, js_name = payloadPrefix)]
    pub fn payload_prefix(&self) -> Vec<u8> {
        self.payload_prefix.to_vec()
    }

    /// Encrypts `data`; returns the output ready so far (the first call also
    /// returns the header and payload prefix).
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let inner = self.inner.as_mut().ok_or_else(Error::finished)?;
        self.started = true;
        self.payload_key = None;
        let mut out = Vec::with_capacity(data.len() + data.len() / 1000 + 2048);
        inner.push(data, &mut out)?;
        Ok(out)
    }

    /// Seals the final chunk and returns the remaining output.
    pub fn finish(&mut self) -> Result<Vec<u8>> {
        let inner = self.inner.take().ok_or_else(Error::finished)?;
        self.payload_key = None;
        let mut out = Vec::new();
        inner.finish(&mut out)?;
        Ok(out)
    }

    /// Hands out the chunk AES key and base nonce so the caller seals the
    /// chunks itself (then writes `header`, `payloadPrefix`, chunks). Only
    /// before any `push`; afterwards `push` and `finish` throw `invalid_state`.
    #[wasm_bindgen(js_name = chunkKey)]
    pub fn chunk_key(&mut self) -> Result<ChunkKey> {
        if self.started {
            return Err(Error::new(
                ErrorCode::InvalidState,
                "chunkKey() must be called before push()",
            ));
        }
        let pk = self.payload_key.take().ok_or_else(Error::finished)?;
        self.inner = None;
        Ok(ChunkKey::from(&pk))
    }
}

/// The AES-256-GCM key and base nonce of a payload's chunks (FORMAT.md §6):
/// chunk `i` uses nonce `baseNonce XOR be96(i)`, no AAD. Import the key as a
/// non-extractable CryptoKey and `free()` this object at once: that wipes it.
#[wasm_bindgen]
pub struct ChunkKey {
    key: Zeroizing<[u8; 32]>,
    base_nonce: [u8; stream::NONCE_LEN],
}

impl From<&PayloadKey> for ChunkKey {
    fn from(pk: &PayloadKey) -> Self {
        Self {
            key: Zeroizing::new(*pk.key()),
            base_nonce: *pk.base_nonce(),
        }
    }
}

#[wasm_bindgen]
impl ChunkKey {
    /// The chunk key of an existing payload, for decrypting its chunks:
    /// verifies the header MAC (M1) and the commitment in `payloadPrefix`
    /// (the 56 bytes after the header, C2). Throws `decryption_failed`.
    #[wasm_bindgen(js_name = forPayload)]
    pub fn for_payload(
        header: &Header,
        file_key: &FileKey,
        payload_prefix: &[u8],
    ) -> Result<ChunkKey> {
        let failed = || Error::from(stream::DecryptionFailed);
        if !pqfile_core::header::verify_mac(&header.inner, &file_key.0)
            || payload_prefix.len() != PAYLOAD_PREFIX_LEN
        {
            return Err(failed());
        }
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&payload_prefix[..SALT_LEN]);
        let pk = PayloadKey::derive(&file_key.0, &salt, &header.inner.prefix());
        if !bool::from(pk.commitment().ct_eq(&payload_prefix[SALT_LEN..])) {
            return Err(failed());
        }
        Ok(ChunkKey::from(&pk))
    }

    /// The 32 raw key bytes. Secret: import them and wipe the copy. (Copied
    /// straight into a JS buffer, leaving no copy in freed wasm memory.)
    pub fn key(&self) -> js_sys::Uint8Array {
        js_sys::Uint8Array::from(&self.key[..])
    }

    /// The 12-byte base nonce.
    #[wasm_bindgen(getter, js_name = baseNonce)]
    pub fn base_nonce(&self) -> Vec<u8> {
        self.base_nonce.to_vec()
    }
}

/// Streaming decryptor of a payload (the bytes after the header). Releases
/// each chunk only once it authenticates (C6); only `finish()` confirms the
/// stream was complete.
#[wasm_bindgen]
pub struct Decryptor {
    inner: Option<pqfile_core::Decryptor>,
}

#[wasm_bindgen]
impl Decryptor {
    /// Verifies the header MAC with `fileKey` (M1) and prepares to decrypt.
    /// Throws `decryption_failed`.
    #[wasm_bindgen(constructor)]
    pub fn new(header: &Header, file_key: &FileKey) -> Result<Decryptor> {
        Ok(Self {
            inner: Some(pqfile_core::Decryptor::new(&header.inner, &file_key.0)?),
        })
    }

    /// Decrypts payload bytes; returns the plaintext authenticated so far.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let inner = self.inner.as_mut().ok_or_else(Error::finished)?;
        let mut out = Vec::with_capacity(data.len());
        if let Err(e) = inner.push(data, &mut out) {
            self.inner = None;
            return Err(e.into());
        }
        Ok(out)
    }

    /// Checks that the stream ended where it should (C3) and returns the
    /// final chunk's plaintext. Throws `decryption_failed`.
    pub fn finish(&mut self) -> Result<Vec<u8>> {
        let inner = self.inner.take().ok_or_else(Error::finished)?;
        let mut out = Vec::new();
        inner.finish(&mut out)?;
        Ok(out)
    }
}

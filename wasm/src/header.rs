//! Header parsing (FORMAT.md §2, §3) and finding the file key (§4, §5).

use pqfile_core::{HeaderRead, LocalIdentity, Stanza};
use wasm_bindgen::prelude::*;

use crate::error::Result;
use crate::kem::{FileKey, SecretKey};

/// A parsed PQF header. Parsing does not verify the MAC: that needs the
/// file key (`unwrapFileKey`, `new Decryptor`).
#[wasm_bindgen]
pub struct Header {
    pub(crate) inner: pqfile_core::Header,
    len: usize,
}

#[wasm_bindgen]
impl Header {
    /// Parses the header at the start of `bytes` (payload bytes after it are
    /// ignored). When `bytes` ends early it throws `truncated_header` with a
    /// `needed` property: the minimum number of further bytes to read.
    pub fn parse(bytes: &[u8]) -> Result<Header> {
        let (inner, len) = pqfile_core::Header::parse(bytes)?;
        Ok(Self { inner, len })
    }

    /// The document id, 32 lowercase hex digits.
    #[wasm_bindgen(getter, js_name = documentId)]
    pub fn document_id(&self) -> String {
        self.inner.document_id.to_string()
    }

    /// The header's length in bytes; the payload starts here.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.len
    }

    /// The recipient stanzas, in file order.
    #[wasm_bindgen(getter)]
    pub fn stanzas(&self) -> Vec<StanzaInfo> {
        self.inner
            .stanzas
            .iter()
            .map(|s| StanzaInfo(s.clone()))
            .collect()
    }

    /// The encoded header, MAC included.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.inner.to_bytes()
    }

    /// Opens the stanza for key `keyId` with `secretKey` and verifies the
    /// header MAC (M1). Throws `no_matching_stanza` when no ML-KEM-768
    /// stanza names `keyId`, `unsupported_kem` when no stanza has a known
    /// KEM, `decryption_failed` for a wrong key or a tampered header.
    #[wasm_bindgen(js_name = unwrapFileKey)]
    pub fn unwrap_file_key(&self, key_id: u32, secret_key: &SecretKey) -> Result<FileKey> {
        // The key stays in its JavaScript object: borrowed for this call.
        let identity = LocalIdentity {
            key_id,
            secret_key: &secret_key.0,
        };
        Ok(FileKey(pqfile_core::unwrap_file_key(
            &self.inner,
            &[&identity],
        )?))
    }

    /// Whether the header MAC verifies under `fileKey` (constant time, M1).
    #[wasm_bindgen(js_name = verifyMac)]
    pub fn verify_mac(&self, file_key: &FileKey) -> bool {
        pqfile_core::header::verify_mac(&self.inner, &file_key.0)
    }
}

/// One recipient stanza of a header (FORMAT.md §3).
#[wasm_bindgen]
pub struct StanzaInfo(Stanza);

#[wasm_bindgen]
impl StanzaInfo {
    /// The KEM algorithm id (§3.1): 1 is ML-KEM-768.
    #[wasm_bindgen(getter)]
    pub fn kem(&self) -> u16 {
        self.0.kem.0
    }

    /// The KEM's name: "ML-KEM-768", "X-Wing" or "unknown".
    #[wasm_bindgen(getter, js_name = kemName)]
    pub fn kem_name(&self) -> String {
        self.0.kem.name().to_owned()
    }

    /// Whether this build can open stanzas of this KEM.
    #[wasm_bindgen(getter, js_name = isSupported)]
    pub fn is_supported(&self) -> bool {
        self.0.kem.is_supported()
    }

    /// The key server's key id of the recipient.
    #[wasm_bindgen(getter, js_name = keyId)]
    pub fn key_id(&self) -> u32 {
        self.0.key_id
    }

    /// The KEM ciphertext (ML-KEM-768 stanzas only, else `undefined`).
    #[wasm_bindgen(getter, js_name = kemCiphertext)]
    pub fn kem_ciphertext(&self) -> Option<Vec<u8>> {
        pqfile_core::stanza::kem_ciphertext(&self.0)
            .ok()
            .map(<[u8]>::to_vec)
    }

    /// The stanza's encoding (what the key server's unwrap call takes).
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }
}

/// Reads a header from a stream, piece by piece (FORMAT.md §3): push the
/// bytes as they come; it takes only what the header needs, so the rest of
/// a piece is payload. Malformed headers throw as early as the bytes allow.
#[wasm_bindgen]
#[derive(Default)]
pub struct HeaderReader {
    inner: pqfile_core::HeaderReader,
    header: Option<Header>,
    complete: bool,
}

#[wasm_bindgen]
impl HeaderReader {
    /// A reader at the start of a file.
    #[wasm_bindgen(constructor)]
    pub fn new() -> HeaderReader {
        Self::default()
    }

    /// How many more bytes the header needs at least; 0 once it is complete.
    #[wasm_bindgen(getter)]
    pub fn needed(&self) -> usize {
        if self.complete {
            0
        } else {
            self.inner.needed()
        }
    }

    /// Whether the header is complete (`takeHeader()` hands it over).
    #[wasm_bindgen(getter)]
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// Feeds the next bytes of the file; returns how many of them belong to
    /// the header (all of them until it is complete). Passing at most
    /// `StreamConstant.MaxHeaderLen` bytes keeps the copy into wasm small.
    /// Throws the header's parse error (`bad_magic`, ...).
    pub fn push(&mut self, data: &[u8]) -> Result<usize> {
        if self.complete {
            return Ok(0);
        }
        match self.inner.push(data)? {
            HeaderRead::NeedMore(_) => Ok(data.len()),
            HeaderRead::Complete { header, len, rest } => {
                self.complete = true;
                self.header = Some(Header { inner: header, len });
                Ok(data.len() - rest.len())
            }
        }
    }

    /// The parsed header once complete, handed over once.
    #[wasm_bindgen(js_name = takeHeader)]
    pub fn take_header(&mut self) -> Option<Header> {
        self.header.take()
    }

    /// Call at the end of the input: throws `truncated_header` (with
    /// `needed`) unless the header was complete.
    pub fn finish(&self) -> Result<()> {
        if self.complete {
            return Ok(());
        }
        Err(self.inner.truncated().into())
    }
}

//! ML-KEM-768 keys (FIPS 203), the file key and stanza wrap/unwrap
//! (FORMAT.md §3, §4, §7). Secret material stays inside wasm memory and is
//! wiped when the JavaScript object is `free()`d.

use pqfile_core::{DocumentId, Stanza, mlkem768, stanza};
use wasm_bindgen::prelude::*;

use crate::error::{Error, ErrorCode, Result};
use crate::rng;

/// An ML-KEM-768 decapsulation key. Opaque: it never leaves wasm memory and
/// is wiped by `free()`.
#[wasm_bindgen(js_name = MlKem768SecretKey)]
pub struct SecretKey(pub(crate) mlkem768::SecretKey);

#[wasm_bindgen(js_class = MlKem768SecretKey)]
impl SecretKey {
    /// Generates a fresh key pair from the platform CSPRNG (e.g. the
    /// ephemeral key of the key server's unwrap protocol, FORMAT.md §7).
    pub fn generate() -> SecretKey {
        Self(mlkem768::SecretKey::generate(&mut rng()))
    }

    /// Rebuilds a key from its 64-byte seed `d || z` (FIPS 203 §7.1). The
    /// copy of the seed passed into wasm memory is wiped after use.
    #[wasm_bindgen(js_name = fromSeed)]
    pub fn from_seed(seed: Vec<u8>) -> Result<SecretKey> {
        let seed = zeroize::Zeroizing::new(seed);
        Ok(Self(mlkem768::SecretKey::from_seed(&seed)?))
    }

    /// The matching public (encapsulation) key.
    #[wasm_bindgen(js_name = publicKey)]
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.public_key())
    }
}

/// An ML-KEM-768 encapsulation key, checked on construction (FIPS 203 §7.2).
#[wasm_bindgen(js_name = MlKem768PublicKey)]
pub struct PublicKey(pub(crate) mlkem768::PublicKey);

#[wasm_bindgen(js_class = MlKem768PublicKey)]
impl PublicKey {
    /// Parses a 1184-byte encapsulation key; throws `invalid_public_key`
    /// when the length or the FIPS 203 modulus check fails.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey> {
        Ok(Self(mlkem768::PublicKey::from_bytes(bytes)?))
    }

    /// The 1184-byte encoding.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }

    /// Encapsulates a fresh shared secret to this key (FIPS 203 §7.2).
    /// The secret stays inside the returned object.
    pub fn encapsulate(&self) -> Encapsulation {
        let (ciphertext, shared_secret) = self.0.encapsulate(&mut rng());
        Encapsulation {
            ciphertext,
            shared_secret,
        }
    }
}

/// The result of an encapsulation: a public ciphertext and an opaque shared
/// secret, wiped by `free()`. Seals one file key at most
/// (`Recipients.addEncapsulated`).
#[wasm_bindgen]
pub struct Encapsulation {
    ciphertext: Vec<u8>,
    shared_secret: pqfile_core::kem::SharedSecret,
}

impl Encapsulation {
    pub(crate) fn into_parts(self) -> (Vec<u8>, pqfile_core::kem::SharedSecret) {
        (self.ciphertext, self.shared_secret)
    }
}

#[wasm_bindgen]
impl Encapsulation {
    /// Wraps an ML-KEM-768 encapsulation run elsewhere (e.g. WebCrypto's
    /// `encapsulateBits`): the 1088-byte ciphertext and the 32-byte shared
    /// secret. `sharedSecret` is copied into wasm memory and the caller's
    /// array is overwritten with zeros. Throws `invalid_ciphertext`.
    #[wasm_bindgen(js_name = fromParts)]
    pub fn from_parts(ciphertext: &[u8], shared_secret: &mut [u8]) -> Result<Encapsulation> {
        let ss: Option<[u8; 32]> = shared_secret.try_into().ok();
        zeroize::Zeroize::zeroize(shared_secret);
        let ss = zeroize::Zeroizing::new(ss.ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidCiphertext,
                "an ML-KEM-768 shared secret is 32 bytes",
            )
        })?);
        if ciphertext.len() != mlkem768::CIPHERTEXT_LEN {
            return Err(Error::new(
                ErrorCode::InvalidCiphertext,
                "an ML-KEM-768 ciphertext is 1088 bytes",
            ));
        }
        Ok(Self {
            ciphertext: ciphertext.to_vec(),
            shared_secret: pqfile_core::kem::SharedSecret::from_bytes(*ss),
        })
    }

    /// The 1088-byte KEM ciphertext.
    #[wasm_bindgen(getter)]
    pub fn ciphertext(&self) -> Vec<u8> {
        self.ciphertext.clone()
    }
}

/// A 256-bit file key (FORMAT.md §4). Opaque, wiped by `free()`.
#[wasm_bindgen]
pub struct FileKey(pub(crate) pqfile_core::FileKey);

#[wasm_bindgen]
impl FileKey {
    /// A fresh random file key.
    pub fn generate() -> FileKey {
        Self(pqfile_core::FileKey::generate(&mut rng()))
    }
}

pub(crate) fn document_id(hex: &str) -> Result<DocumentId> {
    Ok(DocumentId::parse(hex)?)
}

/// Wraps `fileKey` to an ML-KEM-768 recipient for document `documentId`
/// (32 hex digits) and returns the stanza's encoding (FORMAT.md §3, §4).
#[wasm_bindgen(js_name = wrapFileKey)]
pub fn wrap_file_key(
    file_key: &FileKey,
    document_id: &str,
    key_id: u32,
    public_key: &PublicKey,
) -> Result<Vec<u8>> {
    let doc = self::document_id(document_id)?;
    Ok(stanza::wrap(&file_key.0, &doc, key_id, &public_key.0, &mut rng()).to_bytes())
}

/// Opens an encoded ML-KEM-768 stanza of document `documentId` with
/// `secretKey`. Throws `decryption_failed` for a wrong key, document or key
/// id (W1, W2), `unsupported_kem` for another KEM (S2).
#[wasm_bindgen(js_name = unwrapStanza)]
pub fn unwrap_stanza(stanza: &[u8], document_id: &str, secret_key: &SecretKey) -> Result<FileKey> {
    let doc = self::document_id(document_id)?;
    let s = Stanza::parse_exact(stanza)?;
    Ok(FileKey(stanza::unwrap(&s, &doc, &secret_key.0)?))
}

/// Opens the key server's transport stanza (FORMAT.md §7: kem ML-KEM-768,
/// key id 0) with the ephemeral secret key whose public key was sent along
/// with the unwrap request. The caller must then verify the header MAC with
/// the returned key (`new Decryptor(header, fileKey)` does);
/// `KeyServerUnwrap.openResponse` does both. Throws the stanza's parse error
/// for a malformed stanza, `bad_key_id` for a key id other than 0.
#[wasm_bindgen(js_name = openTransportStanza)]
pub fn open_transport_stanza(
    transport: &[u8],
    document_id: &str,
    ephemeral: &SecretKey,
) -> Result<FileKey> {
    use pqfile_core::keyserver_unwrap::{ResponseError, open_transport_stanza};
    let doc = self::document_id(document_id)?;
    // This low-level export keeps its finer codes; the protocol object
    // reports all of these as `bad_server_response`.
    open_transport_stanza(transport, &doc, &ephemeral.0)
        .map(FileKey)
        .map_err(|e| match e {
            ResponseError::Malformed(p) => p.into(),
            ResponseError::NotTransport => {
                Error::new(ErrorCode::BadKeyId, "a transport stanza must have key id 0")
            }
            ResponseError::UnsupportedKem => pqfile_core::StanzaUnwrapError::UnsupportedKem.into(),
            e => e.into(),
        })
}

//! The client side of the key server's unwrap protocol (FORMAT.md §7 and
//! §7.1), sans-I/O: which stanzas to ask about and in what order, the
//! request for each (stanza + fresh ephemeral ML-KEM-768 key), opening the
//! answer (transport stanza, then the header MAC), and what to do when the
//! key server refuses. The CLI and the npm package only add HTTP around it,
//! so both behave the same.

use rand_core::CryptoRng;

use crate::DecryptError;
use crate::format::{DocumentId, Header, ParseError, Stanza};
use crate::header;
use crate::kem::mlkem768;
use crate::stanza::{self, FileKey, StanzaUnwrapError, TRANSPORT_KEY_ID};

/// Asking a key server for the file key of one header.
pub struct KeyServerUnwrap {
    header: Header,
    /// Index of the next stanza to consider.
    next: usize,
}

/// One unwrap request: what to send for one stanza, and the ephemeral secret
/// key that opens the answer. Zeroized on drop (the key), no `Debug`.
pub struct UnwrapRequest {
    key_id: u32,
    stanza: Vec<u8>,
    ephemeral_public_key: Vec<u8>,
    ephemeral: mlkem768::SecretKey,
}

impl UnwrapRequest {
    /// The key id the stanza names.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The stanza's encoding (the request's `stanza` field).
    pub fn stanza(&self) -> &[u8] {
        &self.stanza
    }

    /// The 1184-byte ephemeral public key (`ephemeral_public_key`).
    pub fn ephemeral_public_key(&self) -> &[u8] {
        &self.ephemeral_public_key
    }
}

/// What a client does after the key server refused one stanza (§7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// The refusal is about this stanza's key: ask about the next stanza.
    TryNextStanza,
    /// The refusal is about the caller, the document or the server: report it.
    Stop,
}

/// The key server's error codes that concern the stanza asked about (its
/// key), not the caller, the document or the server (FORMAT.md §7.1).
pub const STANZA_REFUSALS: &[&str] = &[
    "key_not_found",
    "key_mismatch",
    "key_revoked",
    "invalid_stanza",
    "unsupported_kem",
    "decryption_failed",
    "no_matching_stanza",
];

/// The retry policy of FORMAT.md §7.1, from the HTTP status (0 when the key
/// server was not reached or did not answer HTTP) and the error's stable
/// code: the next stanza only for a client error (4xx, except 401 and 429)
/// whose code is one of [`STANZA_REFUSALS`]; everything else stops.
pub fn next_step(status: u16, code: &str) -> NextStep {
    let about_the_request = (400..500).contains(&status) && status != 401 && status != 429;
    if about_the_request && STANZA_REFUSALS.contains(&code) {
        NextStep::TryNextStanza
    } else {
        NextStep::Stop
    }
}

impl KeyServerUnwrap {
    /// Starts with a parsed header. Fails with `unsupported_kem` when no
    /// stanza uses a KEM this build implements (S2): there is nothing to ask.
    pub fn new(header: Header) -> Result<Self, DecryptError> {
        if !header.stanzas.iter().any(|s| s.kem.is_supported()) {
            return Err(DecryptError::UnsupportedKem);
        }
        Ok(Self { header, next: 0 })
    }

    /// The header being decrypted.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Gives the header back (e.g. to build the payload decryptor).
    pub fn into_header(self) -> Header {
        self.header
    }

    /// The document id the requests go to.
    pub fn document_id(&self) -> &DocumentId {
        &self.header.document_id
    }

    /// The request for the next candidate stanza (supported KEM, file
    /// order) with a fresh ephemeral key, or `None` when every candidate
    /// was asked about.
    pub fn next_request<R: CryptoRng + ?Sized>(&mut self, rng: &mut R) -> Option<UnwrapRequest> {
        while let Some(s) = self.header.stanzas.get(self.next) {
            self.next += 1;
            if s.kem.is_supported() {
                let ephemeral = mlkem768::SecretKey::generate(rng);
                return Some(UnwrapRequest {
                    key_id: s.key_id,
                    stanza: s.to_bytes(),
                    ephemeral_public_key: ephemeral.public_key().to_bytes(),
                    ephemeral,
                });
            }
        }
        None
    }

    /// Opens the key server's answer to `request`: the transport stanza
    /// (key id 0) sealed to the request's ephemeral key, then the header MAC
    /// (M1) under the recovered key. A failure here is final (§7.1).
    pub fn open_response(
        &self,
        request: &UnwrapRequest,
        transport_stanza: &[u8],
    ) -> Result<FileKey, ResponseError> {
        let key = open_transport_stanza(
            transport_stanza,
            &self.header.document_id,
            &request.ephemeral,
        )?;
        if !header::verify_mac(&self.header, &key) {
            return Err(ResponseError::DecryptionFailed);
        }
        Ok(key)
    }
}

/// Opens a transport stanza (FORMAT.md §7) of `document_id` with the
/// ephemeral secret key; does not check the header MAC.
pub fn open_transport_stanza(
    transport_stanza: &[u8],
    document_id: &DocumentId,
    ephemeral: &mlkem768::SecretKey,
) -> Result<FileKey, ResponseError> {
    let s = Stanza::parse_exact(transport_stanza).map_err(ResponseError::Malformed)?;
    if s.key_id != TRANSPORT_KEY_ID {
        return Err(ResponseError::NotTransport);
    }
    stanza::unwrap(&s, document_id, ephemeral).map_err(|e| match e {
        StanzaUnwrapError::UnsupportedKem => ResponseError::UnsupportedKem,
        StanzaUnwrapError::DecryptionFailed => ResponseError::DecryptionFailed,
    })
}

/// Why the key server's answer did not give the file key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// Not one well-formed stanza.
    Malformed(ParseError),
    /// A stanza whose key id is not 0 (S5: only transport stanzas have it).
    NotTransport,
    /// A transport stanza of a KEM this build does not implement.
    UnsupportedKem,
    /// Opaque: the stanza does not open with the ephemeral key, or the
    /// header MAC does not verify with the key it holds (W1, M1).
    DecryptionFailed,
}

impl ResponseError {
    /// Stable machine-readable code: `decryption_failed`, or
    /// `bad_server_response` for an answer that is not a transport stanza.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) | Self::NotTransport | Self::UnsupportedKem => "bad_server_response",
            Self::DecryptionFailed => "decryption_failed",
        }
    }
}

impl core::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "the key server's transport stanza is malformed: {e}"),
            Self::NotTransport => {
                f.write_str("the key server's transport stanza has a non-zero key id")
            }
            Self::UnsupportedKem => {
                f.write_str("the key server's transport stanza uses an unsupported KEM")
            }
            Self::DecryptionFailed => f.write_str("decryption failed"),
        }
    }
}

impl core::error::Error for ResponseError {}

//! Header encoding: prefix, stanzas and MAC (FORMAT.md §2, §3, §5).
//!
//! Parsing is sans-I/O over `&[u8]`: when the input ends early the parser
//! answers [`ParseError::Incomplete`] with how many more bytes it needs at
//! least, so a streaming caller can read exactly that much and try again.

use core::fmt;

mod document_id;
pub use document_id::DocumentId;

/// `"PQF"` followed by a zero byte (FORMAT.md §2).
pub const MAGIC: [u8; 4] = *b"PQF\0";
/// The only format version this crate reads and writes.
pub const VERSION: u8 = 1;
/// Length of the header prefix: magic, version, flags, document id (FORMAT.md §2).
pub const PREFIX_LEN: usize = 22;
/// Prefix plus the stanza count.
pub const FIXED_LEN: usize = 24;
/// Length of the header MAC (FORMAT.md §5).
pub const MAC_LEN: usize = 32;
/// Most stanzas a header may carry (FORMAT.md P4).
pub const MAX_STANZAS: usize = 16;
/// Largest stanza body (FORMAT.md S4).
pub const MAX_STANZA_BODY: usize = 8192;
/// kem + key id + body length.
pub const STANZA_FIXED_LEN: usize = 8;
/// Largest possible header (FORMAT.md §10).
pub const MAX_HEADER_LEN: usize =
    FIXED_LEN + MAX_STANZAS * (STANZA_FIXED_LEN + MAX_STANZA_BODY) + MAC_LEN;
/// Largest key id: the range of a PostgreSQL `SERIAL` (FORMAT.md S5).
pub const MAX_KEY_ID: u32 = i32::MAX as u32;

/// A KEM algorithm id (FORMAT.md §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KemId(pub u16);

impl KemId {
    /// ML-KEM-768 (FIPS 203).
    pub const ML_KEM_768: KemId = KemId(0x0001);
    /// Reserved for X-Wing; not implemented.
    pub const X_WING: KemId = KemId(0x0002);

    /// Whether this crate can open stanzas of this KEM.
    pub fn is_supported(self) -> bool {
        self == Self::ML_KEM_768
    }

    /// The name used in APIs and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::ML_KEM_768 => "ML-KEM-768",
            Self::X_WING => "X-Wing",
            _ => "unknown",
        }
    }
}

/// Why a header (or a stanza) could not be parsed. FORMAT.md §9.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The input ended; at least `needed` more bytes are required.
    Incomplete {
        /// Minimum number of further bytes before parsing can progress.
        needed: usize,
    },
    /// Not a PQF file (P1).
    BadMagic,
    /// A version this implementation does not read (P2).
    UnsupportedVersion(u8),
    /// Reserved flag bits set (P3).
    ReservedFlags,
    /// Stanza count outside 1..=16 (P4).
    BadStanzaCount(u16),
    /// All-zero or malformed document id (P5).
    BadDocumentId,
    /// Stanza body of the wrong length for its KEM (S3).
    BadStanzaBody,
    /// Stanza body over the 8192-byte limit (S4).
    StanzaTooLarge,
    /// Key id 0 or above 2³¹−1 in a file header (S5).
    BadKeyId,
    /// Two stanzas for the same (kem, key id) (S6).
    DuplicateStanza,
}

impl ParseError {
    /// Stable machine-readable code (shared by the CLI, wasm and key server).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Incomplete { .. } => "truncated_header",
            Self::BadMagic => "bad_magic",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::ReservedFlags => "reserved_flags",
            Self::BadStanzaCount(_) => "bad_stanza_count",
            Self::BadDocumentId => "bad_document_id",
            Self::BadStanzaBody => "bad_stanza_body",
            Self::StanzaTooLarge => "stanza_too_large",
            Self::BadKeyId => "bad_key_id",
            Self::DuplicateStanza => "duplicate_stanza",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Incomplete { needed } => {
                write!(f, "the header is truncated ({needed} more bytes needed)")
            }
            Self::BadMagic => f.write_str("not a pqfile (.pqf) file: bad magic bytes"),
            Self::UnsupportedVersion(v) => write!(
                f,
                "unsupported pqfile format version {v} (this build reads version 1)"
            ),
            Self::ReservedFlags => f.write_str("reserved header flags are set"),
            Self::BadStanzaCount(n) => write!(f, "invalid stanza count {n} (must be 1 to 16)"),
            Self::BadDocumentId => f.write_str("invalid document id"),
            Self::BadStanzaBody => f.write_str("a stanza body has the wrong length for its KEM"),
            Self::StanzaTooLarge => f.write_str("a stanza body exceeds 8192 bytes"),
            Self::BadKeyId => f.write_str("a stanza names an invalid key id"),
            Self::DuplicateStanza => f.write_str("two stanzas name the same key"),
        }
    }
}

impl core::error::Error for ParseError {}

/// One recipient stanza (FORMAT.md §3). The body is opaque here; `stanza`
/// interprets it for the KEMs this crate supports.
#[derive(Clone, PartialEq, Eq)]
pub struct Stanza {
    /// KEM algorithm.
    pub kem: KemId,
    /// The key server's key id (0 only in a transport stanza, §7).
    pub key_id: u32,
    /// KEM-specific body.
    pub body: Vec<u8>,
}

impl fmt::Debug for Stanza {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stanza")
            .field("kem", &self.kem.name())
            .field("key_id", &self.key_id)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Stanza {
    /// Parses one stanza from the start of `input`; returns it and the bytes
    /// consumed. Checks S3 and S4 but not the key-id rule S5, which depends on
    /// where the stanza appears (file header or transport).
    pub fn parse(input: &[u8]) -> Result<(Self, usize), ParseError> {
        if input.len() < STANZA_FIXED_LEN {
            return Err(ParseError::Incomplete {
                needed: STANZA_FIXED_LEN - input.len(),
            });
        }
        let kem = KemId(u16::from_be_bytes([input[0], input[1]]));
        let key_id = u32::from_be_bytes([input[2], input[3], input[4], input[5]]);
        let body_len = usize::from(u16::from_be_bytes([input[6], input[7]]));
        if body_len > MAX_STANZA_BODY {
            return Err(ParseError::StanzaTooLarge);
        }
        if kem == KemId::ML_KEM_768 && body_len != crate::stanza::MLKEM768_BODY_LEN {
            return Err(ParseError::BadStanzaBody);
        }
        let end = STANZA_FIXED_LEN + body_len;
        if input.len() < end {
            return Err(ParseError::Incomplete {
                needed: end - input.len(),
            });
        }
        Ok((
            Self {
                kem,
                key_id,
                body: input[STANZA_FIXED_LEN..end].to_vec(),
            },
            end,
        ))
    }

    /// Parses a stanza that must span all of `input` exactly.
    pub fn parse_exact(input: &[u8]) -> Result<Self, ParseError> {
        let (s, used) = Self::parse(input)?;
        if used != input.len() {
            return Err(ParseError::BadStanzaBody);
        }
        Ok(s)
    }

    /// Appends the encoding of this stanza.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.kem.0.to_be_bytes());
        out.extend_from_slice(&self.key_id.to_be_bytes());
        // Bodies longer than u16 cannot be built by this crate (all
        // constructors go through parse or fixed-size KEM encodings).
        let len = u16::try_from(self.body.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&self.body);
    }

    /// The encoding of this stanza.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(STANZA_FIXED_LEN + self.body.len());
        self.write(&mut v);
        v
    }
}

/// A parsed PQF header (FORMAT.md §2–§5). Parsing does not verify the MAC:
/// that needs the file key (see [`crate::header`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The document id.
    pub document_id: DocumentId,
    /// Recipient stanzas, in file order.
    pub stanzas: Vec<Stanza>,
    /// The header MAC as read from the file (or computed by `header::set_mac`).
    pub mac: [u8; MAC_LEN],
}

impl Header {
    /// Parses a header from the start of `input`; returns it and its length.
    /// Extra bytes after the header (the payload) are ignored.
    pub fn parse(input: &[u8]) -> Result<(Self, usize), ParseError> {
        if input.len() < MAGIC.len() {
            // Reject a wrong magic as early as the bytes allow.
            if !MAGIC.starts_with(input) {
                return Err(ParseError::BadMagic);
            }
            return Err(ParseError::Incomplete {
                needed: FIXED_LEN - input.len(),
            });
        }
        if input[..4] != MAGIC {
            return Err(ParseError::BadMagic);
        }
        if input.len() < FIXED_LEN {
            if input.len() > 4 && input[4] != VERSION {
                return Err(ParseError::UnsupportedVersion(input[4]));
            }
            return Err(ParseError::Incomplete {
                needed: FIXED_LEN - input.len(),
            });
        }
        if input[4] != VERSION {
            return Err(ParseError::UnsupportedVersion(input[4]));
        }
        if input[5] != 0 {
            return Err(ParseError::ReservedFlags);
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&input[6..22]);
        let document_id = DocumentId::from_bytes(id)?;
        let count = u16::from_be_bytes([input[22], input[23]]);
        if count == 0 || usize::from(count) > MAX_STANZAS {
            return Err(ParseError::BadStanzaCount(count));
        }
        let mut pos = FIXED_LEN;
        let mut stanzas: Vec<Stanza> = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let (s, used) = match Stanza::parse(&input[pos..]) {
                // The MAC follows, so at least that much more is needed too.
                Err(ParseError::Incomplete { needed }) => {
                    return Err(ParseError::Incomplete {
                        needed: needed + MAC_LEN,
                    });
                }
                other => other?,
            };
            if s.key_id == 0 || s.key_id > MAX_KEY_ID {
                return Err(ParseError::BadKeyId);
            }
            if stanzas
                .iter()
                .any(|t| t.kem == s.kem && t.key_id == s.key_id)
            {
                return Err(ParseError::DuplicateStanza);
            }
            stanzas.push(s);
            pos += used;
        }
        if input.len() < pos + MAC_LEN {
            return Err(ParseError::Incomplete {
                needed: pos + MAC_LEN - input.len(),
            });
        }
        let mut mac = [0u8; MAC_LEN];
        mac.copy_from_slice(&input[pos..pos + MAC_LEN]);
        Ok((
            Self {
                document_id,
                stanzas,
                mac,
            },
            pos + MAC_LEN,
        ))
    }

    /// The 22-byte header prefix (FORMAT.md §2), the binding context of the
    /// stanzas and the payload.
    pub fn prefix(&self) -> [u8; PREFIX_LEN] {
        prefix(&self.document_id)
    }

    /// Every header byte covered by the MAC: prefix, count, stanzas.
    pub fn mac_input(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&self.prefix());
        let count = u16::try_from(self.stanzas.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for s in &self.stanzas {
            s.write(&mut out);
        }
        out
    }

    /// Length of the encoded header.
    pub fn encoded_len(&self) -> usize {
        FIXED_LEN
            + self
                .stanzas
                .iter()
                .map(|s| STANZA_FIXED_LEN + s.body.len())
                .sum::<usize>()
            + MAC_LEN
    }

    /// The encoded header, MAC included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.mac_input();
        out.extend_from_slice(&self.mac);
        out
    }
}

/// The header prefix for a document id.
pub fn prefix(document_id: &DocumentId) -> [u8; PREFIX_LEN] {
    let mut p = [0u8; PREFIX_LEN];
    p[..4].copy_from_slice(&MAGIC);
    p[4] = VERSION;
    p[5] = 0;
    p[6..].copy_from_slice(document_id.as_bytes());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_of_a_header_is_incomplete_never_a_panic() {
        let h = Header {
            document_id: DocumentId::from_bytes([7; 16]).unwrap(),
            stanzas: vec![Stanza {
                kem: KemId(0x0042),
                key_id: 5,
                body: vec![1, 2, 3],
            }],
            mac: [9; 32],
        };
        let bytes = h.to_bytes();
        for cut in 0..bytes.len() {
            match Header::parse(&bytes[..cut]) {
                Err(ParseError::Incomplete { needed }) => assert!(cut + needed <= bytes.len()),
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        assert_eq!(Header::parse(&bytes).unwrap(), (h, bytes.len()));
    }

    #[test]
    fn wrong_magic_is_reported_from_the_first_byte() {
        assert_eq!(Header::parse(b"X"), Err(ParseError::BadMagic));
        assert_eq!(
            Header::parse(b"PQF\0\x02"),
            Err(ParseError::UnsupportedVersion(2))
        );
    }
}

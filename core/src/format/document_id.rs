//! The document id (FORMAT.md §2): 128 random bits, never all zeros (P5),
//! written as 32 hex digits in URLs and JSON.

use core::fmt;

use super::ParseError;

/// A 128-bit document id (FORMAT.md §2). Never all zeros (P5).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId([u8; 16]);

impl DocumentId {
    /// Wraps 16 bytes, refusing the all-zero id.
    pub fn from_bytes(bytes: [u8; 16]) -> Result<Self, ParseError> {
        if bytes == [0; 16] {
            return Err(ParseError::BadDocumentId);
        }
        Ok(Self(bytes))
    }

    /// A fresh random id.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        loop {
            let mut b = [0u8; 16];
            rng.fill_bytes(&mut b);
            if let Ok(id) = Self::from_bytes(b) {
                return id;
            }
        }
    }

    /// Parses the 32-hex-digit form used in URLs and JSON.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.as_bytes();
        if s.len() != 32 {
            return Err(ParseError::BadDocumentId);
        }
        let mut out = [0u8; 16];
        for (i, pair) in s.chunks_exact(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or(ParseError::BadDocumentId)?;
            let lo = hex_val(pair[1]).ok_or(ParseError::BadDocumentId)?;
            out[i] = (hi << 4) | lo;
        }
        Self::from_bytes(out)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_id_hex_round_trip() {
        let id = DocumentId::from_bytes([0xab; 16]).unwrap();
        assert_eq!(DocumentId::parse(&id.to_string()).unwrap(), id);
        assert_eq!(
            DocumentId::parse("00000000000000000000000000000000"),
            Err(ParseError::BadDocumentId)
        );
        assert_eq!(DocumentId::parse("zz"), Err(ParseError::BadDocumentId));
    }
}

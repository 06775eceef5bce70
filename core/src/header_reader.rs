//! Reading a header from a stream, push-based and sans-I/O (FORMAT.md §3,
//! last paragraph): the one "feed bytes until the header parses" loop that
//! the CLI, the wasm bindings and the tests share.
//!
//! The reader takes at most the bytes the header still needs, so it never
//! swallows payload: after [`HeaderRead::Complete`] the rest of the pushed
//! slice is the payload, untouched and uncopied.

use crate::format::{FIXED_LEN, Header, ParseError};

/// A header being read from a stream.
#[derive(Debug)]
pub struct HeaderReader {
    /// The header bytes received so far.
    buf: Vec<u8>,
    /// How many bytes `buf` must hold before parsing can progress.
    want: usize,
}

/// What a [`HeaderReader::push`] achieved.
#[derive(Debug)]
pub enum HeaderRead<'a> {
    /// The header is not complete: at least this many more bytes are needed.
    NeedMore(usize),
    /// The header is complete.
    Complete {
        /// The parsed header (its MAC is not verified yet: that needs the file key).
        header: Header,
        /// The header's length in bytes.
        len: usize,
        /// The bytes of the pushed slice after the header: the start of the payload.
        rest: &'a [u8],
    },
}

impl Default for HeaderReader {
    fn default() -> Self {
        Self::new()
    }
}

impl HeaderReader {
    /// A reader at the start of a file.
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            want: FIXED_LEN,
        }
    }

    /// How many more bytes the header needs at least. A caller doing its own
    /// reads asks for exactly this many and never reads into the payload.
    pub fn needed(&self) -> usize {
        self.want - self.buf.len()
    }

    /// Feeds the next bytes of the file. Takes only what the header needs;
    /// once the header is complete the reader starts over (ready for another
    /// file). Malformed headers fail as early as the bytes allow.
    pub fn push<'a>(&mut self, mut data: &'a [u8]) -> Result<HeaderRead<'a>, ParseError> {
        loop {
            let take = data.len().min(self.needed());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            // Parse when the parser's last request is met, and while the
            // fixed part is incomplete too (cheap), so a wrong magic byte
            // fails at once.
            if self.buf.len() < self.want && (take == 0 || self.buf.len() >= FIXED_LEN) {
                return Ok(HeaderRead::NeedMore(self.needed()));
            }
            match Header::parse(&self.buf) {
                Ok((header, len)) => {
                    *self = Self::new();
                    return Ok(HeaderRead::Complete {
                        header,
                        len,
                        rest: data,
                    });
                }
                Err(ParseError::Incomplete { needed }) => {
                    self.want = self.buf.len() + needed;
                    if data.is_empty() {
                        return Ok(HeaderRead::NeedMore(needed));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The error for a stream that ended before the header was complete:
    /// `truncated_header`, with how many more bytes were needed.
    pub fn truncated(&self) -> ParseError {
        ParseError::Incomplete {
            needed: self.needed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{DocumentId, KemId, Stanza};

    fn header() -> Header {
        Header {
            document_id: DocumentId::from_bytes([7; 16]).unwrap(),
            stanzas: vec![
                Stanza {
                    kem: KemId(0x0042),
                    key_id: 5,
                    body: vec![1, 2, 3],
                },
                Stanza {
                    kem: KemId(0x0043),
                    key_id: 6,
                    body: vec![4; 300],
                },
            ],
            mac: [9; 32],
        }
    }

    /// Feeds `file` in pieces of `step` bytes; returns the header, its length
    /// and the payload bytes handed back.
    fn read(file: &[u8], step: usize) -> Result<(Header, usize, Vec<u8>), ParseError> {
        let mut r = HeaderReader::new();
        let mut pieces = file.chunks(step);
        for piece in pieces.by_ref() {
            if let HeaderRead::Complete { header, len, rest } = r.push(piece)? {
                let mut payload = rest.to_vec();
                pieces.for_each(|p| payload.extend_from_slice(p));
                return Ok((header, len, payload));
            }
        }
        Err(r.truncated())
    }

    #[test]
    fn any_piece_size_gives_the_header_and_leaves_the_payload() {
        let h = header();
        let mut file = h.to_bytes();
        let header_len = file.len();
        file.extend_from_slice(b"payload bytes");
        for step in [1, 2, 7, 24, 25, 100, header_len, file.len()] {
            let (got, len, payload) = read(&file, step).unwrap();
            assert_eq!((got, len), (h.clone(), header_len), "step {step}");
            assert_eq!(payload, b"payload bytes", "step {step}");
        }
    }

    #[test]
    fn a_reader_asking_for_needed_bytes_never_reads_past_the_header() {
        let h = header();
        let bytes = h.to_bytes();
        let mut r = HeaderReader::new();
        let mut pos = 0;
        loop {
            let n = r.needed();
            assert!(pos + n <= bytes.len(), "asked past the header at {pos}");
            match r.push(&bytes[pos..pos + n]).unwrap() {
                HeaderRead::NeedMore(m) => assert_eq!(m, r.needed()),
                HeaderRead::Complete { header, rest, .. } => {
                    assert_eq!(header, h);
                    assert!(rest.is_empty());
                    assert_eq!(pos + n, bytes.len());
                    break;
                }
            }
            pos += n;
        }
    }

    #[test]
    fn truncation_is_truncated_header_and_bad_magic_fails_at_the_first_byte() {
        let bytes = header().to_bytes();
        for cut in 0..bytes.len() {
            for step in [1, 5, 1000] {
                match read(&bytes[..cut], step) {
                    Err(ParseError::Incomplete { needed }) => {
                        assert!(needed > 0 && cut + needed <= bytes.len(), "cut {cut}");
                    }
                    other => panic!("cut {cut} step {step}: {other:?}"),
                }
            }
        }
        let mut r = HeaderReader::new();
        assert_eq!(r.push(b"X").unwrap_err(), ParseError::BadMagic);
        assert_eq!(
            read(b"PQF\0\x02", 1).unwrap_err().code(),
            "unsupported_version"
        );
    }
}

#![no_main]
//! Header parser: never panics; whatever parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use pqfile_core::{Header, ParseError};

fuzz_target!(|data: &[u8]| {
    match Header::parse(data) {
        Ok((h, used)) => assert_eq!(h.to_bytes(), data[..used]),
        Err(ParseError::Incomplete { needed }) => assert!(needed > 0),
        Err(_) => {}
    }
});

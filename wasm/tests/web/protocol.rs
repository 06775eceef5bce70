//! The exports that carry pqfile-core's protocol to JavaScript: the header
//! reader, the key-server unwrap and its retry policy (FORMAT.md §7.1), the
//! stream constants and the error-code list.

use pqfile_wasm::{
    Decryptor, Encryptor, Error, ErrorCode, HeaderReader, KeyServerUnwrap, SecretKey,
    StreamConstant, error_codes,
    kem::{unwrap_stanza, wrap_file_key},
    should_try_next_stanza,
};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

use super::{code, encrypt, plaintext, recipients};

#[wasm_bindgen_test]
fn error_codes_are_the_core_s_and_each_is_an_error_code() {
    let codes = error_codes();
    assert_eq!(codes, pqfile_core::ERROR_CODES);
    // Each has an ErrorCode variant, so JS can branch on a typed code.
    for c in &codes {
        assert!(ErrorCode::parse(c).is_some(), "{c} is not an ErrorCode");
    }
    assert!(ErrorCode::parse("invalid_state").is_some());
}

#[wasm_bindgen_test]
fn a_core_code_reaches_javascript_unchanged_even_if_unknown() {
    // A code added to the core but not (yet) to ErrorCode is passed
    // through, not replaced by decryption_failed.
    let e = Error::from_core("some_future_code", "new".into());
    assert_eq!(e.code(), "some_future_code");
    assert_eq!(e.error_code(), None);
    let js: JsValue = e.into();
    assert_eq!(
        js_sys::Reflect::get(&js, &"code".into()).unwrap(),
        "some_future_code"
    );
}

#[wasm_bindgen_test]
fn stream_constants_are_the_core_s() {
    use pqfile_core::stream;
    assert_eq!(StreamConstant::ChunkSize as usize, stream::CHUNK_SIZE);
    assert_eq!(StreamConstant::TagLen as usize, stream::TAG_LEN);
    assert_eq!(
        StreamConstant::ChunkCiphertextSize as usize,
        stream::CHUNK_CT_SIZE
    );
    assert_eq!(
        StreamConstant::PayloadPrefixLen as usize,
        stream::PAYLOAD_PREFIX_LEN
    );
    assert_eq!(
        StreamConstant::MaxHeaderLen as usize,
        pqfile_core::format::MAX_HEADER_LEN
    );
}

#[wasm_bindgen_test]
fn the_header_reader_takes_only_the_header_whatever_the_pieces() {
    let sk = SecretKey::generate();
    let mut e = Encryptor::new(&mut recipients(&[(3, &sk), (4, &sk)]), None).unwrap();
    let file = encrypt(&mut e, &plaintext(1000), 100);
    let header_len = e.header().len();
    for piece in [1, 13, 500, file.len()] {
        let mut r = HeaderReader::new();
        let mut pos = 0;
        while !r.complete() {
            let end = (pos + piece).min(file.len());
            pos += r.push(&file[pos..end]).unwrap();
        }
        assert_eq!(pos, header_len, "piece {piece}");
        assert_eq!(r.needed(), 0);
        r.finish().unwrap();
        let h = r.take_header().unwrap();
        assert_eq!(h.length(), header_len);
        assert!(r.take_header().is_none());
    }
    let mut r = HeaderReader::new();
    r.push(&file[..header_len - 1]).unwrap();
    assert_eq!(code(r.finish()), ErrorCode::TruncatedHeader);
    assert_eq!(code(HeaderReader::new().push(b"X")), ErrorCode::BadMagic);
}

#[wasm_bindgen_test]
fn the_unwrap_protocol_opens_the_key_server_s_answer() {
    let server_key = SecretKey::generate();
    let other = SecretKey::generate();
    let mut e = Encryptor::new(&mut recipients(&[(3, &other), (8, &server_key)]), None).unwrap();
    let file = encrypt(&mut e, &plaintext(5000), 5000);
    let mut reader = HeaderReader::new();
    let used = reader.push(&file).unwrap();
    let header = reader.take_header().unwrap();
    let mut unwrap = KeyServerUnwrap::new(&header).unwrap();
    assert_eq!(unwrap.document_id(), header.document_id());
    let first = unwrap.next_request().unwrap();
    assert_eq!(first.key_id(), 3);
    let second = unwrap.next_request().unwrap();
    assert_eq!(second.key_id(), 8);
    assert!(unwrap.next_request().is_none());
    assert_ne!(first.ephemeral_public_key(), second.ephemeral_public_key());
    // What the key server does: open the stanza, seal the key to the
    // ephemeral public key with key id 0.
    let doc = unwrap.document_id();
    let fk = unwrap_stanza(&second.stanza(), &doc, &server_key).unwrap();
    let eph = pqfile_wasm::PublicKey::from_bytes(&second.ephemeral_public_key()).unwrap();
    let transport = wrap_file_key(&fk, &doc, 0, &eph).unwrap();
    assert_eq!(
        code(unwrap.open_response(&first, &transport)),
        ErrorCode::DecryptionFailed
    );
    assert_eq!(
        code(unwrap.open_response(&second, &transport[1..])),
        ErrorCode::BadServerResponse
    );
    let key = unwrap.open_response(&second, &transport).unwrap();
    let mut d = Decryptor::new(&header, &key).unwrap();
    let mut out = d.push(&file[used..]).unwrap();
    out.extend(d.finish().unwrap());
    assert_eq!(out, plaintext(5000));
}

#[wasm_bindgen_test]
fn the_retry_policy_is_the_core_s() {
    assert!(should_try_next_stanza(403, "key_revoked"));
    assert!(should_try_next_stanza(404, "key_not_found"));
    assert!(!should_try_next_stanza(403, "forbidden"));
    assert!(!should_try_next_stanza(401, "invalid_token"));
    assert!(!should_try_next_stanza(503, "kms_unavailable"));
    assert!(!should_try_next_stanza(0, "server_unreachable"));
}

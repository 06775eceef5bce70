//! The wasm-bindgen tests, one module shared by two test targets: `node.rs`
//! (`wasm-pack test --node`) and `browser.rs` (`wasm-pack test --headless
//! --chrome`); see scripts/test.d/20-wasm.sh.
#![cfg(target_arch = "wasm32")]
#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]

use pqfile_wasm::{
    ChunkKey, Decryptor, Encapsulation, Encryptor, ErrorCode, FileKey, Header, PublicKey,
    Recipients, SecretKey, error,
    kem::{open_transport_stanza, unwrap_stanza, wrap_file_key},
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const DOC: &str = "0123456789abcdef0123456789abcdef";

mod protocol;

fn code<T>(r: Result<T, pqfile_wasm::Error>) -> ErrorCode {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e
            .error_code()
            .unwrap_or_else(|| panic!("{} is not an ErrorCode", e.code())),
    }
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn recipients(keys: &[(u32, &SecretKey)]) -> Recipients {
    let mut r = Recipients::new();
    for (id, sk) in keys {
        r.add(*id, &sk.public_key());
    }
    r
}

/// Encrypts with pushes of `piece` bytes through the wasm path.
fn encrypt(e: &mut Encryptor, data: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for p in data.chunks(piece.max(1)) {
        out.extend(e.push(p).unwrap());
    }
    out.extend(e.finish().unwrap());
    out
}

fn decrypt(file: &[u8], key_id: u32, sk: &SecretKey) -> Result<Vec<u8>, pqfile_wasm::Error> {
    let header = Header::parse(file)?;
    let fk = header.unwrap_file_key(key_id, sk)?;
    let mut d = Decryptor::new(&header, &fk)?;
    let mut out = d.push(&file[header.length()..])?;
    out.extend(d.finish()?);
    Ok(out)
}

#[wasm_bindgen_test]
fn round_trip_at_chunk_boundaries_and_piece_sizes() {
    let sk = SecretKey::generate();
    for len in [0, 1, 16383, 16384, 16385, 3 * 16384 + 7] {
        for piece in [1000, 16384, 100_000] {
            let mut e = Encryptor::new(&mut recipients(&[(5, &sk)]), None).unwrap();
            let data = plaintext(len);
            let file = encrypt(&mut e, &data, piece);
            assert_eq!(
                file.len(),
                e.header().len() + 56 + len + 16 * (len / 16384 + 1)
            );
            assert_eq!(
                decrypt(&file, 5, &sk).unwrap(),
                data,
                "len {len} piece {piece}"
            );
        }
    }
}

#[wasm_bindgen_test]
fn header_exposes_document_id_and_stanzas() {
    let (a, b) = (SecretKey::generate(), SecretKey::generate());
    let mut e = Encryptor::new(&mut recipients(&[(3, &a), (9, &b)]), Some(DOC.into())).unwrap();
    assert_eq!(e.document_id(), DOC);
    let file = encrypt(&mut e, b"hi", 10);
    let h = Header::parse(&file).unwrap();
    assert_eq!(h.document_id(), DOC);
    assert_eq!(h.length(), e.header().len());
    assert_eq!(h.to_bytes(), e.header());
    let stanzas = h.stanzas();
    assert_eq!(
        stanzas.iter().map(|s| s.key_id()).collect::<Vec<_>>(),
        vec![3, 9]
    );
    assert_eq!(stanzas[0].kem_name(), "ML-KEM-768");
    assert_eq!(stanzas[0].kem_ciphertext().unwrap().len(), 1088);
    // Either stanza, opened on its own, gives a key that verifies the MAC.
    let fk = unwrap_stanza(&stanzas[1].to_bytes(), DOC, &b).unwrap();
    assert!(h.verify_mac(&fk));
    assert_eq!(
        code(unwrap_stanza(&stanzas[0].to_bytes(), DOC, &b)),
        ErrorCode::DecryptionFailed
    );
    assert_eq!(code(h.unwrap_file_key(4, &a)), ErrorCode::NoMatchingStanza);
    assert_eq!(decrypt(&file, 9, &b).unwrap(), b"hi");
}

#[wasm_bindgen_test]
fn truncated_header_reports_how_many_bytes_are_needed() {
    let sk = SecretKey::generate();
    let e = Encryptor::new(&mut recipients(&[(1, &sk)]), None).unwrap();
    let header = e.header();
    let err = Header::parse(&header[..100]).err().unwrap();
    assert_eq!(err.error_code(), Some(ErrorCode::TruncatedHeader));
    let js: JsValue = err.into();
    let needed = js_sys::Reflect::get(&js, &"needed".into())
        .unwrap()
        .as_f64()
        .unwrap() as usize;
    assert!(100 + needed <= header.len());
    assert_eq!(error::error_code_of(&js), Some(ErrorCode::TruncatedHeader));
    assert_eq!(
        js_sys::Reflect::get(&js, &"name".into()).unwrap(),
        "PqfileError"
    );
    assert!(js.is_instance_of::<js_sys::Error>());
    assert_eq!(code(Header::parse(b"XQF\0")), ErrorCode::BadMagic);
}

#[wasm_bindgen_test]
fn chunk_key_matches_the_wasm_payload_and_disables_push() {
    let sk = SecretKey::generate();
    let mut e = Encryptor::new(&mut recipients(&[(1, &sk)]), None).unwrap();
    let prefix = e.payload_prefix();
    let header_bytes = e.header();
    let key = e.chunk_key().unwrap();
    assert_eq!(key.key().length(), 32);
    assert_eq!(key.base_nonce().len(), 12);
    assert_eq!(code(e.push(b"x")), ErrorCode::InvalidState);
    assert_eq!(code(e.finish()), ErrorCode::InvalidState);
    // The decryption side derives the same key from header, file key, prefix.
    let header = Header::parse(&header_bytes).unwrap();
    let fk = header.unwrap_file_key(1, &sk).unwrap();
    let again = ChunkKey::for_payload(&header, &fk, &prefix).unwrap();
    assert_eq!(again.key().to_vec(), key.key().to_vec());
    assert_eq!(again.base_nonce(), key.base_nonce());
    let mut bad = prefix.clone();
    bad[40] ^= 1;
    assert_eq!(
        code(ChunkKey::for_payload(&header, &fk, &bad)),
        ErrorCode::DecryptionFailed
    );
    // After a push the chunk key is no longer handed out.
    let mut e = Encryptor::new(&mut recipients(&[(1, &sk)]), None).unwrap();
    e.push(b"abc").unwrap();
    assert_eq!(code(e.chunk_key()), ErrorCode::InvalidState);
}

#[wasm_bindgen_test]
fn transport_stanza_round_trip() {
    let fk = FileKey::generate();
    let eph = SecretKey::generate();
    let other = SecretKey::generate();
    let transport = wrap_file_key(&fk, DOC, 0, &eph.public_key()).unwrap();
    let opened = open_transport_stanza(&transport, DOC, &eph).unwrap();
    // Same key: a stanza wrapped with one opens to the other's MAC.
    let file_stanza = wrap_file_key(&opened, DOC, 3, &other.public_key()).unwrap();
    assert!(unwrap_stanza(&file_stanza, DOC, &other).is_ok());
    assert_eq!(
        code(open_transport_stanza(&transport, DOC, &other)),
        ErrorCode::DecryptionFailed
    );
    assert_eq!(
        code(open_transport_stanza(&file_stanza, DOC, &other)),
        ErrorCode::BadKeyId
    );
    assert_eq!(
        code(open_transport_stanza(&transport, "beef", &eph)),
        ErrorCode::BadDocumentId
    );
}

#[wasm_bindgen_test]
fn keys_and_recipient_errors() {
    let sk = SecretKey::from_seed(vec![7; 64]).unwrap();
    let pk = sk.public_key().to_bytes();
    assert_eq!(pk.len(), 1184);
    assert_eq!(
        SecretKey::from_seed(vec![7; 64])
            .unwrap()
            .public_key()
            .to_bytes(),
        pk
    );
    assert!(PublicKey::from_bytes(&pk).is_ok());
    assert_eq!(
        code(PublicKey::from_bytes(&pk[1..])),
        ErrorCode::InvalidPublicKey
    );
    assert_eq!(
        code(PublicKey::from_bytes(&[0xff; 1184])),
        ErrorCode::InvalidPublicKey
    );
    assert_eq!(
        code(SecretKey::from_seed(vec![0; 63])),
        ErrorCode::InvalidSecretKey
    );
    assert_eq!(sk.public_key().encapsulate().ciphertext().len(), 1088);
    assert_eq!(
        code(Encryptor::new(&mut Recipients::new(), None)),
        ErrorCode::BadRecipientCount
    );
    assert_eq!(
        code(Encryptor::new(&mut recipients(&[(0, &sk)]), None)),
        ErrorCode::BadKeyId
    );
    assert_eq!(
        code(Encryptor::new(&mut recipients(&[(1, &sk), (1, &sk)]), None)),
        ErrorCode::DuplicateRecipient
    );
    assert_eq!(
        code(Encryptor::new(
            &mut recipients(&[(1, &sk)]),
            Some("00".repeat(16))
        )),
        ErrorCode::BadDocumentId
    );
}

#[wasm_bindgen_test]
fn tampering_is_detected_and_stops_the_stream() {
    let sk = SecretKey::generate();
    let mut e = Encryptor::new(&mut recipients(&[(1, &sk)]), None).unwrap();
    let mut file = encrypt(&mut e, &plaintext(40000), 4096);
    let h = e.header().len();
    file[h + 56 + 16400 + 5] ^= 1; // second chunk
    let header = Header::parse(&file).unwrap();
    let fk = header.unwrap_file_key(1, &sk).unwrap();
    let mut d = Decryptor::new(&header, &fk).unwrap();
    // The first chunk authenticates and is released; the second is not.
    assert_eq!(d.push(&file[h..h + 56 + 16400]).unwrap(), plaintext(16384));
    assert_eq!(
        code(d.push(&file[h + 56 + 16400..])),
        ErrorCode::DecryptionFailed
    );
    assert_eq!(code(d.finish()), ErrorCode::InvalidState);
    // A truncated stream fails at finish.
    let mut d = Decryptor::new(&header, &fk).unwrap();
    d.push(&file[h..h + 56 + 16400]).unwrap();
    assert_eq!(code(d.finish()), ErrorCode::DecryptionFailed);
    // A header MAC under another key fails before any payload.
    assert_eq!(
        code(Decryptor::new(&header, &FileKey::generate())),
        ErrorCode::DecryptionFailed
    );
}

#[wasm_bindgen_test]
fn with_header_reproduces_a_file_byte_for_byte() {
    let sk = SecretKey::generate();
    let mut e = Encryptor::new(&mut recipients(&[(1, &sk)]), None).unwrap();
    let data = plaintext(50000);
    let file = encrypt(&mut e, &data, 7000);
    let header = Header::parse(&file).unwrap();
    let fk = header.unwrap_file_key(1, &sk).unwrap();
    let salt = &file[header.length()..header.length() + 24];
    let mut again = Encryptor::with_header(&header, &fk, salt).unwrap();
    assert_eq!(encrypt(&mut again, &data, 16384), file);
    assert_eq!(
        code(Encryptor::with_header(&header, &FileKey::generate(), salt)),
        ErrorCode::DecryptionFailed
    );
    assert!(pqfile_wasm::memory_bytes() > 0.0);
}

/// An ML-KEM-768 encapsulation run outside wasm (here: the core's
/// encapsulation, standing in for WebCrypto's `encapsulateBits`; the JS
/// tests do it with WebCrypto in Chromium) seals a stanza that the wasm
/// decapsulation opens, and a file that decrypts.
#[wasm_bindgen_test]
fn external_encapsulation_seals_a_stanza_wasm_opens() {
    let sk = SecretKey::generate();
    let pk = pqfile_core::mlkem768::PublicKey::from_bytes(&sk.public_key().to_bytes()).unwrap();
    let (ct, ss) = pk.encapsulate(&mut rand_core::UnwrapErr(getrandom::SysRng));
    let mut ss_bytes = ss.expose().to_vec();
    let enc = Encapsulation::from_parts(&ct, &mut ss_bytes).unwrap();
    assert_eq!(
        ss_bytes, [0u8; 32],
        "the caller's copy of the secret is wiped"
    );
    let mut list = Recipients::new();
    list.add_encapsulated(7, enc);
    let mut e = Encryptor::new(&mut list, Some(DOC.into())).unwrap();
    let data = plaintext(50_000);
    let file = encrypt(&mut e, &data, 16384);
    let header = Header::parse(&file).unwrap();
    assert_eq!(header.stanzas()[0].kem_ciphertext().unwrap(), ct);
    assert_eq!(decrypt(&file, 7, &sk).unwrap(), data);
    // The shared secret sealed one file key; the list cannot make another file.
    assert_eq!(
        code(Encryptor::new(&mut list, Some(DOC.into()))),
        ErrorCode::InvalidState
    );
    // A wrong shared secret seals a stanza nobody can open.
    let mut wrong = vec![1u8; 32];
    let mut list = Recipients::new();
    list.add_encapsulated(7, Encapsulation::from_parts(&ct, &mut wrong).unwrap());
    let mut e = Encryptor::new(&mut list, None).unwrap();
    let file = encrypt(&mut e, &data, 16384);
    assert_eq!(code(decrypt(&file, 7, &sk)), ErrorCode::DecryptionFailed);
    assert_eq!(
        code(Encapsulation::from_parts(&ct[1..], &mut [0u8; 32])),
        ErrorCode::InvalidCiphertext
    );
    assert_eq!(
        code(Encapsulation::from_parts(&ct, &mut [0u8; 31])),
        ErrorCode::InvalidCiphertext
    );
}

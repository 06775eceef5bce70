//! The client side of the key server's unwrap (FORMAT.md §7, §7.1) against
//! an in-memory key server that holds some of the recipients' keys.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use pqfile_core::keyserver_unwrap::{NextStep, ResponseError, next_step};
use pqfile_core::{
    DecryptError, DocumentId, FileKey, Header, KemId, KeyServerUnwrap, Stanza, header, mlkem768,
    stanza,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

struct File {
    header: Header,
    file_key: FileKey,
    keys: Vec<(u32, mlkem768::SecretKey)>,
}

/// A header for key ids `ids` (ML-KEM-768), with an X-Wing stanza first.
fn file(ids: &[u32], rng: &mut ChaCha20Rng) -> File {
    let document_id = DocumentId::generate(rng);
    let file_key = FileKey::generate(rng);
    let mut stanzas = vec![Stanza {
        kem: KemId::X_WING,
        key_id: 99,
        body: vec![0; 10],
    }];
    let mut keys = Vec::new();
    for &id in ids {
        let sk = mlkem768::SecretKey::generate(rng);
        stanzas.push(stanza::wrap(
            &file_key,
            &document_id,
            id,
            &sk.public_key(),
            rng,
        ));
        keys.push((id, sk));
    }
    let header = header::from_stanzas(document_id, stanzas, &file_key).unwrap();
    File {
        header,
        file_key,
        keys,
    }
}

/// What the key server does with a request: open the stanza with its key
/// and seal the file key to the ephemeral key as a transport stanza.
fn serve(
    f: &File,
    stanza_bytes: &[u8],
    ephemeral_pk: &[u8],
    rng: &mut ChaCha20Rng,
) -> Option<Vec<u8>> {
    let s = Stanza::parse_exact(stanza_bytes).unwrap();
    let (_, sk) = f.keys.iter().find(|(id, _)| *id == s.key_id)?;
    let fk = stanza::unwrap(&s, &f.header.document_id, sk).ok()?;
    let eph = mlkem768::PublicKey::from_bytes(ephemeral_pk).unwrap();
    Some(stanza::wrap(&fk, &f.header.document_id, 0, &eph, rng).to_bytes())
}

#[test]
fn requests_go_to_supported_stanzas_in_file_order_with_fresh_ephemeral_keys() {
    let rng = &mut ChaCha20Rng::seed_from_u64(1);
    let f = file(&[5, 3, 8], rng);
    let mut u = KeyServerUnwrap::new(f.header.clone()).unwrap();
    assert_eq!(u.document_id(), &f.header.document_id);
    let mut seen = Vec::new();
    let mut ephemeral = std::collections::HashSet::new();
    while let Some(req) = u.next_request(rng) {
        assert_eq!(req.stanza().len(), 8 + 1136);
        assert_eq!(
            Stanza::parse_exact(req.stanza()).unwrap().key_id,
            req.key_id()
        );
        assert_eq!(req.ephemeral_public_key().len(), 1184);
        assert!(ephemeral.insert(req.ephemeral_public_key().to_vec()));
        seen.push(req.key_id());
    }
    assert_eq!(seen, [5, 3, 8]);
    assert!(u.next_request(rng).is_none());
}

#[test]
fn an_answer_opens_to_the_file_key_after_the_header_mac() {
    let rng = &mut ChaCha20Rng::seed_from_u64(2);
    let f = file(&[5, 3], rng);
    let mut u = KeyServerUnwrap::new(f.header.clone()).unwrap();
    let first = u.next_request(rng).unwrap();
    let second = u.next_request(rng).unwrap();
    let answer = serve(&f, second.stanza(), second.ephemeral_public_key(), rng).unwrap();
    let key = u.open_response(&second, &answer).unwrap();
    assert_eq!(key.expose(), f.file_key.expose());
    // Sealed to another request's ephemeral key: opaque failure.
    assert_eq!(
        u.open_response(&first, &answer).err(),
        Some(ResponseError::DecryptionFailed)
    );
    assert_eq!(u.into_header(), f.header);
}

#[test]
fn a_transport_stanza_with_another_file_key_fails_the_mac() {
    let rng = &mut ChaCha20Rng::seed_from_u64(3);
    let f = file(&[5], rng);
    let mut u = KeyServerUnwrap::new(f.header.clone()).unwrap();
    let req = u.next_request(rng).unwrap();
    // A well-formed transport stanza of this document that opens with the
    // ephemeral key, holding a key the header MAC does not verify with.
    let eph = mlkem768::PublicKey::from_bytes(req.ephemeral_public_key()).unwrap();
    let wrong = FileKey::generate(rng);
    let answer = stanza::wrap(&wrong, &f.header.document_id, 0, &eph, rng).to_bytes();
    assert_eq!(
        u.open_response(&req, &answer).err(),
        Some(ResponseError::DecryptionFailed)
    );
}

#[test]
fn answers_that_are_not_transport_stanzas_are_bad_server_responses() {
    let rng = &mut ChaCha20Rng::seed_from_u64(4);
    let f = file(&[5], rng);
    let mut u = KeyServerUnwrap::new(f.header.clone()).unwrap();
    let req = u.next_request(rng).unwrap();
    let good = serve(&f, req.stanza(), req.ephemeral_public_key(), rng).unwrap();
    let mut relabelled = Stanza::parse_exact(&good).unwrap();
    relabelled.key_id = 5;
    let mut other_kem = relabelled.clone();
    other_kem.key_id = 0;
    other_kem.kem = KemId(0x0042);
    for (bad, want) in [
        (good[..good.len() - 1].to_vec(), "bad_server_response"),
        (b"{}".to_vec(), "bad_server_response"),
        (relabelled.to_bytes(), "bad_server_response"),
        (other_kem.to_bytes(), "bad_server_response"),
    ] {
        let e = u.open_response(&req, &bad).err().unwrap();
        assert_eq!(e.code(), want, "{e}");
    }
    assert!(u.open_response(&req, &good).is_ok());
}

#[test]
fn a_header_without_supported_stanzas_asks_nothing() {
    let rng = &mut ChaCha20Rng::seed_from_u64(5);
    let f = file(&[], rng);
    assert_eq!(
        KeyServerUnwrap::new(f.header).err(),
        Some(DecryptError::UnsupportedKem)
    );
}

#[test]
fn the_retry_policy_tries_the_next_stanza_only_for_refusals_about_the_stanza() {
    use NextStep::{Stop, TryNextStanza};
    let table: &[(u16, &str, NextStep)] = &[
        (404, "key_not_found", TryNextStanza),
        (400, "key_mismatch", TryNextStanza),
        (403, "key_revoked", TryNextStanza),
        (400, "invalid_stanza", TryNextStanza),
        (400, "unsupported_kem", TryNextStanza),
        (400, "decryption_failed", TryNextStanza),
        (422, "decryption_failed", TryNextStanza),
        (404, "no_matching_stanza", TryNextStanza),
        (401, "unauthorized", Stop),
        (403, "forbidden", Stop),
        (404, "document_not_found", Stop),
        (400, "bad_document_id", Stop),
        (400, "invalid_public_key", Stop),
        (400, "invalid_base64", Stop),
        (429, "rate_limited", Stop),
        (429, "key_not_found", Stop),
        (401, "key_revoked", Stop),
        (500, "internal_error", Stop),
        (503, "kms_unavailable", Stop),
        (503, "key_not_found", Stop),
        (0, "server_unreachable", Stop),
        (0, "key_not_found", Stop),
        (200, "bad_server_response", Stop),
        (418, "something_new", Stop),
    ];
    for &(status, code, want) in table {
        assert_eq!(next_step(status, code), want, "{status} {code}");
    }
}

#[test]
fn a_client_loop_skips_refused_stanzas_and_stops_on_the_caller_s_errors() {
    // The loop both clients run, over a server that holds only key 8.
    fn run(f: &File, refuse: (u16, &str)) -> (Result<FileKey, String>, Vec<u32>) {
        let rng = &mut ChaCha20Rng::seed_from_u64(7);
        let mut u = KeyServerUnwrap::new(f.header.clone()).unwrap();
        let mut asked = Vec::new();
        let mut last = String::from("none");
        while let Some(req) = u.next_request(rng) {
            asked.push(req.key_id());
            match serve(f, req.stanza(), req.ephemeral_public_key(), rng) {
                Some(answer) if req.key_id() == 8 => {
                    return (
                        u.open_response(&req, &answer).map_err(|e| e.to_string()),
                        asked,
                    );
                }
                _ => {
                    last = refuse.1.to_string();
                    if next_step(refuse.0, refuse.1) == NextStep::Stop {
                        break;
                    }
                }
            }
        }
        (Err(last), asked)
    }
    let rng = &mut ChaCha20Rng::seed_from_u64(6);
    let f = file(&[5, 8], rng);
    let (key, asked) = run(&f, (403, "key_revoked"));
    assert_eq!(key.unwrap().expose(), f.file_key.expose());
    assert_eq!(asked, [5, 8]);
    let (err, asked) = run(&f, (403, "forbidden"));
    assert_eq!(err.err().as_deref(), Some("forbidden"));
    assert_eq!(asked, [5]);
}

//! Runs every shared vector in testdata/ (the JS tests run the same ones).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;

use pqfile_core::{
    DecryptError, Decryptor, Header, HeaderRead, HeaderReader, Identity, LocalIdentity, decrypt,
    decrypt_range, mlkem768, unwrap_file_key,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

fn vectors() -> Vec<Value> {
    let m: Value =
        serde_json::from_slice(&std::fs::read(testdata().join("vectors.json")).unwrap()).unwrap();
    assert_eq!(m["format"], "pqfile-vectors/v1");
    m["vectors"].as_array().unwrap().clone()
}

fn identities(v: &Value) -> Vec<LocalIdentity> {
    v["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| LocalIdentity {
            key_id: i["key_id"].as_u64().unwrap() as u32,
            secret_key: mlkem768::SecretKey::from_seed(
                &hex::decode(i["seed"].as_str().unwrap()).unwrap(),
            )
            .unwrap(),
        })
        .collect()
}

fn expected_plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + i / 251) % 256) as u8).collect()
}

/// Streaming decryption, feeding the file in pieces of `step` bytes.
fn decrypt_streaming(
    file: &[u8],
    ids: &[&dyn Identity],
    step: usize,
) -> Result<Vec<u8>, DecryptError> {
    // Header: the push-based reader, fed the same pieces as the payload.
    let mut reader = HeaderReader::new();
    let mut pieces = file.chunks(step.max(1));
    let (header, rest) = loop {
        let Some(piece) = pieces.next() else {
            return Err(reader.truncated().into());
        };
        if let HeaderRead::Complete { header, rest, .. } = reader.push(piece)? {
            break (header, rest);
        }
    };
    let key = unwrap_file_key(&header, ids)?;
    let mut d = Decryptor::new(&header, &key)?;
    let mut out = Vec::new();
    d.push(rest, &mut out)?;
    for piece in pieces {
        d.push(piece, &mut out)?;
    }
    d.finish(&mut out)?;
    Ok(out)
}

#[test]
fn every_vector_gives_the_expected_result_one_shot_and_streaming() {
    let all = vectors();
    assert!(all.len() >= 35, "vector set shrank: {}", all.len());
    for v in &all {
        let name = v["name"].as_str().unwrap();
        let file = std::fs::read(testdata().join(v["file"].as_str().unwrap())).unwrap();
        let ids = identities(v);
        let refs: Vec<&dyn Identity> = ids.iter().map(|i| i as &dyn Identity).collect();
        let results = [
            decrypt(&file, &refs),
            decrypt_streaming(&file, &refs, 1),
            decrypt_streaming(&file, &refs, 7919),
            decrypt_streaming(&file, &refs, 16400),
        ];
        for r in results {
            match v["expect"].as_str().unwrap() {
                "success" => {
                    let pt = r.unwrap_or_else(|e| panic!("{name}: {e}"));
                    let len = v["plaintext_len"].as_u64().unwrap() as usize;
                    assert_eq!(pt, expected_plaintext(len), "{name}");
                    assert_eq!(
                        hex::encode(Sha256::digest(&pt)),
                        v["plaintext_sha256"].as_str().unwrap(),
                        "{name}"
                    );
                }
                "error" => {
                    let e = r
                        .err()
                        .unwrap_or_else(|| panic!("{name}: decrypted but should fail"));
                    assert_eq!(e.code(), v["error"].as_str().unwrap(), "{name}: {e}");
                }
                other => panic!("{name}: unknown expectation {other}"),
            }
        }
    }
}

#[test]
fn headers_of_valid_vectors_reencode_byte_for_byte() {
    for v in vectors().iter().filter(|v| v["expect"] == "success") {
        let file = std::fs::read(testdata().join(v["file"].as_str().unwrap())).unwrap();
        let (h, used) = Header::parse(&file).unwrap();
        assert_eq!(h.to_bytes(), file[..used], "{}", v["name"]);
    }
}

#[test]
fn random_access_matches_full_decryption_on_every_success_vector() {
    for v in vectors().iter().filter(|v| v["expect"] == "success") {
        let file = std::fs::read(testdata().join(v["file"].as_str().unwrap())).unwrap();
        let ids = identities(v);
        let refs: Vec<&dyn Identity> = ids.iter().map(|i| i as &dyn Identity).collect();
        let (h, used) = Header::parse(&file).unwrap();
        let key = unwrap_file_key(&h, &refs).unwrap();
        let pt = expected_plaintext(v["plaintext_len"].as_u64().unwrap() as usize);
        let n = pt.len() as u64;
        for (s, e) in [
            (0, n),
            (0, n.min(1)),
            (n / 3, n / 2),
            (n.saturating_sub(5), n),
            (16383.min(n), 16385.min(n)),
        ] {
            let mut reads = 0;
            let got = decrypt_range(
                &h,
                used,
                &key,
                file.len() as u64,
                s,
                e,
                |off, buf: &mut [u8]| {
                    reads += buf.len();
                    buf.copy_from_slice(&file[off as usize..off as usize + buf.len()]);
                    Ok::<_, ()>(())
                },
            )
            .unwrap();
            assert_eq!(got, pt[s as usize..e as usize], "{} {s}..{e}", v["name"]);
            // Only the overlapping chunks (plus the 56-byte prefix) are read.
            let chunks = if e > s {
                (e - 1) / 16384 - s / 16384 + 1
            } else {
                0
            };
            assert!(
                reads as u64 <= 56 + chunks * 16400,
                "{}: read {reads} bytes",
                v["name"]
            );
        }
    }
}

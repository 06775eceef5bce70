//! Property tests: round trips and "malformed input never panics".

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use pqfile_core::{
    DocumentId, Encryptor, FileKey, Header, Identity, KemId, LocalIdentity, Recipient, Stanza,
    decrypt, header, mlkem768, stream,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::sync::OnceLock;

fn identity() -> &'static (LocalIdentity, Recipient) {
    static K: OnceLock<(LocalIdentity, Recipient)> = OnceLock::new();
    K.get_or_init(|| {
        let sk = mlkem768::SecretKey::generate(&mut ChaCha20Rng::seed_from_u64(42));
        let r = Recipient {
            key_id: 3,
            public_key: sk.public_key(),
        };
        (
            LocalIdentity {
                key_id: 3,
                secret_key: sk,
            },
            r,
        )
    })
}

fn encrypt_in_pieces(data: &[u8], cuts: &[usize], seed: u64) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut e = Encryptor::new(&[identity().1.clone()], &mut rng).unwrap();
    let mut out = Vec::new();
    let mut pos = 0;
    for &c in cuts {
        let end = (pos + c).min(data.len());
        e.push(&data[pos..end], &mut out).unwrap();
        pos = end;
    }
    e.push(&data[pos..], &mut out).unwrap();
    e.finish(&mut out).unwrap();
    out
}

fn arb_stanza() -> impl Strategy<Value = Stanza> {
    prop_oneof![
        (
            1u32..=i32::MAX as u32,
            proptest::collection::vec(any::<u8>(), 1136..=1136)
        )
            .prop_map(|(key_id, body)| Stanza {
                kem: KemId::ML_KEM_768,
                key_id,
                body
            }),
        (
            2u16..,
            1u32..=i32::MAX as u32,
            proptest::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|(k, key_id, body)| Stanza {
                kem: KemId(k),
                key_id,
                body
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn encrypt_then_decrypt_is_identity_for_any_size_and_split(
        len in prop_oneof![0usize..100, 16370usize..16400, 32760usize..32800, 0usize..70000],
        cuts in proptest::collection::vec(0usize..20000, 0..6),
        seed in any::<u64>(),
    ) {
        let data: Vec<u8> = (0..len).map(|i| (i as u64).wrapping_mul(seed | 1) as u8).collect();
        let file = encrypt_in_pieces(&data, &cuts, seed);
        // Exact size: header + 56 + per-chunk tags (C1: a final short chunk always exists).
        let (h, hl) = Header::parse(&file).unwrap();
        prop_assert_eq!(file.len(), hl + 56 + len + 16 * (len / 16384 + 1));
        prop_assert_eq!(h.stanzas.len(), 1);
        let id: &dyn Identity = &identity().0;
        prop_assert_eq!(decrypt(&file, &[id]).unwrap(), data);
    }

    #[test]
    fn any_single_bit_flip_or_truncation_is_rejected(
        len in 0usize..40000, pos in any::<prop::sample::Index>(), bit in 0u8..8, cut in any::<prop::sample::Index>(),
    ) {
        let data = vec![0x5a; len];
        let file = encrypt_in_pieces(&data, &[], len as u64);
        let id: &dyn Identity = &identity().0;
        let mut flipped = file.clone();
        let i = pos.index(file.len());
        flipped[i] ^= 1 << bit;
        prop_assert!(decrypt(&flipped, &[id]).is_err(), "flip at {} accepted", i);
        let c = cut.index(file.len());
        prop_assert!(decrypt(&file[..c], &[id]).is_err(), "truncation to {} accepted", c);
    }

    #[test]
    fn header_parse_write_round_trip(stanzas in proptest::collection::vec(arb_stanza(), 1..5), id in any::<[u8; 16]>(), mac in any::<[u8; 32]>()) {
        prop_assume!(id != [0; 16]);
        let mut seen = std::collections::HashSet::new();
        prop_assume!(stanzas.iter().all(|s| seen.insert((s.kem, s.key_id))));
        let h = Header { document_id: DocumentId::from_bytes(id).unwrap(), stanzas, mac };
        let bytes = h.to_bytes();
        let mut with_payload = bytes.clone();
        with_payload.extend_from_slice(b"payload follows");
        let (parsed, used) = Header::parse(&with_payload).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(parsed.to_bytes(), bytes);
        prop_assert_eq!(parsed, h);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..3000), prefix in any::<bool>()) {
        let mut input = if prefix { b"PQF\0\x01\x00".to_vec() } else { vec![] };
        input.extend_from_slice(&data);
        let _ = Header::parse(&input);
        let id: &dyn Identity = &identity().0;
        prop_assert!(decrypt(&input, &[id]).is_err());
        let fk = FileKey::from_bytes([1; 32]);
        let mut d = stream::PayloadDecryptor::new(&fk, b"ctx");
        let mut out = vec![];
        let ok = d.push(&input, &mut out).is_ok() && d.finish(&mut out).is_ok();
        prop_assert!(!ok);
    }
}

#[test]
fn rewrap_replaces_a_stanza_without_touching_the_payload() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let (id1, r1) = identity();
    let file = encrypt_in_pieces(&vec![1u8; 50_000], &[], 1);
    let (h, hl) = Header::parse(&file).unwrap();
    let fk = pqfile_core::unwrap_file_key(&h, &[id1]).unwrap();
    let new_sk = mlkem768::SecretKey::generate(&mut rng);
    let new = pqfile_core::stanza::wrap(&fk, &h.document_id, 99, &new_sk.public_key(), &mut rng);
    let h2 = header::replace_stanza(&h, Some((KemId::ML_KEM_768, r1.key_id)), new, &fk).unwrap();
    let rewrapped = [h2.to_bytes(), file[hl..].to_vec()].concat();
    let new_id = LocalIdentity {
        key_id: 99,
        secret_key: new_sk,
    };
    assert_eq!(decrypt(&rewrapped, &[&new_id]).unwrap(), vec![1u8; 50_000]);
    // The old key no longer opens it.
    assert_eq!(
        decrypt(&rewrapped, &[id1]).unwrap_err().code(),
        "no_matching_stanza"
    );
    // Only the header changed.
    assert_eq!(rewrapped[h2.encoded_len()..], file[hl..]);
}

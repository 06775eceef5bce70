#![no_main]
//! Full decryption with a fixed identity: never panics, never accepts a
//! file that was not produced by the encryptor for that key (a mutated seed
//! file must fail unless it is byte-identical to the original).
use libfuzzer_sys::fuzz_target;
use pqfile_core::{Identity, LocalIdentity, Recipient, decrypt, encrypt, mlkem768};
use rand_core::SeedableRng;
use std::sync::OnceLock;

struct Fixture {
    identity: LocalIdentity,
    original: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let sk = mlkem768::SecretKey::generate(&mut rng);
        let r = Recipient { key_id: 1, public_key: sk.public_key() };
        let original = encrypt(&[r], &[7u8; 40000], &mut rng).unwrap();
        Fixture { identity: LocalIdentity { key_id: 1, secret_key: sk }, original }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let id: &dyn Identity = &f.identity;
    // Splice the fuzz input over the start of a valid file so the fuzzer
    // reaches the payload code, and also try the raw input.
    let mut spliced = f.original.clone();
    let n = data.len().min(spliced.len());
    spliced[..n].copy_from_slice(&data[..n]);
    if let Ok(pt) = decrypt(&spliced, &[id]) {
        assert_eq!(spliced, f.original);
        assert_eq!(pt, vec![7u8; 40000]);
    }
    let _ = decrypt(data, &[id]);
});

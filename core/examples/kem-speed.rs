//! Times the ML-KEM-768 operations one key-server unwrap performs
//! (BENCHMARKS.md): `cargo run --release -p pqfile-core --example kem-speed`
//! (RustCrypto ml-kem), add `--features libcrux` for the key server's libcrux-ml-kem.
#![allow(clippy::unwrap_used, missing_docs)]

use pqfile_core::mlkem768::{PublicKey, SecretKey};
use rand_core::SeedableRng;
use std::time::Instant;

fn main() {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let sk = SecretKey::generate(&mut rng);
    let pk_bytes = sk.public_key().to_bytes();
    let (ct, _) = sk.public_key().encapsulate(&mut rng);
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(PublicKey::from_bytes(&pk_bytes).unwrap());
    }
    let parse = t.elapsed() / n;
    let pk = PublicKey::from_bytes(&pk_bytes).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(pk.encapsulate(&mut rng));
    }
    let enc = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(sk.decapsulate(&ct).unwrap());
    }
    let dec = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n / 4 {
        std::hint::black_box(SecretKey::from_seed(sk.to_seed().as_ref()).unwrap());
    }
    let keygen = t.elapsed() / (n / 4);
    println!(
        "ML-KEM-768 per op: parse+check public key {parse:?}, encapsulate {enc:?}, decapsulate {dec:?}, key from seed {keygen:?}"
    );
    println!(
        "one unwrap (parse + decapsulate + encapsulate): {:?}",
        parse + enc + dec
    );
}

//! Alternates raw `aes-gcm` (16 KiB chunks) and the pqfile streaming
//! encryptor/decryptor over 64 MiB, N rounds, and prints median throughputs
//! and their ratio. Alternating in one process makes the ratio robust to a
//! noisy machine (BENCHMARKS.md). `cargo run --release -p pqfile-core --example stream-ratio [ROUNDS]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use aes_gcm::{Aes256Gcm, KeyInit, aead::AeadInOut};
use pqfile_core::{
    Decryptor, Encryptor, Header, LocalIdentity, Recipient, mlkem768, unwrap_file_key,
};
use rand_core::SeedableRng;
use std::hint::black_box;
use std::time::Instant;

const SIZE: usize = 64 << 20;

fn raw(cipher: &Aes256Gcm, data: &[u8], out: &mut Vec<u8>, open: bool) {
    out.clear();
    let step = if open { 16400 } else { 16384 };
    for (i, chunk) in data.chunks(step).enumerate() {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&(i as u64).to_be_bytes());
        let start = out.len();
        if open {
            let (body, tag) = chunk.split_at(chunk.len() - 16);
            out.extend_from_slice(body);
            cipher
                .decrypt_inout_detached(
                    &nonce.into(),
                    b"",
                    (&mut out[start..]).into(),
                    tag.try_into().unwrap(),
                )
                .unwrap();
        } else {
            out.extend_from_slice(chunk);
            let tag = cipher
                .encrypt_inout_detached(&nonce.into(), b"", (&mut out[start..]).into())
                .unwrap();
            out.extend_from_slice(&tag);
        }
    }
    black_box(out.len());
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let sk = mlkem768::SecretKey::generate(&mut rng);
    let recipient = Recipient {
        key_id: 1,
        public_key: sk.public_key(),
    };
    let identity = LocalIdentity {
        key_id: 1,
        secret_key: sk,
    };
    let data = vec![0xa5u8; SIZE];
    let cipher = Aes256Gcm::new(&[7u8; 32].into());
    let mut out = Vec::with_capacity(SIZE + SIZE / 500);
    let mut sealed = Vec::new();
    raw(&cipher, &data, &mut sealed, false);
    let mut file = Vec::new();
    let mut e = Encryptor::new(std::slice::from_ref(&recipient), &mut rng).unwrap();
    e.push(&data, &mut file).unwrap();
    e.finish(&mut file).unwrap();
    let (header, hl) = Header::parse(&file).unwrap();
    let key = unwrap_file_key(&header, &[&identity]).unwrap();

    let mib = SIZE as f64 / (1 << 20) as f64;
    let (mut re, mut pe, mut ro, mut pd) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let t = Instant::now();
        raw(&cipher, &data, &mut out, false);
        re.push(mib / t.elapsed().as_secs_f64());
        let t = Instant::now();
        out.clear();
        let mut e = Encryptor::new(std::slice::from_ref(&recipient), &mut rng).unwrap();
        for piece in data.chunks(1 << 20) {
            e.push(piece, &mut out).unwrap();
        }
        e.finish(&mut out).unwrap();
        pe.push(mib / t.elapsed().as_secs_f64());
        let t = Instant::now();
        raw(&cipher, &sealed, &mut out, true);
        ro.push(mib / t.elapsed().as_secs_f64());
        let t = Instant::now();
        out.clear();
        let mut d = Decryptor::new(&header, &key).unwrap();
        for piece in file[hl..].chunks(1 << 20) {
            d.push(piece, &mut out).unwrap();
        }
        d.finish(&mut out).unwrap();
        pd.push(mib / t.elapsed().as_secs_f64());
    }
    let (re, pe, ro, pd) = (
        median(&mut re),
        median(&mut pe),
        median(&mut ro),
        median(&mut pd),
    );
    println!("64 MiB, {rounds} alternating rounds, median MiB/s");
    println!(
        "encrypt: raw aes-gcm {re:.0}  pqfile {pe:.0}  ratio {:.3}",
        pe / re
    );
    println!(
        "decrypt: raw aes-gcm {ro:.0}  pqfile {pd:.0}  ratio {:.3}",
        pd / ro
    );
}

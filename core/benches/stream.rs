//! Streaming encrypt/decrypt of 64 MiB vs raw `aes-gcm` sealing the same bytes
//! in 16 KiB chunks, side by side in one run (BENCHMARKS.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use aes_gcm::{Aes256Gcm, KeyInit, aead::AeadInOut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pqfile_core::{
    Decryptor, Encryptor, Header, LocalIdentity, Recipient, mlkem768, unwrap_file_key,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::hint::black_box;

const SIZE: usize = 64 << 20;
const PIECE: usize = 1 << 20; // the caller's read size

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
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
    let mut out = Vec::with_capacity(SIZE + SIZE / 1000 + 4096);

    let mut g = c.benchmark_group("64MiB");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(10);

    // Baseline: what sealing 16 KiB chunks with aes-gcm costs at minimum:
    // copy each chunk to the output, encrypt in place, append the tag.
    let cipher = Aes256Gcm::new(&[7u8; 32].into());
    g.bench_function(BenchmarkId::new("raw_aes_gcm_16k_chunks", "seal"), |b| {
        b.iter(|| {
            out.clear();
            for (i, chunk) in data.chunks(16384).enumerate() {
                let mut nonce = [0u8; 12];
                nonce[4..].copy_from_slice(&(i as u64).to_be_bytes());
                let start = out.len();
                out.extend_from_slice(chunk);
                let tag = cipher
                    .encrypt_inout_detached(&nonce.into(), b"", (&mut out[start..]).into())
                    .unwrap();
                out.extend_from_slice(&tag);
            }
            black_box(out.len())
        })
    });
    g.bench_function(BenchmarkId::new("pqfile_stream", "encrypt"), |b| {
        b.iter(|| {
            out.clear();
            let mut e = Encryptor::new(std::slice::from_ref(&recipient), &mut rng).unwrap();
            for piece in data.chunks(PIECE) {
                e.push(piece, &mut out).unwrap();
            }
            e.finish(&mut out).unwrap();
            black_box(out.len())
        })
    });

    // Decrypt side: raw aes-gcm opening 16 KiB chunks vs the pqfile decryptor.
    let mut sealed = Vec::with_capacity(SIZE + SIZE / 1000);
    for (i, chunk) in data.chunks(16384).enumerate() {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&(i as u64).to_be_bytes());
        let start = sealed.len();
        sealed.extend_from_slice(chunk);
        let tag = cipher
            .encrypt_inout_detached(&nonce.into(), b"", (&mut sealed[start..]).into())
            .unwrap();
        sealed.extend_from_slice(&tag);
    }
    g.bench_function(BenchmarkId::new("raw_aes_gcm_16k_chunks", "open"), |b| {
        b.iter(|| {
            out.clear();
            for (i, chunk) in sealed.chunks(16400).enumerate() {
                let mut nonce = [0u8; 12];
                nonce[4..].copy_from_slice(&(i as u64).to_be_bytes());
                let (body, tag) = chunk.split_at(chunk.len() - 16);
                let start = out.len();
                out.extend_from_slice(body);
                cipher
                    .decrypt_inout_detached(
                        &nonce.into(),
                        b"",
                        (&mut out[start..]).into(),
                        tag.try_into().unwrap(),
                    )
                    .unwrap();
            }
            black_box(out.len())
        })
    });
    let mut file = Vec::new();
    let mut e = Encryptor::new(std::slice::from_ref(&recipient), &mut rng).unwrap();
    e.push(&data, &mut file).unwrap();
    e.finish(&mut file).unwrap();
    let (header, hl) = Header::parse(&file).unwrap();
    let key = unwrap_file_key(&header, &[&identity]).unwrap();
    g.bench_function(BenchmarkId::new("pqfile_stream", "decrypt"), |b| {
        b.iter(|| {
            out.clear();
            let mut d = Decryptor::new(&header, &key).unwrap();
            for piece in file[hl..].chunks(PIECE) {
                d.push(piece, &mut out).unwrap();
            }
            d.finish(&mut out).unwrap();
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

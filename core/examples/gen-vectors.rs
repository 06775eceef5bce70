//! Generates the shared test vectors in `testdata/` (see testdata/README.md).
//!
//! `cargo run -p pqfile-core --example gen-vectors` rewrites them;
//! `-- --check` fails if the committed files differ from what this produces.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};

use pqfile_core::{
    DocumentId, Encryptor, FileKey, KemId, Recipient, Stanza, header, mlkem768, stanza,
    stream::{CHUNK_CT_SIZE, PAYLOAD_PREFIX_LEN},
};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + i / 251) % 256) as u8).collect()
}

struct Key {
    id: u32,
    seed: [u8; 64],
}

impl Key {
    fn new(id: u32, rng: &mut ChaCha20Rng) -> Self {
        let mut seed = [0u8; 64];
        rng.fill_bytes(&mut seed);
        Self { id, seed }
    }
    fn secret(&self) -> mlkem768::SecretKey {
        mlkem768::SecretKey::from_seed(&self.seed).expect("64-byte seed")
    }
    fn recipient(&self) -> Recipient {
        Recipient {
            key_id: self.id,
            public_key: self.secret().public_key(),
        }
    }
    fn identity(&self) -> Value {
        json!({ "key_id": self.id, "seed": hex::encode(self.seed) })
    }
}

/// A file built from parts so failure vectors can edit one part.
struct Built {
    header: Vec<u8>,
    payload: Vec<u8>,
    file_key: FileKey,
}

impl Built {
    fn bytes(&self) -> Vec<u8> {
        [self.header.clone(), self.payload.clone()].concat()
    }
}

fn build(
    rng: &mut ChaCha20Rng,
    doc: DocumentId,
    stanzas: Vec<Stanza>,
    file_key: FileKey,
    len: usize,
) -> Built {
    let h = header::from_stanzas(doc, stanzas, &file_key).expect("valid stanzas");
    let mut salt = [0u8; 24];
    rng.fill_bytes(&mut salt);
    let header_bytes = h.to_bytes();
    let mut e = Encryptor::with_header(h, &file_key, salt);
    let mut out = Vec::new();
    e.push(&plaintext(len), &mut out).expect("encrypt");
    e.finish(&mut out).expect("encrypt");
    let payload = out.split_off(header_bytes.len());
    Built {
        header: header_bytes,
        payload,
        file_key,
    }
}

fn simple(rng: &mut ChaCha20Rng, keys: &[&Key], len: usize) -> Built {
    let doc = DocumentId::generate(rng);
    let fk = FileKey::generate(rng);
    let stanzas = keys
        .iter()
        .map(|k| stanza::wrap(&fk, &doc, k.id, &k.recipient().public_key, rng))
        .collect();
    build(rng, doc, stanzas, fk, len)
}

struct Out {
    dir: PathBuf,
    entries: Vec<Value>,
    files: Vec<(String, Vec<u8>)>,
}

impl Out {
    fn ok(&mut self, name: &str, desc: &str, ids: &[&Key], file: Vec<u8>, len: usize) {
        let sha = hex::encode(Sha256::digest(plaintext(len)));
        self.push(
            name,
            json!({
                "name": name, "description": desc, "file": format!("vectors/{name}.pqf"),
                "identities": ids.iter().map(|k| k.identity()).collect::<Vec<_>>(),
                "expect": "success", "plaintext_len": len, "plaintext_sha256": sha,
            }),
            file,
        );
    }
    fn err(&mut self, name: &str, desc: &str, ids: &[&Key], file: Vec<u8>, code: &str) {
        self.push(
            name,
            json!({
                "name": name, "description": desc, "file": format!("vectors/{name}.pqf"),
                "identities": ids.iter().map(|k| k.identity()).collect::<Vec<_>>(),
                "expect": "error", "error": code,
            }),
            file,
        );
    }
    fn push(&mut self, name: &str, v: Value, file: Vec<u8>) {
        self.entries.push(v);
        self.files.push((format!("{name}.pqf"), file));
    }
}

fn main() {
    let check = std::env::args().any(|a| a == "--check");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let mut o = Out {
        dir: root.join("vectors"),
        entries: vec![],
        files: vec![],
    };
    let rng = &mut ChaCha20Rng::seed_from_u64(0x5051_4631);
    let k1 = Key::new(1, rng);
    let k2 = Key::new(2, rng);
    let k7 = Key::new(7, rng);

    // --- success ---------------------------------------------------------
    for (name, len, desc) in [
        ("empty", 0, "empty plaintext: a single empty final chunk"),
        ("one_byte", 1, "one byte"),
        (
            "chunk_minus_one",
            16383,
            "16 KiB - 1: one short final chunk",
        ),
        (
            "one_chunk",
            16384,
            "16 KiB: one full chunk and an empty final chunk",
        ),
        (
            "chunk_plus_one",
            16385,
            "16 KiB + 1: one full chunk and a 1-byte final chunk",
        ),
        (
            "multi_chunk",
            3 * 16384 + 1000,
            "three full chunks and a 1000-byte final chunk",
        ),
    ] {
        let b = simple(rng, &[&k1], len);
        o.ok(name, desc, &[&k1], b.bytes(), len);
    }
    let b = simple(rng, &[&k1, &k2], 5000);
    o.ok(
        "two_stanzas",
        "two recipients; the identity is the second one",
        &[&k2],
        b.bytes(),
        5000,
    );
    {
        let doc = DocumentId::generate(rng);
        let fk = FileKey::generate(rng);
        let mut body = vec![0u8; 1200];
        rng.fill_bytes(&mut body);
        let xwing = Stanza {
            kem: KemId::X_WING,
            key_id: 9,
            body,
        };
        let ml = stanza::wrap(&fk, &doc, k1.id, &k1.recipient().public_key, rng);
        let b = build(rng, doc, vec![xwing, ml], fk, 100);
        o.ok(
            "unknown_kem_stanza_skipped",
            "an X-Wing stanza this version cannot open precedes an ML-KEM-768 stanza (S1)",
            &[&k1],
            b.bytes(),
            100,
        );
    }

    // --- header failures -------------------------------------------------
    let base = simple(rng, &[&k1], 20000);
    let edit = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = base.bytes();
        f(&mut v);
        v
    };
    o.err(
        "bad_magic",
        "first byte changed (P1)",
        &[&k1],
        edit(&|v| v[0] = b'X'),
        "bad_magic",
    );
    o.err(
        "unsupported_version",
        "version 2 (P2)",
        &[&k1],
        edit(&|v| v[4] = 2),
        "unsupported_version",
    );
    o.err(
        "reserved_flags",
        "flags byte set (P3)",
        &[&k1],
        edit(&|v| v[5] = 1),
        "reserved_flags",
    );
    o.err(
        "zero_stanzas",
        "stanza count 0 (P4)",
        &[&k1],
        edit(&|v| {
            v[22] = 0;
            v[23] = 0
        }),
        "bad_stanza_count",
    );
    o.err(
        "seventeen_stanzas",
        "stanza count 17 (P4)",
        &[&k1],
        edit(&|v| {
            v[22] = 0;
            v[23] = 17
        }),
        "bad_stanza_count",
    );
    o.err(
        "zero_document_id",
        "all-zero document id (P5)",
        &[&k1],
        edit(&|v| v[6..22].fill(0)),
        "bad_document_id",
    );
    o.err(
        "truncated_header",
        "file cut in the middle of the stanza",
        &[&k1],
        base.bytes()[..600].to_vec(),
        "truncated_header",
    );
    o.err(
        "truncated_mac",
        "file cut in the middle of the header MAC",
        &[&k1],
        base.header[..base.header.len() - 5].to_vec(),
        "truncated_header",
    );
    o.err(
        "bad_stanza_body",
        "ML-KEM-768 stanza with a 1135-byte body (S3)",
        &[&k1],
        edit(&|v| {
            v[30] = 0x04;
            v[31] = 0x6f
        }),
        "bad_stanza_body",
    );
    {
        let mut v = base.header[..24].to_vec();
        v.extend_from_slice(&[0x00, 0x09, 0, 0, 0, 3, 0x20, 0x01]);
        v.extend(std::iter::repeat_n(0u8, 8193 + 32));
        o.err(
            "stanza_too_large",
            "stanza body of 8193 bytes (S4)",
            &[&k1],
            v,
            "stanza_too_large",
        );
    }
    o.err(
        "key_id_zero",
        "stanza key id 0 is reserved for transport (S5)",
        &[&k1],
        edit(&|v| v[24 + 2..24 + 6].fill(0)),
        "bad_key_id",
    );
    o.err(
        "key_id_too_large",
        "stanza key id 2^31 (S5)",
        &[&k1],
        edit(&|v| v[24 + 2..24 + 6].copy_from_slice(&0x8000_0000u32.to_be_bytes())),
        "bad_key_id",
    );
    {
        let b = simple(rng, &[&k1], 10);
        let h = &b.header;
        let stanza_bytes = &h[24..h.len() - 32];
        let mut v = h[..24].to_vec();
        v[23] = 2;
        v.extend_from_slice(stanza_bytes);
        v.extend_from_slice(stanza_bytes);
        v.extend_from_slice(&h[h.len() - 32..]);
        v.extend_from_slice(&b.payload);
        o.err(
            "duplicate_stanza",
            "the same (kem, key id) twice (S6)",
            &[&k1],
            v,
            "duplicate_stanza",
        );
    }
    o.err(
        "unknown_kem",
        "the only stanza has an unassigned KEM id (S2)",
        &[&k1],
        edit(&|v| {
            v[24] = 0x00;
            v[25] = 0x09
        }),
        "unsupported_kem",
    );
    o.err(
        "no_matching_stanza",
        "the identity's key id is not a recipient",
        &[&k7],
        base.bytes(),
        "no_matching_stanza",
    );
    {
        let wrong = Key {
            id: 1,
            seed: k7.seed,
        };
        o.err(
            "wrong_key",
            "right key id, wrong secret key (W1)",
            &[&wrong],
            base.bytes(),
            "decryption_failed",
        );
    }
    o.err(
        "header_mac_mismatch",
        "one bit of the header MAC flipped (M1)",
        &[&k1],
        edit(&|v| {
            let i = base.header.len() - 1;
            v[i] ^= 1
        }),
        "decryption_failed",
    );
    o.err(
        "document_id_changed",
        "one bit of the document id flipped: the stanza no longer unwraps (W2)",
        &[&k1],
        edit(&|v| v[10] ^= 0x40),
        "decryption_failed",
    );
    {
        // Stanza made for another document, MAC recomputed by someone who knows
        // that other document's file key: the binding still refuses it (W2).
        let other = simple(rng, &[&k1], 10);
        let (oh, _) = pqfile_core::Header::parse(&other.header).expect("parse");
        let (mut h, _) = pqfile_core::Header::parse(&base.header).expect("parse");
        h.stanzas = oh.stanzas.clone();
        header::set_mac(&mut h, &other.file_key);
        let v = [h.to_bytes(), base.payload.clone()].concat();
        o.err(
            "stanza_from_other_document",
            "a stanza of another document spliced in with a valid MAC for its file key (W2)",
            &[&k1],
            v,
            "decryption_failed",
        );
    }
    {
        let relabelled = Key {
            id: 2,
            seed: k1.seed,
        };
        let v = edit(&|v| v[24 + 2..24 + 6].copy_from_slice(&2u32.to_be_bytes()));
        o.err(
            "stanza_key_id_relabelled",
            "key id changed from 1 to 2, identity 2 holds key 1's secret (W2)",
            &[&relabelled],
            v,
            "decryption_failed",
        );
    }
    {
        let other = simple(rng, &[&k1], 20000);
        let v = [base.header.clone(), other.payload.clone()].concat();
        o.err(
            "payload_from_other_file",
            "valid header followed by another file's payload (C2)",
            &[&k1],
            v,
            "decryption_failed",
        );
    }

    // --- payload failures ------------------------------------------------
    let h = base.header.len();
    o.err(
        "bad_commitment",
        "one bit of the commitment flipped (C2)",
        &[&k1],
        edit(&|v| v[h + 30] ^= 1),
        "decryption_failed",
    );
    o.err(
        "flipped_payload_byte",
        "one bit of the first chunk flipped (C3)",
        &[&k1],
        edit(&|v| v[h + PAYLOAD_PREFIX_LEN + 100] ^= 1),
        "decryption_failed",
    );
    o.err(
        "flipped_tag_byte",
        "one bit of the final chunk's tag flipped (C3)",
        &[&k1],
        edit(&|v| {
            let i = v.len() - 1;
            v[i] ^= 0x80
        }),
        "decryption_failed",
    );
    o.err(
        "payload_missing",
        "header only, no payload",
        &[&k1],
        base.header.clone(),
        "decryption_failed",
    );
    o.err(
        "payload_prefix_only",
        "header, salt and commitment, no chunk",
        &[&k1],
        base.bytes()[..h + PAYLOAD_PREFIX_LEN].to_vec(),
        "decryption_failed",
    );
    o.err(
        "truncated_mid_chunk",
        "last 100 bytes cut off (C3)",
        &[&k1],
        {
            let v = base.bytes();
            v[..v.len() - 100].to_vec()
        },
        "decryption_failed",
    );
    o.err(
        "final_chunk_removed",
        "20000-byte file with its final chunk removed: the last chunk is full (C1, C3)",
        &[&k1],
        base.bytes()[..h + PAYLOAD_PREFIX_LEN + CHUNK_CT_SIZE].to_vec(),
        "decryption_failed",
    );
    {
        let b = simple(rng, &[&k1], 16384);
        let v = b.bytes();
        o.err(
            "empty_final_chunk_removed",
            "16384-byte file without its empty final chunk (C1)",
            &[&k1],
            v[..v.len() - 16].to_vec(),
            "decryption_failed",
        );
    }
    o.err(
        "extended_one_byte",
        "one byte appended (C3)",
        &[&k1],
        edit(&|v| v.push(0)),
        "decryption_failed",
    );
    {
        let mut v = base.bytes();
        let tail = v[v.len() - 16..].to_vec();
        v.extend_from_slice(&tail);
        o.err(
            "extended_chunk",
            "an extra 16-byte chunk appended (C3)",
            &[&k1],
            v,
            "decryption_failed",
        );
    }
    {
        let b = simple(rng, &[&k1], 3 * 16384 + 10);
        let mut v = b.bytes();
        let p = b.header.len() + PAYLOAD_PREFIX_LEN;
        let c0 = v[p..p + CHUNK_CT_SIZE].to_vec();
        let c1 = v[p + CHUNK_CT_SIZE..p + 2 * CHUNK_CT_SIZE].to_vec();
        v[p..p + CHUNK_CT_SIZE].copy_from_slice(&c1);
        v[p + CHUNK_CT_SIZE..p + 2 * CHUNK_CT_SIZE].copy_from_slice(&c0);
        o.err(
            "reordered_chunks",
            "chunks 0 and 1 swapped (C3)",
            &[&k1],
            v,
            "decryption_failed",
        );
    }

    let manifest = json!({ "format": "pqfile-vectors/v1", "vectors": o.entries });
    let manifest = serde_json::to_string_pretty(&manifest).expect("json") + "\n";
    let mut stale = vec![];
    let mut write = |path: PathBuf, bytes: &[u8]| {
        if check {
            if std::fs::read(&path).ok().as_deref() != Some(bytes) {
                stale.push(path.display().to_string());
            }
        } else {
            std::fs::write(&path, bytes).expect("write vector");
        }
    };
    if !check {
        std::fs::create_dir_all(&o.dir).expect("mkdir");
    }
    for (name, bytes) in &o.files {
        write(o.dir.join(name), bytes);
    }
    write(root.join("vectors.json"), manifest.as_bytes());
    if !stale.is_empty() {
        eprintln!(
            "test vectors are stale, run `cargo run -p pqfile-core --example gen-vectors`: {stale:?}"
        );
        std::process::exit(1);
    }
    println!(
        "{} vectors {}",
        o.files.len(),
        if check { "up to date" } else { "written" }
    );
}

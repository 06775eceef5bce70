//! Encrypts a file to a freshly generated ML-KEM-768 key and decrypts it
//! again, streaming with bounded memory: `cargo run --release -p pqfile-core
//! --example demo -- INPUT` writes INPUT.pqf and INPUT.pqf.out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use pqfile_core::{
    Decryptor, Encryptor, HeaderRead, HeaderReader, LocalIdentity, Recipient, mlkem768,
    unwrap_file_key,
};
use std::io::{Read, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let input = std::env::args().nth(1).ok_or("usage: demo INPUT")?;
    let mut rng = rand_chacha::ChaCha20Rng::from_os_rng_seed()?;
    let sk = mlkem768::SecretKey::generate(&mut rng);
    let recipient = Recipient {
        key_id: 1,
        public_key: sk.public_key(),
    };

    let t = std::time::Instant::now();
    let mut r = std::fs::File::open(&input)?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(format!("{input}.pqf"))?);
    let mut e = Encryptor::new(&[recipient], &mut rng)?;
    let (mut buf, mut out, mut total) = (vec![0u8; 1 << 20], Vec::new(), 0u64);
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        e.push(&buf[..n], &mut out)?;
        w.write_all(&out)?;
        out.clear();
    }
    e.finish(&mut out)?;
    w.write_all(&out)?;
    w.flush()?;
    println!(
        "encrypted {total} bytes -> {input}.pqf in {:?}",
        t.elapsed()
    );

    let t = std::time::Instant::now();
    let mut r = std::fs::File::open(format!("{input}.pqf"))?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(format!("{input}.pqf.out"))?);
    // Read exactly the header: the reader says how many bytes it still needs.
    let mut reader = HeaderReader::new();
    let header = loop {
        let mut piece = vec![0u8; reader.needed()];
        r.read_exact(&mut piece)?;
        if let HeaderRead::Complete { header, .. } = reader.push(&piece)? {
            break header;
        }
    };
    let identity = LocalIdentity {
        key_id: 1,
        secret_key: sk,
    };
    let key = unwrap_file_key(&header, &[&identity])?;
    let mut d = Decryptor::new(&header, &key)?;
    out.clear();
    loop {
        w.write_all(&out)?;
        out.clear();
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        d.push(&buf[..n], &mut out)?;
    }
    d.finish(&mut out)?;
    w.write_all(&out)?;
    w.flush()?;
    println!("decrypted -> {input}.pqf.out in {:?}", t.elapsed());
    Ok(())
}

trait FromOsSeed: Sized {
    fn from_os_rng_seed() -> Result<Self, Box<dyn std::error::Error>>;
}

impl FromOsSeed for rand_chacha::ChaCha20Rng {
    fn from_os_rng_seed() -> Result<Self, Box<dyn std::error::Error>> {
        let mut seed = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
        Ok(<Self as rand_core::SeedableRng>::from_seed(seed))
    }
}

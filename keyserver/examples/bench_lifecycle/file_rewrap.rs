//! Part 1: rewrap of a large file's header through the API (and writing the
//! new header in place) against decrypt + re-encrypt with pqfile-core.

use super::*;

pub async fn file_rewrap_vs_reencrypt(s: &Server, mib: usize) {
    let work = tempfile::tempdir_in("/var/tmp").unwrap();
    let doc = s.post(&s.token, "/v1/documents", json!({})).await;
    let document_id = DocumentId::parse(doc["document_id"].as_str().unwrap()).unwrap();
    let key_id = u32::try_from(doc["key"]["key_id"].as_i64().unwrap()).unwrap();
    let pk = PublicKey::from_bytes(
        &STANDARD
            .decode(doc["key"]["public_key"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let path = work.path().join("big.pqf");
    let started = Instant::now();
    {
        let mut enc = Encryptor::with_document_id(
            document_id,
            &[Recipient {
                key_id,
                public_key: pk,
            }],
            &mut rng(),
        )
        .unwrap();
        let mut f =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
        let block: Vec<u8> = (0..1 << 20)
            .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let mut out = Vec::with_capacity(2 << 20);
        for _ in 0..mib {
            out.clear();
            enc.push(&block, &mut out).unwrap();
            f.write_all(&out).unwrap();
        }
        out.clear();
        enc.finish(&mut out).unwrap();
        f.write_all(&out).unwrap();
        f.flush().unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len();
    eprintln!("wrote {size} bytes in {}", secs(started.elapsed()));

    let read_header = || {
        let mut f = std::fs::File::open(&path).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let n = f.read(&mut buf).unwrap();
        let (h, len) = Header::parse(&buf[..n]).unwrap();
        (h, buf[..len].to_vec())
    };

    // Rewrap: read the header, one API call, write the new header in place.
    let mut rewraps = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        let (_, header) = read_header();
        let v = s
            .post(
                &s.token,
                &format!("/v1/documents/{document_id}/rewrap"),
                json!({ "header": STANDARD.encode(&header) }),
            )
            .await;
        let new = STANDARD.decode(v["header"].as_str().unwrap()).unwrap();
        assert_eq!(new.len(), header.len());
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write_all(&new).unwrap();
        f.sync_data().unwrap();
        rewraps.push(t.elapsed());
    }
    rewraps.sort();
    let rewrap_median = rewraps[rewraps.len() / 2];

    // Decrypt + re-encrypt: unwrap the file key, stream the whole file
    // through the decryptor and a new encryptor to a new file.
    let mut full = Vec::new();
    for round in 0..2 {
        let t = Instant::now();
        let (header, hbytes) = read_header();
        let eph = SecretKey::generate(&mut rng());
        let v = s
            .post(
                &s.token,
                &format!("/v1/documents/{document_id}/unwrap"),
                json!({
                    "stanza": STANDARD.encode(header.stanzas[0].to_bytes()),
                    "ephemeral_public_key": STANDARD.encode(eph.public_key().to_bytes()),
                }),
            )
            .await;
        let transport = Stanza::parse_exact(
            &STANDARD
                .decode(v["transport_stanza"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        let file_key: FileKey =
            pqfile_core::stanza::unwrap(&transport, &document_id, &eph).unwrap();
        let new_key = s.post(&s.token, "/v1/documents", json!({})).await;
        let nk = PublicKey::from_bytes(
            &STANDARD
                .decode(new_key["key"]["public_key"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        let nk_id = u32::try_from(new_key["key"]["key_id"].as_i64().unwrap()).unwrap();
        let mut dec = Decryptor::new(&header, &file_key).unwrap();
        let mut enc = Encryptor::with_document_id(
            document_id,
            &[Recipient {
                key_id: nk_id,
                public_key: nk,
            }],
            &mut rng(),
        )
        .unwrap();
        let mut input = std::fs::File::open(&path).unwrap();
        input.seek(SeekFrom::Start(hbytes.len() as u64)).unwrap();
        let out_path = work.path().join(format!("re-{round}.pqf"));
        let mut output =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&out_path).unwrap());
        let mut buf = vec![0u8; 1 << 20];
        let (mut plain, mut cipher) = (Vec::with_capacity(2 << 20), Vec::with_capacity(2 << 20));
        loop {
            let n = input.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            plain.clear();
            dec.push(&buf[..n], &mut plain).unwrap();
            cipher.clear();
            enc.push(&plain, &mut cipher).unwrap();
            output.write_all(&cipher).unwrap();
        }
        plain.clear();
        dec.finish(&mut plain).unwrap();
        cipher.clear();
        enc.push(&plain, &mut cipher).unwrap();
        enc.finish(&mut cipher).unwrap();
        output.write_all(&cipher).unwrap();
        output.flush().unwrap();
        output.get_ref().sync_data().unwrap();
        full.push(t.elapsed());
        std::fs::remove_file(&out_path).unwrap();
    }
    full.sort();
    let full_best = full[0];
    println!("## rewrap vs decrypt+re-encrypt ({mib} MiB plaintext, {size} bytes on disk)");
    println!("| operation | time |");
    println!("|---|---|");
    println!(
        "| rewrap via API + header written in place (median of {}; min {}, max {}) | {} |",
        rewraps.len(),
        secs(rewraps[0]),
        secs(rewraps[rewraps.len() - 1]),
        format_args!("{:.2} ms", rewrap_median.as_secs_f64() * 1e3)
    );
    println!(
        "| decrypt + re-encrypt with pqfile-core, streamed file to file (best of {}; other {}) | {} |",
        full.len(),
        secs(full[full.len() - 1]),
        secs(full_best)
    );
    println!(
        "| ratio | {:.0}x |",
        full_best.as_secs_f64() / rewrap_median.as_secs_f64()
    );
}

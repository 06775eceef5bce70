//! Benchmark helper: registers a document on a running key server, encrypts
//! a small file to it with pqfile-core, checks that an unwrap round-trips,
//! and writes the unwrap request body to a file for the load generator.
//!
//! `cargo run --example unwrap_body -- URL TOKEN OUT.json` prints the document id.
#![allow(missing_docs)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pqfile_core::format::{Header, Stanza};
use pqfile_core::mlkem768::{PublicKey, SecretKey};
use pqfile_core::{DocumentId, Encryptor, Recipient};
use pqfile_keyserver::domain::rng;
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, token, out] = args.as_slice() else {
        return Err("usage: unwrap_body URL TOKEN OUT.json".into());
    };
    // PQFILE_BENCH_CA: the CA of an HTTPS server under test.
    let http = std::env::var_os("PQFILE_BENCH_CA")
        .map(|ca| {
            let pem = std::fs::read(ca).expect("read PQFILE_BENCH_CA");
            reqwest::Certificate::from_pem(&pem).expect("a PEM certificate")
        })
        .into_iter()
        .fold(reqwest::Client::builder(), |b, ca| b.add_root_certificate(ca))
        .build()
        .expect("http client");
    let created: Value = http
        .post(format!("{url}/v1/documents"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let document_id = DocumentId::parse(created["document_id"].as_str().ok_or("document_id")?)?;
    let key_id = u32::try_from(created["key"]["key_id"].as_i64().ok_or("key_id")?)?;
    let public_key = PublicKey::from_bytes(
        &STANDARD.decode(created["key"]["public_key"].as_str().ok_or("public_key")?)?,
    )?;
    let mut enc =
        Encryptor::with_document_id(document_id, &[Recipient { key_id, public_key }], &mut rng())?;
    let mut file = Vec::new();
    enc.push(b"benchmark payload", &mut file)?;
    enc.finish(&mut file)?;
    let (header, len) = Header::parse(&file)?;
    let eph = SecretKey::generate(&mut rng());
    let body = json!({
        "stanza": STANDARD.encode(header.stanzas[0].to_bytes()),
        "ephemeral_public_key": STANDARD.encode(eph.public_key().to_bytes()),
    });
    let resp: Value = http
        .post(format!("{url}/v1/documents/{document_id}/unwrap"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let transport = Stanza::parse_exact(
        &STANDARD.decode(resp["transport_stanza"].as_str().ok_or("transport")?)?,
    )?;
    let fk = pqfile_core::stanza::unwrap(&transport, &document_id, &eph)?;
    let plain = pqfile_core::decrypt_with_key(&header, &file[len..], &fk)?;
    if plain != b"benchmark payload" {
        return Err("round trip mismatch".into());
    }
    std::fs::write(out, serde_json::to_vec(&body)?)?;
    println!("{document_id}");
    Ok(())
}

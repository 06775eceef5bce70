//! `encrypt`, `decrypt` and `inspect`: streaming loops around pqfile-core,
//! plus the HTTP around its key-server unwrap (FORMAT.md §7, §7.1).

use std::path::PathBuf;

use pqfile_core::keyserver_unwrap::{NextStep, next_step};
use pqfile_core::stream::CHUNK_SIZE;
use pqfile_core::{
    Decryptor, DocumentId, Encryptor, FileKey, Header, HeaderRead, HeaderReader, KeyServerUnwrap,
    Recipient, mlkem768,
};

use super::{BUF, rewrap, rng};
use crate::cli::IoArgs;
use crate::client::{self, Client, Unwrapped};
use crate::error::CliError;
use crate::io::{self, Output};

fn default_output(io: &IoArgs, encrypting: bool) -> Option<PathBuf> {
    if io.output.is_some() {
        return io.output.clone();
    }
    let input = io.input.as_ref().filter(|p| p.as_os_str() != "-")?;
    let s = input.to_string_lossy();
    Some(PathBuf::from(if encrypting {
        format!("{s}.pqf")
    } else if let Some(stem) = s.strip_suffix(".pqf") {
        stem.to_string()
    } else {
        format!("{s}.decrypted")
    }))
}

pub(super) fn encrypt(client: &Client, args: IoArgs) -> Result<(), CliError> {
    let mut input = io::open_input(args.input.as_deref())?;
    let mut out = Output::create(default_output(&args, true), args.force)?;
    let doc = client.create_document()?;
    let document_id = DocumentId::parse(&doc.document_id)
        .map_err(|_| CliError::BadResponse("invalid document id".into()))?;
    let public_key = mlkem768::PublicKey::from_bytes(&client::decode_b64(&doc.key.public_key)?)
        .map_err(|e| CliError::BadResponse(e.to_string()))?;
    let recipient = Recipient {
        key_id: doc.key.key_id,
        public_key,
    };
    let mut enc = Encryptor::with_document_id(document_id, &[recipient], &mut rng())?;
    let pb = io::progress(input.len, args.quiet, "encrypting");
    let mut sealed = pump(
        &mut input,
        &mut out,
        &pb,
        BUF + BUF / 100 + 2048,
        |data, sealed| Ok(enc.push(data, sealed)?),
    )?;
    enc.finish(&mut sealed)?;
    out.write_all(&sealed)?;
    pb.finish_and_clear();
    if let Some(p) = out.commit()? {
        eprintln!(
            "encrypted to {} (document {}, key {})",
            p.display(),
            doc.document_id,
            doc.key.key_id
        );
    }
    Ok(())
}

/// The streaming loop of `encrypt` and `decrypt`: reads the input in
/// blocks, pushes each through the state machine, writes what comes out.
/// Returns the (empty) output buffer for the final `finish`. On failure
/// `out` is dropped: a temporary file is deleted, never renamed.
fn pump(
    input: &mut io::Input,
    out: &mut Output,
    pb: &indicatif::ProgressBar,
    out_capacity: usize,
    mut push: impl FnMut(&[u8], &mut Vec<u8>) -> Result<(), CliError>,
) -> Result<Vec<u8>, CliError> {
    let mut buf = vec![0u8; BUF];
    let mut produced = Vec::with_capacity(out_capacity);
    loop {
        let n = io::read_some(&mut input.reader, &mut buf)?;
        if n == 0 {
            return Ok(produced);
        }
        push(&buf[..n], &mut produced)?;
        out.write_all(&produced)?;
        produced.clear();
        pb.inc(n as u64);
    }
}

/// Reads exactly the header: the core's reader says how many bytes it still
/// needs, so nothing past the header is read.
pub(super) fn read_header(r: &mut dyn std::io::Read) -> Result<Header, CliError> {
    let mut reader = HeaderReader::new();
    loop {
        let mut piece = vec![0u8; reader.needed()];
        let n = io::read_some(r, &mut piece)?;
        if n == 0 {
            return Err(reader.truncated().into());
        }
        if let HeaderRead::Complete { header, .. } = reader.push(&piece[..n])? {
            return Ok(header);
        }
    }
}

/// Gets the file key from the key server: one request per candidate stanza,
/// as long as the core's retry policy says the refusal was about that
/// stanza (FORMAT.md §7.1); otherwise that refusal is the error. Also
/// returns the server's answer, which says whether the key is being retired.
fn unwrap_with_key_server(
    client: &Client,
    header: Header,
) -> Result<(Header, FileKey, Unwrapped), CliError> {
    let mut unwrap = KeyServerUnwrap::new(header)?;
    let document_id = unwrap.document_id().to_string();
    let mut refusal = None;
    while let Some(request) = unwrap.next_request(&mut rng()) {
        match client.unwrap(
            &document_id,
            request.stanza(),
            request.ephemeral_public_key(),
        ) {
            Ok(answer) => {
                let file_key = unwrap.open_response(&request, &answer.transport)?;
                return Ok((unwrap.into_header(), file_key, answer));
            }
            Err(e) => {
                let step = match &e {
                    CliError::Api(api) => next_step(api.status, &api.code),
                    _ => NextStep::Stop,
                };
                if step == NextStep::Stop {
                    return Err(e);
                }
                refusal = Some(e);
            }
        }
    }
    // KeyServerUnwrap::new checked there is at least one candidate.
    Err(refusal.unwrap_or(CliError::Decrypt(
        pqfile_core::DecryptError::NoMatchingStanza,
    )))
}

pub(super) fn decrypt(client: &Client, args: IoArgs, no_rewrap: bool) -> Result<(), CliError> {
    let mut input = io::open_input(args.input.as_deref())?;
    let header = read_header(&mut input.reader)?;
    let (header, file_key, key) = unwrap_with_key_server(client, header)?;
    let mut dec = Decryptor::new(&header, &file_key)?;
    let mut out = Output::create(default_output(&args, false), args.force)?;
    let pb = io::progress(input.len, args.quiet, "decrypting");
    let mut plain = pump(
        &mut input,
        &mut out,
        &pb,
        BUF + CHUNK_SIZE,
        |data, plain| Ok(dec.push(data, plain)?),
    )?;
    dec.finish(&mut plain)?;
    out.write_all(&plain)?;
    pb.finish_and_clear();
    if let Some(p) = out.commit()? {
        eprintln!("decrypted to {}", p.display());
    }
    // Only now: the whole file authenticated, so it is worth keeping.
    rewrap::after_decrypt(
        client,
        args.input.as_deref(),
        &header.to_bytes(),
        &key,
        no_rewrap,
    );
    Ok(())
}

pub(super) fn inspect(input: Option<PathBuf>, json: bool) -> Result<(), CliError> {
    let mut input = io::open_input(input.as_deref())?;
    let h = read_header(&mut input.reader)?;
    let stanzas: Vec<_> = h
        .stanzas
        .iter()
        .map(|s| serde_json::json!({ "kem": s.kem.name(), "kem_id": s.kem.0, "key_id": s.key_id, "body_len": s.body.len() }))
        .collect();
    if json {
        let v = serde_json::json!({ "version": 1, "document_id": h.document_id.to_string(), "header_len": h.encoded_len(), "stanzas": stanzas });
        println!("{v}");
    } else {
        println!("pqfile format v1");
        println!("document id: {}", h.document_id);
        println!("header: {} bytes", h.encoded_len());
        for s in &h.stanzas {
            println!("recipient: {} key {}", s.kem.name(), s.key_id);
        }
    }
    Ok(())
}

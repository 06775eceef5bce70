//! The subcommands: thin loops around pqfile-core's streaming state machines.

use std::path::PathBuf;

use pqfile_core::{
    Decryptor, DocumentId, Encryptor, Header, KemId, ParseError, Recipient, mlkem768,
    stanza::{self, TRANSPORT_KEY_ID},
};
use rand_core::UnwrapErr;

use crate::cli::{Cli, Command, IoArgs};
use crate::client::{self, Client};
use crate::error::CliError;
use crate::io::{self, Output};

const BUF: usize = 1 << 20;

fn rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Encrypt { server, io } => encrypt(&Client::new(&server)?, io),
        Command::Decrypt { server, io } => decrypt(&Client::new(&server)?, io),
        Command::Inspect { input, json } => inspect(input, json),
    }
}

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

fn encrypt(client: &Client, args: IoArgs) -> Result<(), CliError> {
    let mut input = io::open_input(args.input.as_deref())?;
    let mut out = Output::create(default_output(&args, true), args.force)?;
    let doc = client.create_document()?;
    let document_id = DocumentId::parse(&doc.document_id)
        .map_err(|_| CliError::BadResponse("invalid document id".into()))?;
    let public_key = mlkem768::PublicKey::from_bytes(&client::decode_b64(&doc.key.public_key)?)
        .map_err(|e| CliError::BadResponse(e.to_string()))?;
    let recipient = Recipient { key_id: doc.key.key_id, public_key };
    let mut enc = Encryptor::with_document_id(document_id, &[recipient], &mut rng())?;
    let pb = io::progress(input.len, args.quiet, "encrypting");
    let mut buf = vec![0u8; BUF];
    let mut sealed = Vec::with_capacity(BUF + BUF / 100 + 2048);
    loop {
        let n = io::read_some(&mut input.reader, &mut buf)?;
        if n == 0 {
            break;
        }
        enc.push(&buf[..n], &mut sealed)?;
        out.write_all(&sealed)?;
        sealed.clear();
        pb.inc(n as u64);
    }
    enc.finish(&mut sealed)?;
    out.write_all(&sealed)?;
    pb.finish_and_clear();
    if let Some(p) = out.commit()? {
        eprintln!("encrypted to {} (document {}, key {})", p.display(), doc.document_id, doc.key.key_id);
    }
    Ok(())
}

/// Reads exactly the header, asking the parser how much more it needs.
fn read_header(r: &mut dyn std::io::Read) -> Result<(Header, Vec<u8>), CliError> {
    let mut head = Vec::new();
    loop {
        match Header::parse(&head) {
            Ok((h, used)) => {
                let rest = head.split_off(used);
                return Ok((h, rest));
            }
            Err(ParseError::Incomplete { needed }) => {
                let start = head.len();
                head.resize(start + needed, 0);
                let mut filled = start;
                while filled < head.len() {
                    let n = io::read_some(r, &mut head[filled..])?;
                    if n == 0 {
                        return Err(CliError::Parse(ParseError::Incomplete { needed: head.len() - filled }));
                    }
                    filled += n;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn decrypt(client: &Client, args: IoArgs) -> Result<(), CliError> {
    let mut input = io::open_input(args.input.as_deref())?;
    let (header, rest) = read_header(&mut input.reader)?;
    let document_id = header.document_id.to_string();
    let candidates: Vec<_> = header.stanzas.iter().filter(|s| s.kem == KemId::ML_KEM_768).collect();
    if candidates.is_empty() {
        return Err(CliError::Decrypt(pqfile_core::DecryptError::UnsupportedKem));
    }
    // Ask the key server for each ML-KEM stanza until one is unwrapped; the
    // file key comes back sealed to a fresh ephemeral key (FORMAT.md §7).
    let mut last_err = None;
    let mut file_key = None;
    for s in candidates {
        let eph = mlkem768::SecretKey::generate(&mut rng());
        match client.unwrap(&document_id, &s.to_bytes(), &eph.public_key().to_bytes()) {
            Ok(bytes) => {
                let transport = pqfile_core::Stanza::parse_exact(&bytes)
                    .map_err(|_| CliError::BadResponse("malformed transport stanza".into()))?;
                if transport.key_id != TRANSPORT_KEY_ID {
                    return Err(CliError::BadResponse("transport stanza has a non-zero key id".into()));
                }
                let key = stanza::unwrap(&transport, &header.document_id, &eph).map_err(pqfile_core::DecryptError::from)?;
                file_key = Some(key);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let Some(file_key) = file_key else {
        return Err(last_err.unwrap_or(CliError::Decrypt(pqfile_core::DecryptError::NoMatchingStanza)));
    };
    let mut dec = Decryptor::new(&header, &file_key)?;
    let mut out = Output::create(default_output(&args, false), args.force)?;
    let pb = io::progress(input.len, args.quiet, "decrypting");
    let mut plain = Vec::with_capacity(BUF + 16384);
    dec.push(&rest, &mut plain)?;
    let mut buf = vec![0u8; BUF];
    loop {
        out.write_all(&plain)?;
        plain.clear();
        let n = io::read_some(&mut input.reader, &mut buf)?;
        if n == 0 {
            break;
        }
        // On failure `out` is dropped: a temporary file is deleted, never renamed.
        dec.push(&buf[..n], &mut plain)?;
        pb.inc(n as u64);
    }
    dec.finish(&mut plain)?;
    out.write_all(&plain)?;
    pb.finish_and_clear();
    if let Some(p) = out.commit()? {
        eprintln!("decrypted to {}", p.display());
    }
    Ok(())
}

fn inspect(input: Option<PathBuf>, json: bool) -> Result<(), CliError> {
    let mut input = io::open_input(input.as_deref())?;
    let (h, _) = read_header(&mut input.reader)?;
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

//! The subcommands: thin loops around pqfile-core's streaming state machines.

use std::path::PathBuf;

use pqfile_core::{
    Decryptor, DocumentId, Encryptor, Header, KemId, ParseError, Recipient, mlkem768,
    stanza::{self, TRANSPORT_KEY_ID},
};
use rand_core::UnwrapErr;

use crate::cli::{AdminCommand, Cli, Command, IoArgs};
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
        Command::Rewrap { server, file } => rewrap(&Client::new(&server)?, &file),
        // Without --with or --revoke, `share` lists (what --list asks for).
        Command::Share {
            server,
            document,
            with,
            revoke,
            list: _,
        } => share(&Client::new(&server)?, &document, with, revoke),
        Command::Documents { server, all } => {
            print_json(&Client::new(&server)?.get(if all {
                "/v1/documents?all=true"
            } else {
                "/v1/documents"
            })?);
            Ok(())
        }
        Command::History { server, document } => {
            let id = resolve_document(&document)?;
            print_json(&Client::new(&server)?.get(&format!("/v1/documents/{id}/access"))?);
            Ok(())
        }
        Command::Upload { server, file } => upload(&Client::new(&server)?, &file),
        Command::Download {
            server,
            document_id,
            output,
            force,
        } => download(&Client::new(&server)?, &document_id, output, force),
        Command::Admin { server, command } => admin(&Client::new(&server)?, command),
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
    let recipient = Recipient {
        key_id: doc.key.key_id,
        public_key,
    };
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
        eprintln!(
            "encrypted to {} (document {}, key {})",
            p.display(),
            doc.document_id,
            doc.key.key_id
        );
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
                        return Err(CliError::Parse(ParseError::Incomplete {
                            needed: head.len() - filled,
                        }));
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
    let candidates: Vec<_> = header
        .stanzas
        .iter()
        .filter(|s| s.kem == KemId::ML_KEM_768)
        .collect();
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
                    return Err(CliError::BadResponse(
                        "transport stanza has a non-zero key id".into(),
                    ));
                }
                let key = stanza::unwrap(&transport, &header.document_id, &eph)
                    .map_err(pqfile_core::DecryptError::from)?;
                file_key = Some(key);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let Some(file_key) = file_key else {
        return Err(last_err.unwrap_or(CliError::Decrypt(
            pqfile_core::DecryptError::NoMatchingStanza,
        )));
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

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// A document id, or the id in the header of the named .pqf file.
fn resolve_document(arg: &str) -> Result<String, CliError> {
    if let Ok(id) = DocumentId::parse(arg) {
        return Ok(id.to_string());
    }
    let mut input = io::open_input(Some(std::path::Path::new(arg)))?;
    let (h, _) = read_header(&mut input.reader)?;
    Ok(h.document_id.to_string())
}

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> CliError {
    move |source| CliError::Io { what, source }
}

/// Replaces the file's header with one the key server rewrapped to a current
/// key. ML-KEM-768 stanzas have a fixed size, so the new header normally has
/// the old one's length and is written in place: O(header), not O(file).
fn rewrap(client: &Client, path: &std::path::Path) -> Result<(), CliError> {
    use std::io::{Seek, SeekFrom, Write};
    let mut input = io::open_input(Some(path))?;
    let (header, _) = read_header(&mut input.reader)?;
    drop(input);
    let old = header.to_bytes();
    let new = client.rewrap(&header.document_id.to_string(), &old)?;
    let (parsed, used) =
        Header::parse(&new).map_err(|e| CliError::BadResponse(format!("rewrapped header: {e}")))?;
    if used != new.len() || parsed.document_id != header.document_id {
        return Err(CliError::BadResponse(
            "the rewrapped header does not belong to this document".into(),
        ));
    }
    let recipients: Vec<String> = parsed
        .stanzas
        .iter()
        .map(|s| format!("{} key {}", s.kem.name(), s.key_id))
        .collect();
    if new.len() == old.len() {
        // Keep the old header beside the file until the new one is durable.
        let backup = path.with_extension("pqf-header-backup");
        std::fs::write(&backup, &old).map_err(io_err(format!("writing {}", backup.display())))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err(format!("opening {}", path.display())))?;
        f.seek(SeekFrom::Start(0))
            .map_err(io_err("seeking".into()))?;
        f.write_all(&new)
            .map_err(io_err(format!("writing {}", path.display())))?;
        f.sync_all()
            .map_err(io_err(format!("flushing {}", path.display())))?;
        let _ = std::fs::remove_file(&backup);
        eprintln!(
            "rewrapped {} in place ({} header bytes rewritten); recipients: {}",
            path.display(),
            new.len(),
            recipients.join(", ")
        );
    } else {
        // A different header size: rewrite the file through a temporary copy.
        let mut src =
            std::fs::File::open(path).map_err(io_err(format!("opening {}", path.display())))?;
        src.seek(SeekFrom::Start(old.len() as u64))
            .map_err(io_err("seeking".into()))?;
        let mut out = Output::create(Some(path.to_path_buf()), true)?;
        out.write_all(&new)?;
        let mut buf = vec![0u8; BUF];
        loop {
            let n = io::read_some(&mut src, &mut buf)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
        }
        out.commit()?;
        eprintln!(
            "rewrapped {} (header size changed, file rewritten); recipients: {}",
            path.display(),
            recipients.join(", ")
        );
    }
    Ok(())
}

fn share(
    client: &Client,
    document: &str,
    with: Option<String>,
    revoke: Option<String>,
) -> Result<(), CliError> {
    let id = resolve_document(document)?;
    match (with, revoke) {
        (Some(user), _) => {
            client.post(
                &format!("/v1/documents/{id}/grants"),
                serde_json::json!({ "user": user }),
            )?;
            eprintln!("{user} may now decrypt document {id}");
        }
        (None, Some(user)) => {
            client.delete(&format!("/v1/documents/{id}/grants/{user}"))?;
            eprintln!("{user} may no longer decrypt document {id}");
        }
        (None, None) => {
            print_json(&client.get(&format!("/v1/documents/{id}/grants"))?);
        }
    }
    Ok(())
}

fn upload(client: &Client, path: &std::path::Path) -> Result<(), CliError> {
    let mut input = io::open_input(Some(path))?;
    let (header, _) = read_header(&mut input.reader)?;
    drop(input);
    let f = std::fs::File::open(path).map_err(io_err(format!("opening {}", path.display())))?;
    let len = f
        .metadata()
        .map_err(io_err(format!("reading {}", path.display())))?
        .len();
    let id = header.document_id.to_string();
    client.put_stream(&format!("/v1/documents/{id}/content"), f, len)?;
    eprintln!("uploaded {} ({len} bytes) as document {id}", path.display());
    Ok(())
}

fn download(
    client: &Client,
    document_id: &str,
    output: Option<PathBuf>,
    force: bool,
) -> Result<(), CliError> {
    let id = DocumentId::parse(document_id)?.to_string();
    let dest = output.unwrap_or_else(|| PathBuf::from(format!("{id}.pqf")));
    let mut out = Output::create(Some(dest), force)?;
    let (_len, mut body) = client.get_stream(&format!("/v1/documents/{id}/content"))?;
    let mut buf = vec![0u8; BUF];
    loop {
        let n = io::read_some(&mut body, &mut buf)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
    }
    if let Some(p) = out.commit()? {
        eprintln!("downloaded document {id} to {}", p.display());
    }
    Ok(())
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", urlencode(v))))
        .collect();
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn admin(client: &Client, command: AdminCommand) -> Result<(), CliError> {
    let v = match command {
        AdminCommand::Stats => client.get("/v1/admin/stats")?,
        AdminCommand::Keys { status } => {
            client.get(&format!("/v1/admin/keys{}", query(&[("status", status)])))?
        }
        AdminCommand::Revoke { key_id } => client.post(
            &format!("/v1/admin/keys/{key_id}/revoke"),
            serde_json::json!({}),
        )?,
        AdminCommand::Rotate => client.post("/v1/admin/rotation", serde_json::json!({}))?,
        AdminCommand::Rotations { status } => client.get(&format!(
            "/v1/admin/rotations{}",
            query(&[("status", status)])
        ))?,
        AdminCommand::Maintenance => client.post("/v1/admin/maintenance", serde_json::json!({}))?,
        AdminCommand::Retention { older_than_days } => client.post(
            "/v1/admin/access-logs/retention",
            serde_json::json!({ "older_than_days": older_than_days }),
        )?,
        // The same route: the server lets admins rescue documents of revoked keys.
        AdminCommand::Rewrap { file } => return rewrap(client, &file),
        AdminCommand::Logs {
            document,
            user,
            access_type,
            since,
            until,
            page,
            per_page,
        } => client.get(&format!(
            "/v1/admin/access-logs{}",
            query(&[
                ("document_id", document),
                ("user", user),
                ("access_type", access_type),
                ("since", since),
                ("until", until),
                ("page", Some(page.to_string())),
                ("per_page", Some(per_page.to_string())),
            ])
        ))?,
    };
    print_json(&v);
    Ok(())
}

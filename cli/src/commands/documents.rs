//! The key server's document routes: `rewrap`, `share`, `upload`,
//! `download`, and finding a document id from a .pqf file.

use std::path::PathBuf;

use pqfile_core::{DocumentId, Header};

use super::{BUF, crypt::read_header, print_json};
use crate::client::Client;
use crate::error::CliError;
use crate::io::{self, Output};

/// A document id, or the id in the header of the named .pqf file.
pub(super) fn resolve_document(arg: &str) -> Result<String, CliError> {
    if let Ok(id) = DocumentId::parse(arg) {
        return Ok(id.to_string());
    }
    let mut input = io::open_input(Some(std::path::Path::new(arg)))?;
    let h = read_header(&mut input.reader)?;
    Ok(h.document_id.to_string())
}

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> CliError {
    move |source| CliError::Io { what, source }
}

/// Replaces the file's header with one the key server rewrapped to a current
/// key. ML-KEM-768 stanzas have a fixed size, so the new header normally has
/// the old one's length and is written in place: O(header), not O(file).
pub(super) fn rewrap(client: &Client, path: &std::path::Path) -> Result<(), CliError> {
    use std::io::{Seek, SeekFrom, Write};
    let mut input = io::open_input(Some(path))?;
    let header = read_header(&mut input.reader)?;
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
        copy(&mut src, &mut out)?;
        out.commit()?;
        eprintln!(
            "rewrapped {} (header size changed, file rewritten); recipients: {}",
            path.display(),
            recipients.join(", ")
        );
    }
    Ok(())
}

pub(super) fn share(
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

pub(super) fn upload(client: &Client, path: &std::path::Path) -> Result<(), CliError> {
    let mut input = io::open_input(Some(path))?;
    let header = read_header(&mut input.reader)?;
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

pub(super) fn download(
    client: &Client,
    document_id: &str,
    output: Option<PathBuf>,
    force: bool,
) -> Result<(), CliError> {
    let id = DocumentId::parse(document_id)?.to_string();
    let dest = output.unwrap_or_else(|| PathBuf::from(format!("{id}.pqf")));
    let mut out = Output::create(Some(dest), force)?;
    let (_len, mut body) = client.get_stream(&format!("/v1/documents/{id}/content"))?;
    copy(&mut body, &mut out)?;
    if let Some(p) = out.commit()? {
        eprintln!("downloaded document {id} to {}", p.display());
    }
    Ok(())
}

/// Copies the rest of `src` to `out`.
fn copy(src: &mut dyn std::io::Read, out: &mut Output) -> Result<(), CliError> {
    let mut buf = vec![0u8; BUF];
    loop {
        let n = io::read_some(src, &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n])?;
    }
}

//! The key server's document routes: `share`, `upload`, `download`, and
//! finding a document id from a .pqf file (`rewrap` is in rewrap.rs).

use std::path::PathBuf;

use pqfile_core::DocumentId;

use super::{crypt::read_header, print_json};
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
    io::copy(&mut body, &mut out)?;
    if let Some(p) = out.commit()? {
        eprintln!("downloaded document {id} to {}", p.display());
    }
    Ok(())
}

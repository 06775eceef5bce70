//! Moving a file to a current key: the key server rewraps its header (one
//! stanza replaced by one for a current key, MAC recomputed) and the file is
//! replaced by a copy with the new header and the same payload bytes.
//!
//! The copy is written beside the file, flushed to disk, given the file's
//! permissions and only then renamed over it: at every instant the name
//! holds either the whole old file or the whole new one, so a crash, a full
//! disk or a refusal never loses or corrupts the user's copy. (Rewriting the
//! header in place would be O(header) instead of O(file), but a crash in the
//! middle of that write leaves a file that decrypts for no one.)

use std::fs::{File, Metadata};
use std::io::{Seek, SeekFrom};
use std::path::Path;

use pqfile_core::Header;

use super::crypt::read_header;
use crate::client::{Client, Unwrapped};
use crate::error::CliError;
use crate::io::{self, Output};

/// What a rewrap did.
struct Rewrapped {
    /// The key the file now uses.
    key_id: u32,
    /// The key whose stanza was replaced, when the server says.
    replaced_key_id: Option<u32>,
    /// "ML-KEM-768 key N" for each stanza of the new header.
    recipients: Vec<String>,
}

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> CliError {
    move |source| CliError::Io { what, source }
}

/// `pqfile rewrap FILE` and `pqfile admin rewrap FILE` (the same route: the
/// server decides who may rewrap what).
pub(super) fn rewrap(client: &Client, path: &Path) -> Result<(), CliError> {
    let done = rewrap_file(client, path, None)?;
    let replaced = done
        .replaced_key_id
        .map(|k| format!(" (replacing key {k})"))
        .unwrap_or_default();
    eprintln!(
        "rewrapped {} to key {}{replaced}; recipients: {}",
        path.display(),
        done.key_id,
        done.recipients.join(", ")
    );
    Ok(())
}

/// After a decryption: if the key that opened the file is being retired,
/// moves the input file to a current key (unless `--no-rewrap`, or the input
/// was standard input) and says what happened. Never fails the decryption:
/// a refused or failed rewrap is a warning and the file stays as it was.
pub(super) fn after_decrypt(
    client: &Client,
    input: Option<&Path>,
    header: &[u8],
    key: &Unwrapped,
    no_rewrap: bool,
) {
    if !key.key_retiring() {
        return;
    }
    let until = key
        .key_expires_at
        .as_deref()
        .map(|t| format!(" (it stops decrypting at {t})"))
        .unwrap_or_default();
    let Some(path) = input.filter(|p| *p != Path::new("-")) else {
        eprintln!(
            "note: the key of this file is being retired{until}; it came from standard input, so it was not rewritten: move your copy to a current key with `pqfile rewrap FILE`"
        );
        return;
    };
    let file = path.display();
    if no_rewrap {
        eprintln!(
            "note: the key of {file} is being retired{until}; --no-rewrap left it as it is: move it to a current key with `pqfile rewrap {file}`"
        );
        return;
    }
    match rewrap_file(client, path, Some(header)) {
        Ok(done) => eprintln!(
            "the key of {file} is being retired; its header was rewrapped to key {}",
            done.key_id
        ),
        Err(e) => e.report_warning(&format!(
            "the key of {file} is being retired{until}, but its header was not rewrapped and the file was kept as it is"
        )),
    }
}

/// Rewraps `path` in the way the module comment describes. With `expected`,
/// the file's header must still be those bytes (the ones just decrypted).
fn rewrap_file(
    client: &Client,
    path: &Path,
    expected: Option<&[u8]>,
) -> Result<Rewrapped, CliError> {
    let changed = || CliError::FileChanged(path.display().to_string());
    let mut src = File::open(path).map_err(io_err(format!("opening {}", path.display())))?;
    let before = src
        .metadata()
        .map_err(io_err(format!("reading {}", path.display())))?;
    let header = read_header(&mut src)?;
    let old = header.to_bytes();
    if expected.is_some_and(|e| e != old.as_slice()) {
        return Err(changed());
    }
    let answer = client.rewrap(&header.document_id.to_string(), &old)?;
    let (parsed, used) = Header::parse(&answer.header)
        .map_err(|e| CliError::BadResponse(format!("rewrapped header: {e}")))?;
    if used != answer.header.len() || parsed.document_id != header.document_id {
        return Err(CliError::BadResponse(
            "the rewrapped header does not belong to this document".into(),
        ));
    }
    // The key the server names, else the one stanza key the old header lacked.
    let key_id = answer
        .key_id
        .or_else(|| {
            parsed
                .stanzas
                .iter()
                .map(|s| s.key_id)
                .find(|k| header.stanzas.iter().all(|o| o.key_id != *k))
        })
        .ok_or_else(|| CliError::BadResponse("the rewrapped header has no new key".into()))?;

    let mut out = Output::create(Some(path.to_path_buf()), true)?;
    out.write_all(&answer.header)?;
    src.seek(SeekFrom::Start(old.len() as u64))
        .map_err(io_err(format!("reading {}", path.display())))?;
    let payload = io::copy(&mut src, &mut out)?;
    // Replace only the file that was read, whole: not one that was written
    // to, or put in its place, meanwhile (dropping `out` deletes the copy).
    let now = std::fs::metadata(path).map_err(io_err(format!("reading {}", path.display())))?;
    if old.len() as u64 + payload != before.len() || !same_file(&before, &now) {
        return Err(changed());
    }
    out.set_permissions(before.permissions())?;
    out.commit()?;
    Ok(Rewrapped {
        key_id,
        replaced_key_id: answer.replaced_key_id,
        recipients: parsed
            .stanzas
            .iter()
            .map(|s| format!("{} key {}", s.kem.name(), s.key_id))
            .collect(),
    })
}

/// The same file, unmodified: identity (on Unix), size and modification time.
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (a.dev(), a.ino()) != (b.dev(), b.ino()) {
            return false;
        }
    }
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

//! Stored ciphertexts (`PUT`/`GET /v1/documents/{id}/content`): one file per
//! document in the content folder, written through a temporary file and a
//! rename so a reader never sees half an upload. The server only ever looks
//! at the header; the payload is opaque to it.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Where document `doc` (32 hex digits) is stored.
pub fn path_for(dir: &Path, doc: &str) -> PathBuf {
    dir.join(format!("{doc}.pqf"))
}

/// A fresh temporary path in `dir` for an upload of `doc`.
pub fn temp_path_for(dir: &Path, doc: &str) -> PathBuf {
    let nonce = crate::domain::DocumentId::generate(&mut crate::domain::rng());
    dir.join(format!(".{doc}.{nonce}.upload"))
}

/// Overwrites the stored header of `doc` with `new` when the stored file
/// starts with exactly `old` and both have the same length (rewrap of one
/// ML-KEM-768 stanza keeps the length). Returns whether it did.
pub async fn replace_header(
    dir: &Path,
    doc: &str,
    old: &[u8],
    new: &[u8],
) -> std::io::Result<bool> {
    if old.len() != new.len() {
        tracing::warn!(
            doc,
            "stored content keeps its old header: the new one has another length"
        );
        return Ok(false);
    }
    let mut f = match tokio::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path_for(dir, doc))
        .await
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut current = vec![0u8; old.len()];
    if f.read_exact(&mut current).await.is_err() || current != old {
        tracing::warn!(
            doc,
            "stored content keeps its header: it is not the header that was rewrapped"
        );
        return Ok(false);
    }
    f.seek(SeekFrom::Start(0)).await?;
    f.write_all(new).await?;
    f.sync_data().await?;
    Ok(true)
}

/// The header of `doc`'s stored ciphertext (its exact bytes and parsed),
/// read with the core's header reader; `None` when nothing is stored or the
/// stored file does not start with a valid header.
pub async fn read_header(
    dir: &Path,
    doc: &str,
) -> std::io::Result<Option<(Vec<u8>, pqfile_core::format::Header)>> {
    use pqfile_core::{HeaderRead, HeaderReader};
    let mut f = match tokio::fs::File::open(path_for(dir, doc)).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut reader = HeaderReader::new();
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        match reader.push(&buf[..n]) {
            Ok(HeaderRead::NeedMore(_)) => bytes.extend_from_slice(&buf[..n]),
            Ok(HeaderRead::Complete { header, len, .. }) => {
                bytes.extend_from_slice(&buf[..n]);
                bytes.truncate(len);
                return Ok(Some((bytes, header)));
            }
            Err(_) => return Ok(None),
        }
    }
}

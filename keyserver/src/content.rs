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

//! Moving a document's header to a current key, shared by the rewrap route
//! and by maintenance's rewrap of stored ciphertexts: which stanza of the
//! header to open ([`choose_stanza`]) and the new header ([`reseal`]); and
//! maintenance's pass over stored ciphertexts ([`stored_ciphertexts`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pqfile_core::format::{Header, KemId, Stanza};
use pqfile_core::mlkem768::PublicKey;
use pqfile_core::stanza::{self, FileKey};

use crate::content;
use crate::domain::{DocumentId, KeyId, rng};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::store::documents::{self, DocumentKey, KeyUse};
use crate::store::{access_logs, keys, rotations};

/// Which stanza of a header a rewrap opens.
pub enum Choice<'a> {
    /// The stanza for this key of the history.
    Open(&'a DocumentKey, &'a Stanza),
    /// The header has no stanza for any key of the document's history.
    NoStanza,
    /// It has, but only for keys the caller may not use (the most recent
    /// one and why).
    Refused(KeyId, ErrorCode),
}

/// The header's stanza for the most recently added key of `history` that
/// still unwraps; an admin (rescue) may also open one for a revoked or
/// expired key.
pub fn choose_stanza<'a>(
    header: &'a Header,
    history: &'a [DocumentKey],
    admin: bool,
) -> Choice<'a> {
    let mut refused = None;
    for key in history {
        let Some(stanza) = header
            .stanzas
            .iter()
            .find(|s| s.kem == KemId::ML_KEM_768 && s.key_id == key.id.as_u32())
        else {
            continue;
        };
        match key.usability().refusal() {
            None => return Choice::Open(key, stanza),
            Some(code) if refused.is_none() => refused = Some((key, stanza, code)),
            Some(_) => {}
        }
    }
    match refused {
        Some((key, stanza, _)) if admin => Choice::Open(key, stanza),
        Some((key, _, code)) => Choice::Refused(key.id, code),
        None => Choice::NoStanza,
    }
}

/// Opens `stanza` of `header` with `key` and checks the header MAC with the
/// file key: the header MAC proves the header is the one sealed with this
/// file key, so a header with other stanzas added or changed is refused
/// (FORMAT.md M1). `Ok(None)`: it does not open or does not verify.
pub async fn open_header(
    state: &AppState,
    key: &DocumentKey,
    stanza: &Stanza,
    header: &Header,
) -> Result<Option<FileKey>, ApiError> {
    let file_key = state.open_stanza(key, stanza, &header.document_id).await?;
    Ok(file_key.filter(|k| pqfile_core::header::verify_mac(header, k)))
}

/// The key ids of `header`'s ML-KEM-768 stanzas: a rewrap seals to a key
/// none of them is for (S6: one stanza per key).
pub fn key_ids(header: &Header) -> Vec<i32> {
    header
        .stanzas
        .iter()
        .filter(|s| s.kem == KemId::ML_KEM_768)
        .filter_map(|s| i32::try_from(s.key_id).ok())
        .collect()
}

/// `header` with its stanza for `old` replaced by a stanza sealing
/// `file_key` to key `new` (public key `public_b64`), MAC recomputed.
pub fn reseal(
    header: &Header,
    document_id: &DocumentId,
    old: KeyId,
    new: KeyId,
    public_b64: &str,
    file_key: &FileKey,
) -> Result<Header, ApiError> {
    let public = STANDARD
        .decode(public_b64)
        .ok()
        .and_then(|b| PublicKey::from_bytes(&b).ok())
        .ok_or_else(|| ApiError::internal(format!("stored public key {new} is invalid")))?;
    let new_stanza = stanza::wrap(file_key, document_id, new.as_u32(), &public, &mut rng());
    // `new` has no stanza in the header yet (the caller chose it that way).
    pqfile_core::header::replace_stanza(
        header,
        Some((KemId::ML_KEM_768, old.as_u32())),
        new_stanza,
        file_key,
    )
    .map_err(ApiError::internal)
}

/// What one pass of [`stored_ciphertexts`] did.
#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct StoredRewraps {
    /// Stored ciphertexts moved off a key under rotation.
    pub rewrapped: u32,
    /// Left for the next run (why is logged and counted in
    /// `pqfile_stored_rewraps_total`).
    pub left: u32,
}

/// At most this many stored ciphertexts per maintenance run.
const STORED_BATCH: i64 = 500;

/// Rewraps every stored ciphertext whose document still depends on a key
/// under rotation (`rotation_queued`, before its `expires_at`) to a current
/// key, as a client's rewrap would: header only, in place, the key added to
/// the document's history, audited as `rewrap` by the server (no user).
pub async fn stored_ciphertexts(state: &AppState) -> Result<StoredRewraps, ApiError> {
    let client = state.db.get().await?;
    let docs: Vec<String> = client
        .query(
            "SELECT d.id FROM documents d JOIN encryption_keys k ON k.id = d.key_id
             WHERE d.content_size IS NOT NULL AND k.status = 'rotation_queued'
               AND (k.expires_at IS NULL OR k.expires_at > CURRENT_TIMESTAMP)
             ORDER BY d.id LIMIT $1",
            &[&STORED_BATCH],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    drop(client);
    let mut done = StoredRewraps::default();
    for doc in docs {
        let outcome = match rewrap_stored(state, &doc).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!(doc, error = %e, "stored ciphertext not rewrapped");
                "error"
            }
        };
        state
            .metrics
            .stored_rewraps
            .with_label_values(&[outcome])
            .inc();
        if outcome == "ok" {
            done.rewrapped += 1;
        } else {
            done.left += 1;
        }
    }
    Ok(done)
}

/// One stored ciphertext; returns the outcome label.
async fn rewrap_stored(state: &AppState, doc: &str) -> Result<&'static str, ApiError> {
    let dir = state.settings.content_dir();
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let Some(locked) = documents::lock(&tx, doc).await? else {
        return Ok("gone");
    };
    let Some((raw, header)) = content::read_header(&dir, doc).await? else {
        return Ok("unreadable");
    };
    let document_id = header.document_id;
    if document_id.to_string() != doc {
        return Ok("unreadable");
    }
    let history = documents::history(&tx, doc).await?;
    let Choice::Open(key, old_stanza) = choose_stanza(&header, &history, false) else {
        return Ok("no_usable_stanza");
    };
    let old = key.id;
    if documents::key_use(&tx, old)
        .await?
        .and_then(KeyUse::refusal)
        .is_some()
    {
        return Ok("no_usable_stanza");
    }
    let Some(file_key) = open_header(state, key, old_stanza, &header).await? else {
        return Ok("does_not_open");
    };
    rotations::lock_open_from(&tx, locked.key_id).await?;
    let Some((new, public_b64)) = keys::take_for_rewrap(&tx, &key_ids(&header)).await? else {
        state.refill.notify_one();
        return Ok("no_active_key");
    };
    let new_bytes = reseal(&header, &document_id, old, new, &public_b64, &file_key)?.to_bytes();
    documents::add_key(&tx, doc, new, None).await?;
    rotations::advance(&tx, Some(locked.key_id)).await?;
    let note = format!("stored copy, from key {old}");
    access_logs::insert_server_rewrap(&tx, doc, new, &note, state.audit_seal()).await?;
    if !content::replace_header(&dir, doc, &raw, &new_bytes).await? {
        return Ok("changed");
    }
    if let Err(e) = tx.commit().await {
        let _ = content::replace_header(&dir, doc, &new_bytes, &raw).await;
        return Err(e.into());
    }
    tracing::info!(doc, old_key_id = %old, new_key_id = %new, "stored ciphertext rewrapped");
    Ok("ok")
}

//! A key that stops unwrapping (revoked by an admin, or expired) is dropped
//! from the key cache of every server process at once. The change that
//! takes it out is announced on [`KEY_UNUSABLE_CHANNEL`] in the same
//! transaction ([`announce`]), so PostgreSQL delivers the notification to
//! every listening process exactly when the change commits. Each process
//! listens on a connection of its own ([`start_listener`]).
//!
//! The cache is not what enforces revocation: every unwrap re-checks the
//! key's status in the statement that writes its audit row
//! (`store::access_logs::INSERT_IF_KEY_USABLE_SQL`). The broadcast makes sure
//! an unusable private key does not stay in any process's memory until its
//! cache entry ages out. When the listening connection is lost, the whole
//! cache is dropped (notifications may have been missed) and the process
//! listens again.

use std::time::Duration;

use actix_web::web;
use deadpool_postgres::GenericClient;
use futures_util::StreamExt;
use tokio_postgres::AsyncMessage;

use crate::db::{self, DbError};
use crate::domain::KeyId;
use crate::state::AppState;

/// The channel; payload = the key id in decimal.
pub const KEY_UNUSABLE_CHANNEL: &str = "pqfile_key_unusable";

/// Announces, inside transaction `tx`, that keys `ids` no longer unwrap:
/// the notifications are delivered when (and only if) `tx` commits.
pub async fn announce(tx: &impl GenericClient, ids: &[i32]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    tx.execute(
        "SELECT count(pg_notify($1, id::text)) FROM unnest($2::int4[]) AS id",
        &[&KEY_UNUSABLE_CHANNEL, &ids],
    )
    .await?;
    Ok(())
}

/// Listens for [`KEY_UNUSABLE_CHANNEL`] for as long as the process runs,
/// reconnecting after a lost connection. Returns once the first `LISTEN` is
/// in effect (or after five seconds, if the database does not answer: the
/// listener keeps trying), so the server does not serve before it hears
/// revocations.
pub async fn start_listener(state: web::Data<AppState>) {
    let (ready, listening) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut ready = Some(ready);
        loop {
            if let Err(e) = listen(&state, &mut ready).await {
                tracing::warn!(error = %e, "key revocation listener lost its connection");
            }
            // Anything announced while nobody listened is unknown: forget all.
            state.cache.clear();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let _ = tokio::time::timeout(Duration::from_secs(5), listening).await;
}

/// One listening connection: returns when it ends.
async fn listen(
    state: &AppState,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<(), DbError> {
    // The server's own connection settings (UTC, application name, timeout).
    let (client, mut connection) = db::pg_config(&state.settings.database_url)?
        .connect()
        .await?;
    let (sender, mut payloads) = tokio::sync::mpsc::unbounded_channel::<String>();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            if let AsyncMessage::Notification(n) = message? {
                let _ = sender.send(n.payload().to_owned());
            }
        }
        Ok::<(), tokio_postgres::Error>(())
    });
    client
        .batch_execute(&format!("LISTEN {KEY_UNUSABLE_CHANNEL}"))
        .await?;
    // Keys cached before LISTEN took effect may have been revoked meanwhile.
    state.cache.clear();
    if let Some(ready) = ready.take() {
        let _ = ready.send(());
    }
    tracing::debug!("listening for key revocations");
    while let Some(payload) = payloads.recv().await {
        match payload.parse::<i32>() {
            Ok(id) => {
                state.cache.remove(KeyId::from_db(id));
                tracing::info!(
                    key_id = id,
                    "key no longer unwraps: dropped from the key cache"
                );
            }
            Err(_) => tracing::warn!(%payload, "unexpected payload on {KEY_UNUSABLE_CHANNEL}"),
        }
    }
    drop(client);
    driver.await.unwrap_or(Ok(()))?;
    Ok(())
}

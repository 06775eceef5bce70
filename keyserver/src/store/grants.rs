//! `document_grants`: who else may unwrap, rewrap and download a document.
//! Each change writes its `share` audit row in the same statement.

use deadpool_postgres::GenericClient;
use serde::Serialize;
use utoipa::ToSchema;

use super::timestamp;
use crate::audit::ClientInfo;
use crate::db::DbError;
use crate::domain::{AuthenticatedUser, KeyId};

/// One grant of a document.
#[derive(Serialize, ToSchema)]
pub struct Grant {
    /// The grantee's name.
    pub user: String,
    /// RFC 3339, UTC.
    pub granted_at: String,
}

/// Who changes a grant, for the audit row.
pub struct GrantChange<'a> {
    /// The document (32 hex digits).
    pub document_id: &'a str,
    /// The document's key.
    pub key_id: KeyId,
    /// The owner or admin changing it.
    pub by: &'a AuthenticatedUser,
    /// Their client.
    pub client: &'a ClientInfo,
    /// The audit row's seal.
    pub seal: Option<Vec<u8>>,
}

/// Grants user `grantee` (`name`) access (idempotent); returns when it was
/// first granted.
pub async fn grant(
    db: &impl GenericClient,
    c: &GrantChange<'_>,
    grantee: i32,
    name: &str,
) -> Result<chrono::NaiveDateTime, DbError> {
    let row = db
        .query_one(
            "WITH g AS (
                INSERT INTO document_grants (document_id, user_id, granted_by) VALUES ($1, $2, $3)
                ON CONFLICT (document_id, user_id) DO UPDATE SET granted_by = document_grants.granted_by
                RETURNING granted_at),
             a AS (INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome, reason, seal)
                   VALUES ($1, 'share', $4, $5, $6, $7, 'allowed', 'granted to ' || $8, $9))
             SELECT granted_at FROM g",
            &[
                &c.document_id,
                &grantee,
                &c.by.id,
                &c.by.id.to_string(),
                &c.client.ip,
                &c.client.user_agent,
                &c.key_id.get(),
                &name,
                &c.seal,
            ],
        )
        .await?;
    Ok(row.get(0))
}

/// Takes user `name`'s grant back; `false` when there was none.
pub async fn revoke(
    db: &impl GenericClient,
    c: &GrantChange<'_>,
    name: &str,
) -> Result<bool, DbError> {
    Ok(db
        .query_opt(
            "WITH g AS (
                DELETE FROM document_grants WHERE document_id = $1
                   AND user_id = (SELECT id FROM users WHERE name = $2)
                RETURNING user_id),
             a AS (INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome, reason, seal)
                   SELECT $1, 'share', $3, $4, $5, $6, 'allowed', 'revoked from ' || $2, $7::bytea FROM g)
             SELECT user_id FROM g",
            &[
                &c.document_id,
                &name,
                &c.by.id.to_string(),
                &c.client.ip,
                &c.client.user_agent,
                &c.key_id.get(),
                &c.seal,
            ],
        )
        .await?
        .is_some())
}

/// Document `id`'s grants, oldest first.
pub async fn list(db: &impl GenericClient, id: &str) -> Result<Vec<Grant>, DbError> {
    Ok(db
        .query(
            "SELECT u.name, g.granted_at FROM document_grants g JOIN users u ON u.id = g.user_id
             WHERE g.document_id = $1 ORDER BY g.granted_at, u.name",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| Grant {
            user: r.get(0),
            granted_at: timestamp(r.get(1)),
        })
        .collect())
}

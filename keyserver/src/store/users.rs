//! `users` and `api_tokens`: who may call the API.

use deadpool_postgres::GenericClient;

use crate::db::DbError;
use crate::domain::{ApiToken, AuthenticatedUser, Role};
use crate::pipeline::Pipelined;

/// The SQL that resolves a token hash to its user and the token's state
/// (`TIMESTAMP` columns hold UTC, as does the session's `LOCALTIMESTAMP`).
pub const TOKEN_SQL: &str = "SELECT u.id, u.name, u.role, \
     t.revoked_at IS NOT NULL OR u.disabled_at IS NOT NULL, t.expires_at <= LOCALTIMESTAMP \
     FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1";

/// What a presented token is.
#[derive(Debug)]
pub enum TokenState {
    /// Unknown hash.
    Unknown,
    /// Revoked (`token revoke`, or its user disabled); the user's id.
    Revoked(i32),
    /// Past its `expires_at`; the user's id.
    Expired(i32),
    /// Good: its user.
    Valid(AuthenticatedUser),
}

/// The state of a token and its user (one pipelined statement per request).
pub async fn authenticate(db: &Pipelined, token: &ApiToken) -> Result<TokenState, DbError> {
    let client = db.conn().await?;
    let stmt = client.prepare_cached(TOKEN_SQL).await?;
    let Some(r) = client.query_opt(&stmt, &[&token.hash()]).await? else {
        return Ok(TokenState::Unknown);
    };
    let id: i32 = r.get(0);
    if r.get::<_, bool>(3) {
        return Ok(TokenState::Revoked(id));
    }
    if r.get::<_, bool>(4) {
        return Ok(TokenState::Expired(id));
    }
    let role: String = r.get(2);
    Ok(match Role::parse(&role) {
        Some(role) => TokenState::Valid(AuthenticatedUser {
            id,
            name: r.get(1),
            role,
        }),
        None => TokenState::Unknown,
    })
}

/// Creates user `name`; returns its id.
pub async fn insert(db: &impl GenericClient, name: &str, role: Role) -> Result<i32, DbError> {
    let row = db
        .query_one(
            "INSERT INTO users (name, role) VALUES ($1, $2) RETURNING id",
            &[&name, &role.as_str()],
        )
        .await?;
    Ok(row.get(0))
}

/// User `name`'s id and exact name.
pub async fn find(db: &impl GenericClient, name: &str) -> Result<Option<(i32, String)>, DbError> {
    Ok(db
        .query_opt("SELECT id, name FROM users WHERE name = $1", &[&name])
        .await?
        .map(|r| (r.get(0), r.get(1))))
}

/// User `name`'s id and whether it is disabled, locking its row (so a
/// token is not created while the user is being disabled).
pub async fn find_for_update(
    db: &impl GenericClient,
    name: &str,
) -> Result<Option<(i32, bool)>, DbError> {
    Ok(db
        .query_opt(
            "SELECT id, disabled_at IS NOT NULL FROM users WHERE name = $1 FOR UPDATE",
            &[&name],
        )
        .await?
        .map(|r| (r.get(0), r.get(1))))
}

/// Stores the hash of a new token of user `user_id`, valid for `days`;
/// returns its id and expiry.
pub async fn insert_token(
    db: &impl GenericClient,
    user_id: i32,
    token: &ApiToken,
    label: Option<&str>,
    days: u32,
) -> Result<(i32, chrono::NaiveDateTime), DbError> {
    let row = db
        .query_one(
            "INSERT INTO api_tokens (user_id, token_hash, label, expires_at) \
             VALUES ($1, $2, $3, LOCALTIMESTAMP + make_interval(days => $4)) RETURNING id, expires_at",
            &[&user_id, &token.hash(), &label, &(days as i32)],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// One token as `token list` shows it (never the token itself).
#[derive(Debug, serde::Serialize)]
pub struct TokenInfo {
    /// The token's id (`token revoke ID`).
    pub id: i32,
    /// Its user's name.
    pub user: String,
    /// The note given at creation.
    pub label: Option<String>,
    /// Created (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// Stops working (UTC).
    pub expires_at: chrono::NaiveDateTime,
    /// Revoked (UTC), if it was.
    pub revoked_at: Option<chrono::NaiveDateTime>,
    /// `active`, `expired`, `revoked` or `user_disabled`.
    pub state: &'static str,
}

/// Every token, or user `name`'s, newest first.
pub async fn list_tokens(
    db: &impl GenericClient,
    name: Option<&str>,
) -> Result<Vec<TokenInfo>, DbError> {
    let rows = db
        .query(
            "SELECT t.id, u.name, t.label, t.created_at, t.expires_at, t.revoked_at, \
                    u.disabled_at IS NOT NULL, t.expires_at <= LOCALTIMESTAMP \
             FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE $1::text IS NULL OR u.name = $1 ORDER BY t.id DESC",
            &[&name],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let revoked_at: Option<chrono::NaiveDateTime> = r.get(5);
            let state = if revoked_at.is_some() {
                "revoked"
            } else if r.get::<_, bool>(6) {
                "user_disabled"
            } else if r.get::<_, bool>(7) {
                "expired"
            } else {
                "active"
            };
            TokenInfo {
                id: r.get(0),
                user: r.get(1),
                label: r.get(2),
                created_at: r.get(3),
                expires_at: r.get(4),
                revoked_at,
                state,
            }
        })
        .collect())
}

/// Revokes token `id`; its user's name, or `None` if there is no such
/// token. Revoking a revoked token keeps its first `revoked_at`.
pub async fn revoke_token(db: &impl GenericClient, id: i32) -> Result<Option<String>, DbError> {
    Ok(db
        .query_opt(
            "UPDATE api_tokens t SET revoked_at = COALESCE(t.revoked_at, LOCALTIMESTAMP) \
             FROM users u WHERE t.id = $1 AND u.id = t.user_id RETURNING u.name",
            &[&id],
        )
        .await?
        .map(|r| r.get(0)))
}

/// Disables user `user_id` and revokes all its tokens; the number revoked now.
pub async fn disable(db: &impl GenericClient, user_id: i32) -> Result<u64, DbError> {
    db.execute(
        "UPDATE users SET disabled_at = COALESCE(disabled_at, LOCALTIMESTAMP) WHERE id = $1",
        &[&user_id],
    )
    .await?;
    Ok(db
        .execute(
            "UPDATE api_tokens SET revoked_at = LOCALTIMESTAMP WHERE user_id = $1 AND revoked_at IS NULL",
            &[&user_id],
        )
        .await?)
}

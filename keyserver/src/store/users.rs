//! `users` and `api_tokens`: who may call the API.

use deadpool_postgres::GenericClient;

use crate::db::DbError;
use crate::domain::{ApiToken, AuthenticatedUser, Role};
use crate::pipeline::Pipelined;

/// The SQL that resolves a token hash to its user.
pub const TOKEN_SQL: &str = "SELECT u.id, u.name, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id \
     WHERE t.token_hash = $1 AND t.revoked_at IS NULL";

/// The user a token belongs to (one pipelined statement per request).
pub async fn authenticate(
    db: &Pipelined,
    token: &ApiToken,
) -> Result<Option<AuthenticatedUser>, DbError> {
    let client = db.conn().await?;
    let stmt = client.prepare_cached(TOKEN_SQL).await?;
    let row = client.query_opt(&stmt, &[&token.hash()]).await?;
    Ok(row.and_then(|r| {
        let role: String = r.get(2);
        Some(AuthenticatedUser {
            id: r.get(0),
            name: r.get(1),
            role: Role::parse(&role)?,
        })
    }))
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

/// Stores the hash of a new token of user `user_id`.
pub async fn insert_token(
    db: &impl GenericClient,
    user_id: i32,
    token: &ApiToken,
    label: Option<&str>,
) -> Result<(), DbError> {
    db.execute(
        "INSERT INTO api_tokens (user_id, token_hash, label) VALUES ($1, $2, $3)",
        &[&user_id, &token.hash(), &label],
    )
    .await?;
    Ok(())
}

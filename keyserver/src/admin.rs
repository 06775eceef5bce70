//! Operator commands: users and API tokens.

use deadpool_postgres::Pool;

use crate::db::DbError;
use crate::domain::{ApiToken, Role, rng};

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Database trouble (including a duplicate user name).
    #[error(transparent)]
    Db(#[from] DbError),
    /// No such user.
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    /// A user name must be 1..=64 printable characters.
    #[error("a user name must be 1 to 64 printable characters without spaces")]
    BadName,
}

impl From<tokio_postgres::Error> for AdminError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for AdminError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Db(e.into())
    }
}

/// Creates a user and returns its id.
pub async fn add_user(db: &Pool, name: &str, role: Role) -> Result<i32, AdminError> {
    if name.is_empty()
        || name.chars().count() > 64
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(AdminError::BadName);
    }
    let client = db.get().await?;
    let row = client
        .query_one(
            "INSERT INTO users (name, role) VALUES ($1, $2) RETURNING id",
            &[&name, &role.as_str()],
        )
        .await?;
    Ok(row.get(0))
}

/// Creates a token for user `name`. The token is returned once; only its hash is stored.
pub async fn create_token(
    db: &Pool,
    name: &str,
    label: Option<&str>,
) -> Result<ApiToken, AdminError> {
    let client = db.get().await?;
    let user: i32 = client
        .query_opt("SELECT id FROM users WHERE name = $1", &[&name])
        .await?
        .ok_or_else(|| AdminError::NoSuchUser(name.to_owned()))?
        .get(0);
    let token = ApiToken::generate(&mut rng());
    client
        .execute(
            "INSERT INTO api_tokens (user_id, token_hash, label) VALUES ($1, $2, $3)",
            &[&user, &token.hash(), &label],
        )
        .await?;
    Ok(token)
}

/// Whether a user exists.
pub async fn user_exists(db: &Pool, name: &str) -> Result<bool, AdminError> {
    let client = db.get().await?;
    Ok(client
        .query_opt("SELECT 1 FROM users WHERE name = $1", &[&name])
        .await?
        .is_some())
}

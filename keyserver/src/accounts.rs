//! User accounts and their API tokens, for the operator commands
//! (`pqfile-keyserver user add`, `token create`); not the admin HTTP routes
//! (`routes::admin`).

use crate::db::{DbError, DbPool};
use crate::domain::{ApiToken, Role, rng};
use crate::store::users;

/// Why an account command failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
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

/// Creates a user and returns its id.
pub async fn add_user(db: &DbPool, name: &str, role: Role) -> Result<i32, AccountError> {
    if name.is_empty()
        || name.chars().count() > 64
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(AccountError::BadName);
    }
    Ok(users::insert(&connection(db).await?, name, role).await?)
}

/// Creates a token for user `name`. The token is returned once; only its hash is stored.
pub async fn create_token(
    db: &DbPool,
    name: &str,
    label: Option<&str>,
) -> Result<ApiToken, AccountError> {
    let client = connection(db).await?;
    let (user, _) = users::find(&client, name)
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(name.to_owned()))?;
    let token = ApiToken::generate(&mut rng());
    users::insert_token(&client, user, &token, label).await?;
    Ok(token)
}

/// Whether a user exists.
pub async fn user_exists(db: &DbPool, name: &str) -> Result<bool, AccountError> {
    Ok(users::find(&connection(db).await?, name).await?.is_some())
}

async fn connection(db: &DbPool) -> Result<deadpool_postgres::Object, DbError> {
    Ok(db.get().await?)
}

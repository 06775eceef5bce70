//! User accounts and their API tokens, for the operator commands
//! (`pqfile-keyserver user add|disable`, `token create|list|revoke`); not the admin HTTP routes
//! (`routes::admin`). Each change is audited in its own transaction (an
//! `admin` row with no user, the operator's command as the reason, sealed
//! with the audit key): no account or token exists without its row.

use deadpool_postgres::GenericClient;

use crate::audit::{AccessType, ClientInfo, Entry};
use crate::audit_chain::key::AuditKeys;
use crate::db::{DbError, DbPool};
use crate::domain::{ApiToken, Role, rng};
use crate::store::{access_logs, users};

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
    /// The user is disabled: it gets no new token.
    #[error("user {0:?} is disabled")]
    Disabled(String),
    /// No token with this id.
    #[error("no token with id {0}")]
    NoSuchToken(i32),
    /// A token lifetime must be 1..=MAX_TOKEN_DAYS days.
    #[error("a token lifetime must be 1 to {MAX_TOKEN_DAYS} days")]
    BadLifetime,
    /// The audit key is not loaded, so the change could not be audited.
    #[error("the audit key is not available (KMS?): account changes are not made unaudited")]
    Unaudited,
}

/// Writes the operator's audit row for `note` in `tx`.
async fn audit(tx: &impl GenericClient, keys: &AuditKeys, note: &str) -> Result<(), AccountError> {
    let seal = keys.seal().ok_or(AccountError::Unaudited)?;
    let entry = Entry {
        document_id: None,
        access_type: AccessType::Admin,
        user_id: None,
        client: &ClientInfo::default(),
        key_id: None,
        refusal: None,
        seal: Some(seal),
    };
    access_logs::insert_allowed(tx, &entry, Some(note)).await?;
    Ok(())
}

/// Creates a user and returns its id (audited, see the module comment).
pub async fn add_user(
    db: &DbPool,
    keys: &AuditKeys,
    name: &str,
    role: Role,
) -> Result<i32, AccountError> {
    if name.is_empty()
        || name.chars().count() > 64
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(AccountError::BadName);
    }
    let mut client = connection(db).await?;
    let tx = client.transaction().await.map_err(DbError::from)?;
    let id = users::insert(&tx, name, role).await?;
    audit(
        &tx,
        keys,
        &format!("operator: user add {name} --role {}", role.as_str()),
    )
    .await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(id)
}

/// The longest a token may live: ten years.
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// A token just made: shown once, never stored.
pub struct NewToken {
    /// The secret.
    pub token: ApiToken,
    /// Its id (`token revoke ID`).
    pub id: i32,
    /// When it stops working (UTC).
    pub expires_at: chrono::NaiveDateTime,
}

/// Creates a token for user `name`, valid for `days`. The token is
/// returned once; only its hash is stored. Audited, see the module comment.
pub async fn create_token(
    db: &DbPool,
    keys: &AuditKeys,
    name: &str,
    label: Option<&str>,
    days: u32,
) -> Result<NewToken, AccountError> {
    if !(1..=MAX_TOKEN_DAYS).contains(&days) {
        return Err(AccountError::BadLifetime);
    }
    let mut client = connection(db).await?;
    let tx = client.transaction().await.map_err(DbError::from)?;
    let (user, disabled) = users::find_for_update(&tx, name)
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(name.to_owned()))?;
    if disabled {
        return Err(AccountError::Disabled(name.to_owned()));
    }
    let token = ApiToken::generate(&mut rng());
    let (id, expires_at) = users::insert_token(&tx, user, &token, label, days).await?;
    let label = label.map(|l| format!(" --label {l}")).unwrap_or_default();
    audit(
        &tx,
        keys,
        &format!("operator: token create {name}{label} --expires-in-days {days} (token {id})"),
    )
    .await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(NewToken {
        token,
        id,
        expires_at,
    })
}

/// Every token (or user `name`'s), newest first: ids, labels, dates and
/// states, never a secret.
pub async fn list_tokens(
    db: &DbPool,
    name: Option<&str>,
) -> Result<Vec<users::TokenInfo>, AccountError> {
    let client = connection(db).await?;
    if let Some(n) = name
        && users::find(&client, n).await?.is_none()
    {
        return Err(AccountError::NoSuchUser(n.to_owned()));
    }
    Ok(users::list_tokens(&client, name).await?)
}

/// Revokes token `id` at once (every server process checks tokens on each
/// request). Audited; returns the token's user.
pub async fn revoke_token(db: &DbPool, keys: &AuditKeys, id: i32) -> Result<String, AccountError> {
    let mut client = connection(db).await?;
    let tx = client.transaction().await.map_err(DbError::from)?;
    let user = users::revoke_token(&tx, id)
        .await?
        .ok_or(AccountError::NoSuchToken(id))?;
    audit(
        &tx,
        keys,
        &format!("operator: token revoke {id} (user {user})"),
    )
    .await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(user)
}

/// Disables user `name`: every token of it is revoked and it gets no new
/// one. Audited; returns the number of tokens revoked now.
pub async fn disable_user(db: &DbPool, keys: &AuditKeys, name: &str) -> Result<u64, AccountError> {
    let mut client = connection(db).await?;
    let tx = client.transaction().await.map_err(DbError::from)?;
    let (user, _) = users::find_for_update(&tx, name)
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(name.to_owned()))?;
    let revoked = users::disable(&tx, user).await?;
    audit(
        &tx,
        keys,
        &format!("operator: user disable {name} ({revoked} tokens revoked)"),
    )
    .await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(revoked)
}

/// Whether a user exists.
pub async fn user_exists(db: &DbPool, name: &str) -> Result<bool, AccountError> {
    Ok(users::find(&connection(db).await?, name).await?.is_some())
}

async fn connection(db: &DbPool) -> Result<deadpool_postgres::Object, DbError> {
    Ok(db.get().await?)
}

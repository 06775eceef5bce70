//! User accounts and their API tokens, for the operator commands
//! (`pqfile-keyserver user add`, `token create`); not the admin HTTP routes
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

/// Creates a token for user `name`. The token is returned once; only its hash is stored.
/// Audited, see the module comment.
pub async fn create_token(
    db: &DbPool,
    keys: &AuditKeys,
    name: &str,
    label: Option<&str>,
) -> Result<ApiToken, AccountError> {
    let mut client = connection(db).await?;
    let tx = client.transaction().await.map_err(DbError::from)?;
    let (user, _) = users::find(&tx, name)
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(name.to_owned()))?;
    let token = ApiToken::generate(&mut rng());
    users::insert_token(&tx, user, &token, label).await?;
    let label = label.map(|l| format!(" --label {l}")).unwrap_or_default();
    audit(&tx, keys, &format!("operator: token create {name}{label}")).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(token)
}

/// Whether a user exists.
pub async fn user_exists(db: &DbPool, name: &str) -> Result<bool, AccountError> {
    Ok(users::find(&connection(db).await?, name).await?.is_some())
}

async fn connection(db: &DbPool) -> Result<deadpool_postgres::Object, DbError> {
    Ok(db.get().await?)
}

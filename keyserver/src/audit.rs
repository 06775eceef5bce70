//! The access log (`access_logs`): every document access and every refusal,
//! with user id, client IP and user agent.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::USER_AGENT;

use crate::db::DbError;
use crate::pipeline::Pipelined;

/// The client side of a request, as the audit log records it.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// The TCP peer address (forwarding headers are not trusted).
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header, at most 512 characters.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// Reads the peer address and user agent of `req`.
    pub fn from_request(req: &HttpRequest) -> Self {
        let user_agent = req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect());
        Self {
            ip: req.peer_addr().map(|a| a.ip()),
            user_agent,
        }
    }
}

/// An `access_type` value (issue 4: encrypt, decrypt, download, upload;
/// issue 5 adds rewrap, share and admin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessType {
    /// A document was registered and given a key.
    Encrypt,
    /// A document's file key was unwrapped.
    Decrypt,
    /// A document's header was rewrapped to a current key.
    Rewrap,
    /// A document's ciphertext was stored.
    Upload,
    /// A document's stored ciphertext was read.
    Download,
    /// The owner granted or revoked another user's access.
    Share,
    /// An admin route (lifecycle, monitoring, retention).
    Admin,
}

impl AccessType {
    /// The database value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Encrypt => "encrypt",
            Self::Decrypt => "decrypt",
            Self::Rewrap => "rewrap",
            Self::Upload => "upload",
            Self::Download => "download",
            Self::Share => "share",
            Self::Admin => "admin",
        }
    }
}

/// One `access_logs` row.
pub struct Entry<'a> {
    /// The document (32 hex digits), if the request named one.
    pub document_id: Option<&'a str>,
    /// What was attempted.
    pub access_type: AccessType,
    /// `users.id` of the caller.
    pub user_id: i32,
    /// Client address and agent.
    pub client: &'a ClientInfo,
    /// The key involved, if it exists.
    pub key_id: Option<i32>,
    /// `None` when access was granted; the refusal's error code otherwise.
    pub refusal: Option<&'a str>,
}

/// The `access_type` values, for validating filters.
pub const ACCESS_TYPES: [&str; 7] = [
    "encrypt", "decrypt", "rewrap", "upload", "download", "share", "admin",
];

/// Records a refusal. A failure to write it is logged: the request is
/// refused either way.
pub async fn record_refusal(db: &Pipelined, e: &Entry<'_>) {
    if let Err(err) = record(db, e).await {
        tracing::error!(error = %err, "could not audit a refusal");
    }
    tracing::warn!(
        code = e.refusal,
        access_type = e.access_type.as_str(),
        "request refused"
    );
}

/// The audit row of one access.
pub const INSERT_SQL: &str = "INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Inserts one row. The caller decides what a failure means; for granted
/// access it must fail the request (fail closed).
pub async fn record(db: &Pipelined, e: &Entry<'_>) -> Result<(), DbError> {
    let client = db.conn().await?;
    let stmt = client.prepare_cached(INSERT_SQL).await?;
    let outcome = if e.refusal.is_some() {
        "refused"
    } else {
        "allowed"
    };
    client
        .execute(
            &stmt,
            &[
                &e.document_id,
                &e.access_type.as_str(),
                &e.user_id.to_string(),
                &e.client.ip,
                &e.client.user_agent,
                &e.key_id,
                &outcome,
                &e.refusal,
            ],
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// `keyserver/benches/wrk/unwrap.sql`, the pgbench twin of an unwrap
    /// (BENCHMARKS.md), runs exactly the server's statements.
    #[test]
    fn bench_twin_matches_the_server_sql() {
        fn norm(sql: &str, params: &[&str]) -> String {
            let mut s = sql.to_owned();
            // $10 before $1.
            for (i, p) in params.iter().enumerate().rev() {
                s = s.replace(&format!("${}", i + 1), p);
            }
            s.split_whitespace().collect::<Vec<_>>().join(" ")
        }
        let twin = include_str!("../benches/wrk/unwrap.sql");
        let twin: Vec<String> = twin
            .lines()
            .filter(|l| !l.starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n")
            .split(';')
            .map(|s| norm(s, &[]))
            .filter(|s| !s.is_empty())
            .collect();
        let server = [
            norm(crate::auth::TOKEN_SQL, &[":hash"]),
            norm(crate::access::DOCUMENT_ACCESS_SQL, &[":doc", ":uid"]),
            norm(
                super::INSERT_SQL,
                &[
                    ":doc",
                    "'decrypt'",
                    ":uid",
                    "'127.0.0.1'",
                    "'pgbench'",
                    ":kid",
                    "'allowed'",
                    "NULL",
                ],
            ),
        ];
        assert_eq!(twin, server);
    }
}

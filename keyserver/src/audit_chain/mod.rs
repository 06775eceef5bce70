//! Tamper evidence for the audit log (issue 11).
//!
//! Three pieces, none of which serializes the request path:
//!
//! - **Row seals.** Every row a server writes carries `seal` = a fresh
//!   16-byte nonce and its HMAC-SHA-256 under the audit key's row key
//!   ([`key::AuditKey::seal`]). A row inserted by anyone without that key
//!   (a superuser in `psql`) has no valid seal. Computing a seal is one HMAC,
//!   no shared state.
//! - **The chain.** A background sealer ([`sealer`]), one at a time across
//!   processes, appends the rows it has not chained yet to `audit_chain` in
//!   id order: per row the SHA-256 digest of its every column
//!   ([`rows::digest`]) and the running hash `chain_n = H(chain_{n-1} ||
//!   digest_n)`. A row that was changed, or deleted, no longer matches.
//! - **Signed checkpoints.** Each pass ends with an `audit_checkpoints` row:
//!   the chain's position and head and the low watermark, signed with the
//!   audit key's Ed25519 key. The signing seed is stored only wrapped by the
//!   KMS; verification pins the public key by unwrapping it, so a superuser
//!   who rewrites both the rows and the chain cannot re-sign it.
//!
//! [`verify`] checks all three and names the first row that was altered,
//! deleted or inserted out of band (`pqfile-keyserver audit verify`,
//! `GET /v1/admin/audit/verify`).

pub mod key;
pub mod retention;
pub mod rows;
pub mod sealer;
pub mod verify;

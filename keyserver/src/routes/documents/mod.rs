//! `/v1/documents/...`: one file per resource of a document.

pub mod access;
pub mod content;
pub mod create;
pub mod grants;
pub mod list;
pub mod rewrap;
pub mod unwrap;

use serde::Deserialize;

/// Paging for the listings.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Most entries to return (1 to 500, default 100).
    pub limit: Option<i64>,
    /// Admins only: every user's documents, not just their own.
    #[serde(default)]
    pub all: bool,
}

/// The `limit` to apply: 1 to 500, default 100.
fn limit(q: &ListQuery) -> i64 {
    q.limit.unwrap_or(100).clamp(1, 500)
}

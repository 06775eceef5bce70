//! The HTTP API, one module per resource: `documents/…` (a document and
//! what hangs off it), `admin/…`, `keys`, `me`, `health`, `openapi`.

pub mod admin;
pub mod documents;
pub mod health;
pub mod keys;
pub mod me;
pub mod openapi;

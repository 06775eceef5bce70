//! One module per resource.

pub mod documents;
pub mod health;
pub mod keys;
pub mod openapi;

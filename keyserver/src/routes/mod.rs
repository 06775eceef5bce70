//! One module per resource.

pub mod admin;
pub mod content;
pub mod documents;
pub mod grants;
pub mod health;
pub mod keys;
pub mod openapi;
pub mod rewrap;

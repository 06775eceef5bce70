#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod accounts;
pub mod audit;
pub mod audit_chain;
pub mod audit_partitions;
pub mod auth;
pub mod authorize;
pub mod configuration;
pub mod content;
pub mod db;
pub mod domain;
pub mod error;
pub mod key_pool;
pub mod keycache;
pub mod kms;
pub mod lifecycle;
pub mod master_key;
pub mod metrics;
pub mod pipeline;
pub mod request_audit;
pub mod revocation;
pub mod rewrap;
pub mod routes;
pub mod startup;
pub mod state;
pub mod store;

//! Integration tests: the key server on a random port against a real
//! PostgreSQL (a fresh database per test) and, for the AWS path, a real
//! KMS-API endpoint (moto). `scripts/test.d/40-keyserver.sh` starts both and
//! sets `PQFILE_TEST_PG` and `PQFILE_TEST_KMS_ENDPOINT`.
#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]

mod audit;
mod audit_chain;
mod audit_partitions;
mod audit_trail;
mod bad_input;
mod database_tls;
mod helpers;
mod https;
mod key_expiry;
mod key_history;
mod key_pool;
mod limits;
mod kms;
mod lifecycle;
mod monitoring;
mod operations;
mod processes;
mod refusals;
mod revocation;
mod rewrap;
mod rotation_processes;
mod round_trip;
mod schema;
mod sharing;
mod tokens;
mod upgrade;

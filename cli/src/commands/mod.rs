//! The subcommands: thin loops around pqfile-core's streaming state machines
//! and its key-server unwrap, one module per group of subcommands.

mod admin;
mod crypt;
mod documents;
mod rewrap;

use rand_core::UnwrapErr;

use crate::cli::{Cli, Command};
use crate::client::Client;
use crate::error::CliError;
use admin::admin;
use crypt::{decrypt, encrypt, inspect};
use documents::{download, resolve_document, share, upload};
use rewrap::rewrap;

/// Read and write buffer size.
const BUF: usize = 1 << 20;

fn rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Encrypt { server, io } => encrypt(&Client::new(&server)?, io),
        Command::Decrypt {
            server,
            io,
            no_rewrap,
        } => decrypt(&Client::new(&server)?, io, no_rewrap),
        Command::Inspect { input, json } => inspect(input, json),
        Command::Rewrap { server, file } => rewrap(&Client::new(&server)?, &file),
        // Without --with or --revoke, `share` lists (what --list asks for).
        Command::Share {
            server,
            document,
            with,
            revoke,
            list: _,
        } => share(&Client::new(&server)?, &document, with, revoke),
        Command::Documents { server, all } => {
            print_json(&Client::new(&server)?.get(if all {
                "/v1/documents?all=true"
            } else {
                "/v1/documents"
            })?);
            Ok(())
        }
        Command::History { server, document } => {
            let id = resolve_document(&document)?;
            print_json(&Client::new(&server)?.get(&format!("/v1/documents/{id}/access"))?);
            Ok(())
        }
        Command::Upload { server, file } => upload(&Client::new(&server)?, &file),
        Command::Download {
            server,
            document_id,
            output,
            force,
        } => download(&Client::new(&server)?, &document_id, output, force),
        Command::Admin { server, command } => admin(&Client::new(&server)?, command),
    }
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

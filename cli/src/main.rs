#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod cli;
mod client;
mod commands;
mod error;
mod io;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match commands::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            e.report();
            std::process::ExitCode::from(e.exit_code())
        }
    }
}

//! Command-line interface definition.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Post-quantum file encryption against a pqfile key server.
#[derive(Parser, Debug)]
#[command(name = "pqfile", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Key server base URL.
    #[arg(long, env = "PQFILE_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// API token (prefer the environment or --token-file: arguments are visible to other users).
    #[arg(long, env = "PQFILE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Read the API token from this file.
    #[arg(long, env = "PQFILE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct IoArgs {
    /// Input file; `-` or absent reads standard input.
    pub input: Option<PathBuf>,
    /// Output file; `-` writes standard output. Default: derived from the input name, or standard output for standard input.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Overwrite the output file if it exists.
    #[arg(short, long)]
    pub force: bool,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Encrypt a file to a pooled key of the key server (writes NAME.pqf).
    Encrypt {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        io: IoArgs,
    },
    /// Decrypt a .pqf file; the key server unwraps its file key if you are authorized.
    Decrypt {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        io: IoArgs,
    },
    /// Show a .pqf file's header (document id, recipients) without decrypting.
    Inspect {
        /// The file to inspect; `-` reads standard input.
        input: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

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
    /// Trust the CA certificates in this PEM file for an https:// server,
    /// instead of the built-in public roots (a private CA).
    #[arg(long, env = "PQFILE_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Allow an http:// server that is not on this machine (the token and
    /// the file keys then cross the network without TLS).
    #[arg(long, env = "PQFILE_ALLOW_HTTP")]
    pub allow_http: bool,
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
    /// If that key is being retired, the input file is then rewrapped to a current key.
    Decrypt {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        io: IoArgs,
        /// Leave the input file as it is even if its key is being retired.
        #[arg(long)]
        no_rewrap: bool,
    },
    /// Move a file to a current key after rotation or revocation: its stanza
    /// is replaced (the payload bytes stay the same) and the new file is
    /// renamed over the old one once complete.
    Rewrap {
        #[command(flatten)]
        server: ServerArgs,
        /// The .pqf file to rewrap.
        file: PathBuf,
    },
    /// Let another user decrypt a document (give a .pqf file or a document id).
    Share {
        #[command(flatten)]
        server: ServerArgs,
        /// A .pqf file or a 32-hex-digit document id.
        document: String,
        /// The user to grant access to.
        #[arg(long = "with", value_name = "USER", conflicts_with_all = ["revoke", "list"])]
        with: Option<String>,
        /// Withdraw a user's access.
        #[arg(long, value_name = "USER", conflicts_with = "list")]
        revoke: Option<String>,
        /// List who has access.
        #[arg(long)]
        list: bool,
    },
    /// List your documents (owned and shared with you).
    Documents {
        #[command(flatten)]
        server: ServerArgs,
        /// Admins: every document.
        #[arg(long)]
        all: bool,
    },
    /// Show a document's access history.
    History {
        #[command(flatten)]
        server: ServerArgs,
        /// A .pqf file or a document id.
        document: String,
    },
    /// Store an encrypted file on the key server so others can fetch it by id.
    Upload {
        #[command(flatten)]
        server: ServerArgs,
        /// The .pqf file.
        file: PathBuf,
    },
    /// Fetch a stored encrypted file.
    Download {
        #[command(flatten)]
        server: ServerArgs,
        /// The document id.
        document_id: String,
        /// Output file (default DOCUMENT_ID.pqf; `-` for standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Overwrite the output file if it exists.
        #[arg(short, long)]
        force: bool,
    },
    /// Key lifecycle and monitoring (admin token required).
    Admin {
        #[command(flatten)]
        server: ServerArgs,
        #[command(subcommand)]
        command: AdminCommand,
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

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Pool, usage, access volume, rotations, unused keys, database sizes.
    Stats,
    /// List keys, optionally by status (active, rotation_queued, expired, revoked).
    Keys {
        #[arg(long)]
        status: Option<String>,
    },
    /// Revoke a key: removed from the pool at once, refuses unwrap for everyone.
    Revoke {
        /// The key id.
        key_id: i64,
    },
    /// Queue keys older than the rotation age and start their rotations now.
    Rotate,
    /// List rotations, optionally by status (pending, in_progress, completed, failed).
    Rotations {
        #[arg(long)]
        status: Option<String>,
    },
    /// Run expiry, rotation, pool refill and log retention once.
    Maintenance,
    /// Delete access-log rows older than N days (default 365).
    Retention {
        #[arg(long, default_value_t = 365)]
        older_than_days: u32,
    },
    /// Rewrap a file whose key was revoked (admins only); replaces the file.
    Rewrap {
        /// The .pqf file.
        file: PathBuf,
    },
    /// Query the access log.
    Logs {
        #[arg(long)]
        document: Option<String>,
        #[arg(long)]
        user: Option<String>,
        /// encrypt, decrypt, upload, download, rewrap, ...
        #[arg(long = "type")]
        access_type: Option<String>,
        /// RFC 3339 or YYYY-MM-DD lower bound.
        #[arg(long)]
        since: Option<String>,
        /// RFC 3339 or YYYY-MM-DD upper bound.
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 50)]
        per_page: u32,
    },
}

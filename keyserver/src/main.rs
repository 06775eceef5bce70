//! `pqfile-keyserver`: wires configuration, logging and the subcommands.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pqfile_keyserver::audit_chain::key::AuditKeys;
use pqfile_keyserver::configuration::Settings;
use pqfile_keyserver::domain::Role;
use pqfile_keyserver::startup::{Application, build_kms, prepare_database};
use pqfile_keyserver::{accounts, key_pool};

#[derive(Parser)]
#[command(name = "pqfile-keyserver", version, about = "pqfile key server")]
struct Cli {
    /// TOML settings file (also PQFILE_CONFIG); PQFILE_* variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate, fill the pool and serve the API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Fill the key pool to `pool_size` and exit.
    FillPool,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Back up and restore the local KMS master key (encrypted to a passphrase).
    Kms {
        #[command(subcommand)]
        command: pqfile_keyserver::master_key::KmsCommand,
    },
    /// The audit log's tamper evidence.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every audit row against the hash chain and every signed
    /// checkpoint; name the first row that was altered, deleted or inserted
    /// out of band. Exit status 1 when anything is wrong.
    Verify {
        /// Print the whole report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user.
    Add {
        /// Unique user name.
        name: String,
        /// Role.
        #[arg(long, value_enum, default_value = "user")]
        role: Role,
        /// Succeed without change when the user already exists.
        #[arg(long)]
        if_missing: bool,
    },
    /// Disable a user: revoke all of its tokens at once; it gets no new one.
    Disable {
        /// The user's name.
        name: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a user and print it (shown only this once).
    Create {
        /// The user's name.
        name: String,
        /// A note on what the token is for.
        #[arg(long)]
        label: Option<String>,
        /// Days until the token stops working (default: the
        /// `token_lifetime_days` setting, 90; at most 3650).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List tokens (ids, users, labels, dates, states; never the secrets).
    List {
        /// Only this user's.
        name: Option<String>,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token at once (its id from `token list`).
    Revoke {
        /// The token's id.
        id: i32,
    },
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,actix_server=warn,aws_config=warn,tokio_postgres=warn,refinery_core=warn",
        )
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::load(cli.config.as_deref())?;
    init_tracing(&settings.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings.clone()).await?;
            tracing::info!(bind = %settings.bind, port = app.port(), scheme = app.scheme(), "key server listening");
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            prepare_database(&settings).await?;
        }
        Command::Audit {
            command: AuditCommand::Verify { json },
        } => {
            let db = prepare_database(&settings).await?;
            pqfile_keyserver::master_key::ensure_present(&settings, &db).await?;
            let kms = build_kms(&settings).await?;
            let report =
                pqfile_keyserver::audit_chain::verify::verify(&db.get().await?, kms.as_ref())
                    .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else if let Some(p) = &report.first_problem {
                println!(
                    "audit log NOT intact: {} problem(s); first: row {} {:?}{}",
                    report.problems.len(),
                    p.log_id,
                    p.kind,
                    p.position
                        .map(|n| format!(" (chain position {n})"))
                        .unwrap_or_default()
                );
            } else {
                println!(
                    "audit log intact: {} rows chained, {} signed checkpoints verified, {} rows not chained yet",
                    report.rows_chained, report.checkpoints, report.pending
                );
            }
            if !report.ok {
                std::process::exit(1);
            }
        }
        Command::Kms { command } => {
            println!("{}", pqfile_keyserver::master_key::run(&settings, command)?);
        }
        Command::FillPool => {
            let db = prepare_database(&settings).await?;
            pqfile_keyserver::master_key::ensure_present(&settings, &db).await?;
            let kms = build_kms(&settings).await?;
            let n = key_pool::fill(&db, kms.as_ref(), settings.pool_size, true).await?;
            println!(
                "generated {n} keys; {} active",
                key_pool::active_keys(&db).await?
            );
        }
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    role,
                    if_missing,
                },
        } => {
            let (db, keys) = operator(&settings).await?;
            if if_missing && accounts::user_exists(&db, &name).await? {
                println!("user {name} already exists");
            } else {
                let id = accounts::add_user(&db, &keys, &name, role).await?;
                println!("created user {name} (id {id}, role {})", role.as_str());
            }
        }
        Command::User {
            command: UserCommand::Disable { name },
        } => {
            let (db, keys) = operator(&settings).await?;
            let revoked = accounts::disable_user(&db, &keys, &name).await?;
            println!("disabled user {name}; {revoked} token(s) revoked");
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    name,
                    label,
                    expires_in_days,
                },
        } => {
            let (db, keys) = operator(&settings).await?;
            let days = expires_in_days.unwrap_or(settings.token_lifetime_days);
            let new = accounts::create_token(&db, &keys, &name, label.as_deref(), days).await?;
            eprintln!(
                "token {} for {name}, valid until {} UTC:",
                new.id,
                new.expires_at.format("%Y-%m-%d %H:%M")
            );
            // The only time the token is ever shown.
            println!("{}", new.token.expose());
        }
        Command::Token {
            command: TokenCommand::List { name, json },
        } => {
            let (db, _) = operator(&settings).await?;
            let tokens = accounts::list_tokens(&db, name.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else {
                println!(
                    "{:>6}  {:<16} {:<13} {:<16} {:<16} label",
                    "id", "user", "state", "created (UTC)", "expires (UTC)"
                );
                for t in tokens {
                    println!(
                        "{:>6}  {:<16} {:<13} {:<16} {:<16} {}",
                        t.id,
                        t.user,
                        t.state,
                        t.created_at.format("%Y-%m-%d %H:%M"),
                        t.expires_at.format("%Y-%m-%d %H:%M"),
                        t.label.unwrap_or_default()
                    );
                }
            }
        }
        Command::Token {
            command: TokenCommand::Revoke { id },
        } => {
            let (db, keys) = operator(&settings).await?;
            let user = accounts::revoke_token(&db, &keys, id).await?;
            println!("revoked token {id} of {user}");
        }
    }
    Ok(())
}

/// The account commands' database (as the owner: the server's role only
/// reads accounts) and the audit key their audit rows are sealed with.
async fn operator(
    settings: &pqfile_keyserver::configuration::Settings,
) -> Result<(pqfile_keyserver::db::DbPool, AuditKeys), Box<dyn std::error::Error>> {
    let runtime = prepare_database(settings).await?;
    pqfile_keyserver::master_key::ensure_present(settings, &runtime).await?;
    let db = pqfile_keyserver::db::connect(settings.owner_url(), 1)?;
    let kms = build_kms(settings).await?;
    let keys = AuditKeys::default();
    keys.load(&db, kms.as_ref()).await?;
    Ok((db, keys))
}

#[actix_web::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pqfile-keyserver: {e}");
            ExitCode::FAILURE
        }
    }
}

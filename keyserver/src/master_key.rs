//! The local KMS master key as an operator handles it: the start-up guard
//! that refuses to replace a lost key, and its encrypted backup
//! (`pqfile-keyserver kms export-master-key` / `import-master-key`, format in
//! [`sealed`]).
//!
//! The master key lives apart from the database and the data folder
//! (`kms_master_key`, `PQFILE_KMS_MASTER_KEY`): a copy of either alone must
//! recover nothing. The other side of that is that losing the key file loses
//! every document whose key it wrapped, and creating a fresh key in its place
//! (what the local KMS does on a first run) would make that permanent and
//! silent. So a server whose database already holds keys wrapped by a local
//! master key refuses to start when the file is missing.

pub mod sealed;

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::configuration::{KmsKind, Settings};
use crate::db::{DbError, DbPool};
use crate::domain::DocumentId;

/// Environment variable holding the backup passphrase (never an argument:
/// arguments are visible to every user of the machine).
pub const PASSPHRASE_ENV: &str = "PQFILE_BACKUP_PASSPHRASE";
/// Shortest passphrase `export-master-key` accepts, in bytes.
pub const MIN_PASSPHRASE_LEN: usize = 12;

/// Why the master key could not be checked, exported or imported.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// The database holds locally wrapped keys but the master key file is gone.
    #[error(
        "the local KMS master key {path} is missing, but the database holds {count} key(s) \
         wrapped by a local master key ({ids}). Refusing to start: a new master key would \
         leave every document undecryptable. Put the key file back (pqfile-keyserver kms \
         import-master-key --in BACKUP), or point PQFILE_KMS_MASTER_KEY at it"
    )]
    Missing {
        /// The configured key file.
        path: PathBuf,
        /// How many keys it wrapped.
        count: i64,
        /// Their `kms_key_id`s.
        ids: String,
    },
    /// The key file to export does not exist.
    #[error("no local KMS master key at {0}: nothing to export")]
    NotFound(PathBuf),
    /// The server uses AWS KMS: there is no local master key.
    #[error(
        "kms = aws: there is no local master key; back up access to the AWS KMS key instead (docs/OPERATIONS.md)"
    )]
    NotLocal,
    /// A file could not be read or written.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// A file holds something else than expected.
    #[error("{0}: {1}")]
    Invalid(PathBuf, String),
    /// The passphrase is absent, unreadable or too short.
    #[error("passphrase: {0}")]
    Passphrase(String),
    /// The backup could not be opened.
    #[error("{0}: {1}")]
    Open(PathBuf, sealed::OpenError),
    /// Import would replace another master key.
    #[error(
        "{path} already holds another master key ({existing}); the backup holds {backup}. \
         Refusing to overwrite it: keys it wrapped would become undecryptable. Move it away first"
    )]
    Different {
        /// The configured key file.
        path: PathBuf,
        /// Its key id.
        existing: String,
        /// The backup's key id.
        backup: String,
    },
    /// The database could not be asked.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Refuses to go on when `kms = local`, the master key file is missing and
/// the database holds keys a local master key wrapped. Call it before the
/// KMS is built (building it creates a missing key).
pub async fn ensure_present(settings: &Settings, db: &DbPool) -> Result<(), MasterKeyError> {
    let path = settings.kms_master_key_path();
    // An unreadable path is left to the KMS, which names the I/O error.
    if settings.kms != KmsKind::Local || !matches!(path.try_exists(), Ok(false)) {
        return Ok(());
    }
    let client = db.get().await.map_err(DbError::from)?;
    let row = client
        .query_one(
            "SELECT count(*), coalesce(string_agg(DISTINCT kms_key_id, ', '), '') \
             FROM encryption_keys WHERE kms_key_id LIKE 'local:%'",
            &[],
        )
        .await
        .map_err(DbError::from)?;
    let count: i64 = row.get(0);
    if count == 0 {
        return Ok(());
    }
    Err(MasterKeyError::Missing {
        path,
        count,
        ids: row.get(1),
    })
}

/// `pqfile-keyserver kms ...`: the local master key's encrypted backup.
#[derive(clap::Subcommand)]
pub enum KmsCommand {
    /// Write the local KMS master key, encrypted to a passphrase (argon2id +
    /// AES-256-GCM), to a new file. The passphrase comes from
    /// --passphrase-file or PQFILE_BACKUP_PASSPHRASE, never from the command line.
    ExportMasterKey {
        /// The file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Read the passphrase from this file (its first line).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Restore the local KMS master key (to kms_master_key /
    /// PQFILE_KMS_MASTER_KEY) from an export. Never overwrites another key.
    ImportMasterKey {
        /// The exported file.
        #[arg(long = "in")]
        input: PathBuf,
        /// Read the passphrase from this file (its first line).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
}

/// Runs a `kms` subcommand; returns the line to print.
pub fn run(settings: &Settings, command: KmsCommand) -> Result<String, MasterKeyError> {
    if settings.kms != KmsKind::Local {
        return Err(MasterKeyError::NotLocal);
    }
    let key_path = settings.kms_master_key_path();
    match command {
        KmsCommand::ExportMasterKey {
            out,
            passphrase_file,
        } => {
            let passphrase = passphrase(passphrase_file.as_deref())?;
            if passphrase.len() < MIN_PASSPHRASE_LEN {
                return Err(MasterKeyError::Passphrase(format!(
                    "at least {MIN_PASSPHRASE_LEN} bytes are required to export"
                )));
            }
            let key = read_key(&key_path)?;
            let file = sealed::seal(&key, &passphrase, sealed::Cost::default())
                .map_err(|e| MasterKeyError::Open(out.clone(), e))?;
            write_new(&out, &file)?;
            Ok(format!(
                "exported {} from {} to {}",
                sealed::key_id(key.as_slice()),
                key_path.display(),
                out.display()
            ))
        }
        KmsCommand::ImportMasterKey {
            input,
            passphrase_file,
        } => {
            let passphrase = passphrase(passphrase_file.as_deref())?;
            let file = std::fs::read(&input).map_err(|e| MasterKeyError::Io(input.clone(), e))?;
            let key =
                sealed::open(&file, &passphrase).map_err(|e| MasterKeyError::Open(input, e))?;
            let backup = sealed::key_id(key.as_slice());
            match read_key(&key_path) {
                Ok(existing) if *existing == *key => {
                    return Ok(format!("{} already holds {backup}", key_path.display()));
                }
                Ok(existing) => {
                    return Err(MasterKeyError::Different {
                        path: key_path,
                        existing: sealed::key_id(existing.as_slice()),
                        backup,
                    });
                }
                Err(MasterKeyError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
            write_new(&key_path, key.as_slice())?;
            Ok(format!("imported {backup} to {}", key_path.display()))
        }
    }
}

/// The passphrase from `file` (its first line) or [`PASSPHRASE_ENV`].
fn passphrase(file: Option<&Path>) -> Result<Zeroizing<Vec<u8>>, MasterKeyError> {
    let mut bytes = match file {
        Some(f) => Zeroizing::new(std::fs::read(f).map_err(|e| MasterKeyError::Io(f.into(), e))?),
        None => match std::env::var_os(PASSPHRASE_ENV) {
            Some(v) => Zeroizing::new(v.into_encoded_bytes()),
            None => {
                return Err(MasterKeyError::Passphrase(format!(
                    "give --passphrase-file FILE or set {PASSPHRASE_ENV}"
                )));
            }
        },
    };
    if let Some(end) = bytes.iter().position(|&b| b == b'\n') {
        bytes.truncate(end);
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    if bytes.is_empty() {
        return Err(MasterKeyError::Passphrase("it is empty".into()));
    }
    Ok(bytes)
}

fn read_key(path: &Path) -> Result<Zeroizing<[u8; sealed::KEY_LEN]>, MasterKeyError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => Zeroizing::new(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(MasterKeyError::NotFound(path.into()));
        }
        Err(e) => return Err(MasterKeyError::Io(path.into(), e)),
    };
    let mut key = Zeroizing::new([0u8; sealed::KEY_LEN]);
    if bytes.len() != key.len() {
        return Err(MasterKeyError::Invalid(
            path.into(),
            format!("a master key holds exactly {} bytes", key.len()),
        ));
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MasterKeyError + '_ {
    move |e| MasterKeyError::Io(path.to_path_buf(), e)
}

/// Writes `bytes` to `path`, which must not exist, mode 0600 (its folder
/// created 0700): through a temporary file and a hard link, so the key is
/// never seen half written and an existing file is never replaced.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), MasterKeyError> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(io(&dir))?;
    if path.exists() {
        return Err(MasterKeyError::Io(
            path.into(),
            std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        ));
    }
    let nonce = DocumentId::generate(&mut crate::domain::rng());
    let tmp = dir.join(format!(".master-key.{nonce}.tmp"));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    written.map_err(io(path))?;
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io(&dir))
}

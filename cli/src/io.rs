//! Inputs and outputs. File outputs are written to a temporary file next to
//! the target and renamed only on success, so a failed decryption never
//! leaves a partial or unauthenticated file behind.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::error::CliError;

pub struct Input {
    pub reader: Box<dyn Read>,
    pub len: Option<u64>,
}

pub fn open_input(path: Option<&Path>) -> Result<Input, CliError> {
    match path {
        None => Ok(Input {
            reader: Box::new(std::io::stdin().lock()),
            len: None,
        }),
        Some(p) if p == Path::new("-") => Ok(Input {
            reader: Box::new(std::io::stdin().lock()),
            len: None,
        }),
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|source| CliError::Io {
                what: format!("opening {}", p.display()),
                source,
            })?;
            let len = f.metadata().ok().map(|m| m.len());
            Ok(Input {
                reader: Box::new(f),
                len,
            })
        }
    }
}

pub enum Output {
    Stdout(std::io::StdoutLock<'static>),
    File {
        tmp: tempfile::NamedTempFile,
        dest: PathBuf,
    },
}

impl Output {
    pub fn create(dest: Option<PathBuf>, force: bool) -> Result<Self, CliError> {
        match dest {
            None => Ok(Self::Stdout(std::io::stdout().lock())),
            Some(p) if p == Path::new("-") => Ok(Self::Stdout(std::io::stdout().lock())),
            Some(p) => {
                if p.exists() && !force {
                    return Err(CliError::OutputExists(p.display().to_string()));
                }
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                let tmp = tempfile::Builder::new()
                    .prefix(".pqfile-partial-")
                    .tempfile_in(dir)
                    .map_err(|source| CliError::Io {
                        what: format!("creating a file in {}", dir.display()),
                        source,
                    })?;
                Ok(Self::File { tmp, dest: p })
            }
        }
    }

    pub fn write_all(&mut self, data: &[u8]) -> Result<(), CliError> {
        let r = match self {
            Self::Stdout(s) => s.write_all(data),
            Self::File { tmp, .. } => tmp.write_all(data),
        };
        r.map_err(|source| CliError::Io {
            what: "writing the output".into(),
            source,
        })
    }

    /// Gives a file output these permissions before it takes its final name
    /// (a file replaced by a rewrap keeps its own; new files stay 0600).
    pub fn set_permissions(&self, permissions: std::fs::Permissions) -> Result<(), CliError> {
        if let Self::File { tmp, .. } = self {
            tmp.as_file()
                .set_permissions(permissions)
                .map_err(|source| CliError::Io {
                    what: "setting the output's permissions".into(),
                    source,
                })?;
        }
        Ok(())
    }

    /// Makes the output visible under its final name: flushed to disk, then
    /// renamed (atomic: the name shows the old file or the whole new one).
    pub fn commit(self) -> Result<Option<PathBuf>, CliError> {
        match self {
            Self::Stdout(mut s) => {
                s.flush().map_err(|source| CliError::Io {
                    what: "writing standard output".into(),
                    source,
                })?;
                Ok(None)
            }
            Self::File { tmp, dest } => {
                tmp.as_file().sync_all().map_err(|source| CliError::Io {
                    what: "flushing the output".into(),
                    source,
                })?;
                tmp.persist(&dest).map_err(|e| CliError::Io {
                    what: format!("saving {}", dest.display()),
                    source: e.error,
                })?;
                sync_parent(&dest);
                Ok(Some(dest))
            }
        }
    }
}

/// Flushes the directory entry of a rename to disk, so the new name survives
/// a crash. Best effort: not every platform can open a directory.
fn sync_parent(path: &Path) {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

pub fn progress(len: Option<u64>, quiet: bool, what: &str) -> ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::no_length(),
    };
    let style = if len.is_some() {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{msg} {bytes} {bytes_per_sec}"
    };
    pb.set_style(
        ProgressStyle::with_template(style)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Reads into `buf`, retrying on interruption. Returns 0 at end of input.
pub fn read_some(r: &mut dyn Read, buf: &mut [u8]) -> Result<usize, CliError> {
    loop {
        match r.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(CliError::Io {
                    what: "reading the input".into(),
                    source,
                });
            }
        }
    }
}

/// Copies the rest of `src` to `out`; returns the number of bytes copied.
pub fn copy(src: &mut dyn Read, out: &mut Output) -> Result<u64, CliError> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = read_some(src, &mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        out.write_all(&buf[..n])?;
        total += n as u64;
    }
}

//! Files kubeproof writes from what it saw on a cluster (reports, matrices): private to the
//! user from the moment they exist, and redacted once more on the way out.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::cluster::local::FileError;
use crate::redact;

/// Why a report file cannot be written.
#[derive(Debug)]
pub enum OutputError {
    /// Its directory does not exist.
    NoDirectory { path: PathBuf, dir: PathBuf },
    /// The path is a directory.
    IsDirectory { path: PathBuf },
    /// The system refused to open or write it.
    Write(FileError),
}

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputError::NoDirectory { path, dir } => {
                write!(f, "cannot write {}: the directory {} does not exist", path.display(), dir.display())
            }
            OutputError::IsDirectory { path } => write!(f, "cannot write {}: it is a directory", path.display()),
            OutputError::Write(e) => e.fmt(f),
        }
    }
}

/// Checks, before anything runs, that `path` can be written: its directory exists and it is
/// not itself a directory. A report that cannot be written is bad input, not a silent loss.
pub fn check_writable(path: &Path) -> Result<(), OutputError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(OutputError::NoDirectory { path: path.to_path_buf(), dir: dir.to_path_buf() });
    }
    if path.is_dir() {
        return Err(OutputError::IsDirectory { path: path.to_path_buf() });
    }
    Ok(())
}

/// Writes `text` to `path` with mode 0600: a new file is created with that mode, an existing
/// one is narrowed to it before anything is written.
pub fn write_private(path: &Path, text: &str) -> Result<(), OutputError> {
    let fail = |e: std::io::Error| OutputError::Write(FileError::new("cannot write", path)(e));
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).map_err(fail)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    file.write_all(redact::redact(text).as_bytes()).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    #[test]
    fn reports_are_private_and_redacted() {
        let dir = std::env::temp_dir().join(format!("kubeproof-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.json");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let secret = "a-credential-long-enough-to-be-remembered";
        redact::remember(secret);
        write_private(&path, &format!("{{\"token\": \"{secret}\"}}")).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert!(!std::fs::read_to_string(&path).unwrap().contains(secret));
        assert!(check_writable(&dir.join("missing").join("r.json")).is_err());
        assert!(check_writable(&dir).is_err());
        assert!(check_writable(&path).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

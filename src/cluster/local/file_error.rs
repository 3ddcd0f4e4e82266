//! A file or directory of the cache or of a cluster that could not be read or written: what
//! kubeproof was doing, the path, and the system's reason. Each layer's error keeps it as a kind.

use std::path::PathBuf;

/// `cannot create /path: Permission denied`, or `/path: No such file` when `doing` is empty.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {error}", .doing.map(|d| format!("{d} ")).unwrap_or_default(), .path.display())]
pub struct FileError {
    /// What failed, as the message begins (`cannot create`), if it says.
    pub doing: Option<&'static str>,
    pub path: PathBuf,
    pub error: std::io::Error,
}

impl FileError {
    pub fn new(doing: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> FileError {
        let path = path.into();
        move |error| FileError { doing: Some(doing), path, error }
    }

    /// The path and the reason, nothing more.
    pub fn at(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> FileError {
        let path = path.into();
        move |error| FileError { doing: None, path, error }
    }
}

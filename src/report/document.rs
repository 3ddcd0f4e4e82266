//! The JSON report (`run --json`): a versioned document that other tools — and `matrix --from`,
//! which assembles one table from runs made on separate CI jobs — read back. Its JSON Schema is
//! `report.schema.json` (`kubeproof schema --report`); docs/json-report.md explains it.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::RunOutcome;

/// What the `format` field of every report says.
pub const FORMAT: &str = "kubeproof-report";

/// The version of the document's shape; a reader refuses versions it does not know. Raised
/// when a field changes meaning or goes away, or takes a value an older reader cannot read
/// (new fields do not raise it).
///
/// 2: a failure's `phase` may be `finally` (and so may a step's); failures carry `diagnostics`,
/// reports `later_failures`. A version 1 document reads as version 2.
/// 3: a failure's `error.kind` may be `invalid` (a step's value that cannot be used) or
/// `unserved` (the cluster serves no such kind), which were `other`. Versions 1 and 2 read as 3.
pub const VERSION: u32 = 3;

/// The versions this kubeproof reads.
const READS: std::ops::RangeInclusive<u64> = 1..=VERSION as u64;

/// A run's report as written to a file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Document {
    /// Always `kubeproof-report`.
    pub format: String,
    /// The document's version (see `VERSION`).
    pub version: u32,
    #[serde(flatten)]
    pub outcome: RunOutcome,
}

impl Document {
    pub fn of(outcome: &RunOutcome) -> Document {
        Document { format: FORMAT.into(), version: VERSION, outcome: outcome.clone() }
    }

    /// Reads a report, refusing files that are not one or of a version this kubeproof does not
    /// know. Reports are small; a file over 64 MiB is refused rather than read.
    pub fn read(path: &Path) -> Result<Document, DocumentError> {
        use std::io::Read as _;
        let fail = |kind: DocumentErrorKind| DocumentError { path: path.to_path_buf(), kind };
        let file = std::fs::File::open(path).map_err(|e| fail(DocumentErrorKind::Io(e)))?;
        if !file.metadata().map(|m| m.is_file()).unwrap_or(false) {
            return Err(fail(DocumentErrorKind::NotAFile));
        }
        let mut text = Vec::new();
        file.take(64 << 20).read_to_end(&mut text).map_err(|e| fail(DocumentErrorKind::Io(e)))?;
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| fail(DocumentErrorKind::NotJson { line: e.line(), column: e.column() }))?;
        match (value.get("format").and_then(|f| f.as_str()), value.get("version").and_then(|v| v.as_u64())) {
            (Some(FORMAT), Some(v)) if READS.contains(&v) => {}
            (Some(FORMAT), Some(v)) => return Err(fail(DocumentErrorKind::Version(v))),
            _ => return Err(fail(DocumentErrorKind::Foreign)),
        }
        serde_json::from_value(value).map_err(|e| fail(DocumentErrorKind::Malformed(e)))
    }
}

/// A file given as a report that cannot be read as one.
#[derive(Debug)]
pub struct DocumentError {
    pub path: std::path::PathBuf,
    pub kind: DocumentErrorKind,
}

/// Why a file is not a report kubeproof can read.
#[derive(Debug)]
pub enum DocumentErrorKind {
    /// It cannot be opened or read.
    Io(std::io::Error),
    /// A directory, a device …
    NotAFile,
    NotJson {
        line: usize,
        column: usize,
    },
    /// A report of a version this kubeproof does not read.
    Version(u64),
    /// JSON, but not a kubeproof report.
    Foreign,
    /// A kubeproof report whose content does not fit its version.
    Malformed(serde_json::Error),
}

impl std::fmt::Display for DocumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.path.display())?;
        match &self.kind {
            DocumentErrorKind::Io(e) => e.fmt(f),
            DocumentErrorKind::NotAFile => f.write_str("not a regular file"),
            DocumentErrorKind::NotJson { line, column } => write!(f, "not JSON (line {line}, column {column})"),
            DocumentErrorKind::Version(v) => {
                write!(f, "report version {v}; this kubeproof reads versions {} to {}", READS.start(), READS.end())
            }
            DocumentErrorKind::Foreign => f.write_str("not a kubeproof report (written by `kubeproof run --json`)"),
            DocumentErrorKind::Malformed(e) => write!(f, "malformed report: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_read_back_and_foreign_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("kubeproof-document-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.json");
        let outcome = RunOutcome { reports: Vec::new(), stopped: None };
        std::fs::write(&path, serde_json::to_string(&Document::of(&outcome)).unwrap()).unwrap();
        let back = Document::read(&path).unwrap();
        assert_eq!(back.version, VERSION);
        std::fs::write(&path, r#"{"format": "kubeproof-report", "version": 1, "reports": [], "stopped": null}"#).unwrap();
        assert!(Document::read(&path).is_ok(), "version 1 reads as version 2");
        std::fs::write(&path, r#"{"format": "kubeproof-report", "version": 99, "reports": []}"#).unwrap();
        assert!(Document::read(&path).unwrap_err().to_string().contains("report version 99"));
        std::fs::write(&path, r#"{"matrix": {}}"#).unwrap();
        assert!(Document::read(&path).unwrap_err().to_string().contains("not a kubeproof report"));
        std::fs::write(&path, "{").unwrap();
        assert!(Document::read(&path).unwrap_err().to_string().contains("not JSON"));
        assert!(Document::read(&dir).is_err(), "a directory is not a report");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

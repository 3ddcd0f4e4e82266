//! The manifests an `apply` step names: inline objects, YAML text, or a file beside the scenario.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::source::{self, FileAccess};
use super::step::ApplyStep;

/// Reads the manifests of an `apply` step (templates not yet rendered). A `file` is taken as
/// read at load; a step that was not loaded reads it now, from `dir`'s tree only.
pub fn manifests(step: &ApplyStep, dir: &Path) -> Result<Vec<Value>, ManifestError> {
    let docs = match (&step.manifest, &step.file) {
        (Some(_), Some(_)) => return Err(ManifestError::Both),
        (None, None) => return Err(ManifestError::Neither),
        (Some(Value::String(text)), None) => parse_yaml_docs(text, "the inline manifest")?,
        (Some(Value::Array(items)), None) => items.clone(),
        (Some(obj @ Value::Object(_)), None) => vec![obj.clone()],
        (Some(other), None) => return Err(ManifestError::NotManifests { brief: super::assertion::brief(other) }),
        (None, Some(file)) => {
            let text = match &step.file_text {
                Some(read) => read.clone()?,
                None => read_file(file, dir, &FileAccess::under(dir, false))?,
            };
            parse_yaml_docs(&text, &format!("manifest file {}", dir.join(file).display()))?
        }
    };
    let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    if docs.is_empty() {
        return Err(ManifestError::Empty);
    }
    for (i, doc) in docs.iter().enumerate() {
        check_object(doc).map_err(|problem| ManifestError::Object { number: i + 1, problem })?;
    }
    Ok(docs)
}

/// A manifest file named by `apply: {file: …}`, relative to the scenario's directory `dir`, with
/// the limits of [`source::read_text`].
pub fn read_file(file: &str, dir: &Path, access: &FileAccess) -> Result<String, ManifestError> {
    let path = dir.join(file);
    source::read_text(&path, Some(access)).map_err(|error| ManifestError::Read { path, error })
}

fn parse_yaml_docs(text: &str, what: &str) -> Result<Vec<Value>, ManifestError> {
    serde_saphyr::from_str_multiple_with_options::<Value, Vec<Value>>(text, super::yaml_options()).map_err(|e| ManifestError::Yaml {
        what: what.to_string(),
        at: e.location().map(|l| (l.line(), l.column())),
        message: super::yaml_message(&e),
    })
}

fn check_object(doc: &Value) -> Result<(), ObjectProblem> {
    let obj = doc.as_object().ok_or(ObjectProblem::NotAMapping)?;
    for key in ["apiVersion", "kind"] {
        if !obj.get(key).is_some_and(Value::is_string) {
            return Err(ObjectProblem::Missing(key));
        }
    }
    if !doc.pointer("/metadata/name").is_some_and(Value::is_string) {
        return Err(ObjectProblem::NoName);
    }
    Ok(())
}

/// Why an `apply` step has no manifests to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// Both `manifest` and `file`.
    Both,
    /// Neither `manifest` nor `file`.
    Neither,
    /// `manifest` is a scalar that is not YAML text: shown in brief.
    NotManifests { brief: String },
    /// The manifest file could not be read.
    Read { path: PathBuf, error: source::ReadError },
    /// The inline text or the file is not YAML; `what` names which.
    Yaml { what: String, at: Option<(u64, u64)>, message: String },
    /// No document at all.
    Empty,
    /// The manifest numbered `number` (from 1) is not an object kubeproof can apply.
    Object { number: usize, problem: ObjectProblem },
}

/// What a manifest lacks to be applied (and cleaned up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectProblem {
    NotAMapping,
    /// `apiVersion` or `kind`.
    Missing(&'static str),
    NoName,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestError::Both => f.write_str("give either `manifest` or `file`, not both"),
            ManifestError::Neither => f.write_str("give `manifest` (inline) or `file` (a YAML file beside the scenario)"),
            ManifestError::NotManifests { brief } => write!(f, "`manifest` must be a mapping, a sequence or YAML text, not {brief}"),
            ManifestError::Read { path, error } => match error.at {
                Some((line, column)) => write!(f, "manifest file {}:{line}:{column}: {}", path.display(), error.message),
                None => write!(f, "cannot read manifest file {}: {}", path.display(), error.message),
            },
            ManifestError::Yaml { what, at, message } => {
                let pos = at.map(|(line, column)| format!(" at line {line} column {column}")).unwrap_or_default();
                write!(f, "{what} is not valid YAML{pos}: {message}")
            }
            ManifestError::Empty => f.write_str("the manifest is empty"),
            ManifestError::Object { number, problem } => write!(f, "manifest #{number}: {problem}"),
        }
    }
}

impl fmt::Display for ObjectProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectProblem::NotAMapping => f.write_str("not a mapping"),
            ObjectProblem::Missing(key) => write!(f, "`{key}` is missing"),
            ObjectProblem::NoName => f.write_str("`metadata.name` is missing (generateName is not supported: cleanup needs names)"),
        }
    }
}

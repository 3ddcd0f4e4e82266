//! The manifests an `apply` step names: inline objects, YAML text, or a file beside the scenario.

use std::path::Path;

use serde_json::Value;

use super::source::{self, FileAccess};
use super::step::ApplyStep;

/// Reads the manifests of an `apply` step (templates not yet rendered). A `file` is taken as
/// read at load; a step that was not loaded reads it now, from `dir`'s tree only.
pub fn manifests(step: &ApplyStep, dir: &Path) -> Result<Vec<Value>, String> {
    let docs = match (&step.manifest, &step.file) {
        (Some(_), Some(_)) => return Err("give either `manifest` or `file`, not both".into()),
        (None, None) => return Err("give `manifest` (inline) or `file` (a YAML file beside the scenario)".into()),
        (Some(Value::String(text)), None) => parse_yaml_docs(text, "the inline manifest")?,
        (Some(Value::Array(items)), None) => items.clone(),
        (Some(obj @ Value::Object(_)), None) => vec![obj.clone()],
        (Some(other), None) => {
            return Err(format!("`manifest` must be a mapping, a sequence or YAML text, not {}", super::assertion::brief(other)));
        }
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
        return Err("the manifest is empty".into());
    }
    for (i, doc) in docs.iter().enumerate() {
        check_object(doc).map_err(|e| format!("manifest #{}: {e}", i + 1))?;
    }
    Ok(docs)
}

/// A manifest file named by `apply: {file: …}`, relative to the scenario's directory `dir`, with
/// the limits of [`source::read_text`]; the error is a message for the step.
pub fn read_file(file: &str, dir: &Path, access: &FileAccess) -> Result<String, String> {
    let path = dir.join(file);
    source::read_text(&path, Some(access)).map_err(|e| match e.at {
        Some((line, column)) => format!("manifest file {}:{line}:{column}: {}", path.display(), e.message),
        None => format!("cannot read manifest file {}: {}", path.display(), e.message),
    })
}

fn parse_yaml_docs(text: &str, what: &str) -> Result<Vec<Value>, String> {
    serde_saphyr::from_str_multiple_with_options::<Value, Vec<Value>>(text, super::yaml_options()).map_err(|e| {
        let pos = e.location().map(|l| format!(" at line {} column {}", l.line(), l.column())).unwrap_or_default();
        format!("{what} is not valid YAML{pos}: {}", super::yaml_message(&e))
    })
}

fn check_object(doc: &Value) -> Result<(), String> {
    let obj = doc.as_object().ok_or("not a mapping")?;
    for key in ["apiVersion", "kind"] {
        if !obj.get(key).is_some_and(Value::is_string) {
            return Err(format!("`{key}` is missing"));
        }
    }
    if !doc.pointer("/metadata/name").is_some_and(Value::is_string) {
        return Err("`metadata.name` is missing (generateName is not supported: cleanup needs names)".into());
    }
    Ok(())
}

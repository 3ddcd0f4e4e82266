//! `${name}` references in scenario strings: the scenario's namespace and captured values.
//!
//! Variables hold JSON values. Inside a longer string a value is written as text (a string as
//! itself, anything else as compact JSON); a string that is exactly one `${x}` stands for the
//! value itself, so `equals: ${iat}` compares numbers and `replicas: ${n}` stays a number.

use std::collections::BTreeMap;

use serde_json::Value;

/// The run's variables: built-ins, case values and captures, each a JSON value.
pub type Vars = BTreeMap<String, Value>;

/// Variables every scenario has without capturing them.
pub const BUILTINS: &[&str] = &["namespace", "scenario", "release"];

/// The names a string refers to, in order. `$${x}` is a literal `${x}`.
pub fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    scan(text, |piece| {
        if let Piece::Var(name) = piece {
            out.push(name.to_string());
        }
    });
    out
}

/// Why a template cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `${name}` refers to no variable.
    Undefined { name: String },
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::Undefined { name } => write!(f, "`${{{name}}}` is not defined"),
        }
    }
}

/// Substitutes every reference as text; an unknown name is an error naming it.
pub fn render(text: &str, vars: &Vars) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut missing = None;
    scan(text, |piece| match piece {
        Piece::Text(t) => out.push_str(t),
        Piece::Var(name) => match vars.get(name) {
            Some(Value::String(s)) => out.push_str(s),
            Some(other) => out.push_str(&other.to_string()),
            None => {
                missing.get_or_insert_with(|| name.to_string());
            }
        },
    });
    match missing {
        Some(name) => Err(TemplateError::Undefined { name }),
        None => Ok(out),
    }
}

/// Renders every string inside a JSON value; a string that is exactly one reference becomes the
/// variable's value, with its type.
pub fn render_json(value: &Value, vars: &Vars) -> Result<Value, TemplateError> {
    Ok(match value {
        Value::String(s) => match sole_reference(s) {
            Some(name) => vars.get(name).cloned().ok_or_else(|| TemplateError::Undefined { name: name.to_string() })?,
            None => Value::String(render(s, vars)?),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| render_json(v, vars)).collect::<Result<_, _>>()?),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| Ok((render(k, vars)?, render_json(v, vars)?))).collect::<Result<_, TemplateError>>()?)
        }
        other => other.clone(),
    })
}

/// The name when `text` is exactly one reference (`${x}`, spaces inside the braces allowed).
pub fn sole_reference(text: &str) -> Option<&str> {
    let mut pieces = Vec::new();
    scan(text, |piece| pieces.push(piece));
    match pieces.as_slice() {
        [Piece::Text(""), Piece::Var(name), Piece::Text("")] => Some(name),
        _ => None,
    }
}

/// Every reference inside a JSON value.
pub fn json_references(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => references(s),
        Value::Array(items) => items.iter().flat_map(json_references).collect(),
        Value::Object(map) => map.iter().flat_map(|(k, v)| references(k).into_iter().chain(json_references(v))).collect(),
        _ => Vec::new(),
    }
}

enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn scan<'a>(text: &'a str, mut emit: impl FnMut(Piece<'a>)) {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if rest[..start].ends_with('$') {
            // `$${x}`: an escaped, literal `${x}`.
            emit(Piece::Text(&rest[..start - 1]));
            emit(Piece::Text("${"));
            rest = &rest[start + 2..];
            continue;
        }
        let Some(len) = rest[start + 2..].find('}') else { break };
        emit(Piece::Text(&rest[..start]));
        emit(Piece::Var(rest[start + 2..start + 2 + len].trim()));
        rest = &rest[start + 2 + len + 1..];
    }
    emit(Piece::Text(rest));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_lists_references() {
        let vars = Vars::from([("namespace".to_string(), Value::from("kp-1"))]);
        assert_eq!(render("/api/v1/namespaces/${namespace}/pods", &vars).unwrap(), "/api/v1/namespaces/kp-1/pods");
        assert_eq!(references("a ${x} b ${ y }"), vec!["x", "y"]);
        assert_eq!(render("$${namespace}", &vars).unwrap(), "${namespace}");
        assert!(references("$${namespace}").is_empty());
        assert_eq!(render("${nope}", &vars).unwrap_err().to_string(), "`${nope}` is not defined");
        assert_eq!(render("no refs ${", &vars).unwrap(), "no refs ${");
    }

    #[test]
    fn a_sole_reference_keeps_its_type() {
        use serde_json::json;
        let vars = Vars::from([("iat".to_string(), json!(1700000000)), ("aud".to_string(), json!(["a", "b"]))]);
        assert_eq!(render_json(&json!("${iat}"), &vars).unwrap(), json!(1700000000));
        assert_eq!(render_json(&json!("${ aud }"), &vars).unwrap(), json!(["a", "b"]));
        assert_eq!(render_json(&json!({"n": "${iat}", "s": "at ${iat}"}), &vars).unwrap(), json!({"n": 1700000000, "s": "at 1700000000"}));
        assert_eq!(render_json(&json!("$${iat}"), &vars).unwrap(), json!("${iat}"), "an escaped reference is text");
        assert_eq!(render_json(&json!("${iat}${iat}"), &vars).unwrap(), json!("17000000001700000000"));
        assert_eq!(render("${aud}", &vars).unwrap(), r#"["a","b"]"#);
        assert_eq!(render_json(&json!("${nope}"), &vars).unwrap_err(), TemplateError::Undefined { name: "nope".into() });
    }
}

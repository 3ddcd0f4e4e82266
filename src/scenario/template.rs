//! `${name}` references in scenario strings: the scenario's namespace and captured values.

use std::collections::BTreeMap;

/// Variables every scenario has without capturing them.
pub const BUILTINS: &[&str] = &["namespace", "scenario"];

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

/// Substitutes every reference; an unknown name is an error naming it.
pub fn render(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut missing = None;
    scan(text, |piece| match piece {
        Piece::Text(t) => out.push_str(t),
        Piece::Var(name) => match vars.get(name) {
            Some(v) => out.push_str(v),
            None => {
                missing.get_or_insert_with(|| name.to_string());
            }
        },
    });
    match missing {
        Some(name) => Err(format!("`${{{name}}}` is not defined")),
        None => Ok(out),
    }
}

/// Renders every string inside a JSON value.
pub fn render_json(value: &serde_json::Value, vars: &BTreeMap<String, String>) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match value {
        Value::String(s) => Value::String(render(s, vars)?),
        Value::Array(items) => Value::Array(items.iter().map(|v| render_json(v, vars)).collect::<Result<_, _>>()?),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((render(k, vars)?, render_json(v, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Every reference inside a JSON value.
pub fn json_references(value: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
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
        let vars = BTreeMap::from([("namespace".to_string(), "kp-1".to_string())]);
        assert_eq!(render("/api/v1/namespaces/${namespace}/pods", &vars).unwrap(), "/api/v1/namespaces/kp-1/pods");
        assert_eq!(references("a ${x} b ${ y }"), vec!["x", "y"]);
        assert_eq!(render("$${namespace}", &vars).unwrap(), "${namespace}");
        assert!(references("$${namespace}").is_empty());
        assert_eq!(render("${nope}", &vars).unwrap_err(), "`${nope}` is not defined");
        assert_eq!(render("no refs ${", &vars).unwrap(), "no refs ${");
    }
}

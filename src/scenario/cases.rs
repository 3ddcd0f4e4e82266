//! Tables of cases: one scenario, several value sets (`cases:`). Each case is a run of its own —
//! its own namespace, report, trial and matrix row, named `<scenario>::<case>` — with its values
//! as variables.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::template::BUILTINS;
use super::{Diagnostic, Scenario};

/// One case as written: variable names and their values, and optionally its `name`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Case {
    /// `name` as written; lint checks it is a string fit for a trial name.
    pub name: Option<Value>,
    /// Every other key: a variable and its value, with its JSON type.
    pub vars: BTreeMap<String, Value>,
}

/// The case a loaded scenario runs: its label (its `name`, or its number from 1) and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseValues {
    pub label: String,
    pub vars: BTreeMap<String, Value>,
}

/// The longest case name: it becomes part of trial names and namespaces.
pub const MAX_NAME_CHARS: usize = 40;

impl Case {
    /// Its `name`, or its number (from 1) in the table.
    pub fn label(&self, index: usize) -> String {
        match &self.name {
            Some(Value::String(name)) => name.clone(),
            _ => (index + 1).to_string(),
        }
    }

    /// How messages name it: `case \`600s\`` or `case #2`.
    fn called(&self, index: usize) -> String {
        match &self.name {
            Some(Value::String(name)) => format!("case `{}`", super::source::excerpt(name)),
            _ => format!("case #{}", index + 1),
        }
    }
}

/// One scenario per case, named `<scenario>::<case>`; a scenario without `cases` as it is.
pub fn expand(scenario: Scenario) -> Vec<Scenario> {
    let Some(cases) = &scenario.spec.cases else { return vec![scenario] };
    cases
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let label = case.value.label(index);
            let mut one = scenario.clone();
            one.name = format!("{}::{label}", scenario.name);
            one.case = Some(CaseValues { label, vars: case.value.vars.clone() });
            one
        })
        .collect()
}

/// What a scenario shows, for the matrix: its description and, for a case, the case's values
/// (`… Case 599s: duration=599s, status=422.`).
pub fn description(scenario: &Scenario) -> String {
    let text = scenario.spec.description.trim().to_string();
    let Some(case) = &scenario.case else { return text };
    let values: Vec<String> = case
        .vars
        .iter()
        .map(|(name, value)| match value {
            Value::String(s) => format!("{name}={s}"),
            other => format!("{name}={other}"),
        })
        .collect();
    format!("{text} Case {}: {}.", case.label, values.join(", "))
}

/// The table's own problems, each at its case: empty, names that are not strings, not fit for a
/// trial name or used twice, reserved variables, and keys that differ from the first case's.
pub(crate) fn problems(scenario: &Scenario) -> Vec<Diagnostic> {
    let Some(cases) = &scenario.spec.cases else { return Vec::new() };
    let mut out = Vec::new();
    if cases.is_empty() {
        let message = "`cases` is empty: give at least one case (a mapping of variables to values), or leave `cases` out";
        out.push(Diagnostic { pos: scenario.key_pos("cases"), message: message.into() });
        return out;
    }
    let first: BTreeSet<&String> = cases[0].value.vars.keys().collect();
    let mut labels: BTreeMap<String, usize> = BTreeMap::new();
    for (index, Spanned { value: case, referenced, .. }) in cases.iter().enumerate() {
        let mut problem = |message: String| {
            out.push(Diagnostic {
                pos: scenario.pos_of(referenced),
                message: super::source::bounded_message(&format!("{}: {message}", case.called(index))),
            })
        };
        match &case.name {
            Some(Value::String(name)) if !fit_for_a_name(name) => problem(format!(
                "the name `{name}` may hold only letters, digits, `.`, `_` and `-` (at most {MAX_NAME_CHARS}): it becomes part of trial names, `{}::{name}`",
                scenario.name
            )),
            Some(Value::String(_)) | None => {}
            Some(other) => problem(format!("`name` must be a string, not {}", super::assertion::brief(other))),
        }
        let label = case.label(index);
        if let Some(earlier) = labels.insert(label.clone(), index) {
            problem(format!("the name `{label}` is also case #{}'s: each case needs its own", earlier + 1));
        }
        for reserved in case.vars.keys().filter(|k| BUILTINS.contains(&k.as_str())) {
            problem(format!("`{reserved}` is reserved: a case cannot set it"));
        }
        let keys: BTreeSet<&String> = case.vars.keys().collect();
        if index > 0 && keys != first {
            let list = |names: Vec<&&String>| names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
            let mut parts = Vec::new();
            let missing: Vec<&&String> = first.difference(&keys).collect();
            let extra: Vec<&&String> = keys.difference(&first).collect();
            if !missing.is_empty() {
                parts.push(format!("missing {}", list(missing)));
            }
            if !extra.is_empty() {
                parts.push(format!("extra {}", list(extra)));
            }
            let want = first.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
            problem(format!("{}: every case sets the variables of the first case ({want})", parts.join(", ")));
        }
    }
    out
}

/// Letters, digits, `.`, `_`, `-`, starting with a letter or digit: safe in trial names, filters
/// and (slugged) namespaces.
fn fit_for_a_name(name: &str) -> bool {
    name.chars().count() <= MAX_NAME_CHARS
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl<'de> Deserialize<'de> for Case {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Case;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a case: a mapping of variable names to values, e.g. `{name: short, duration: 599s}`")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Case, A::Error> {
                let mut case = Case::default();
                while let Some(key) = map.next_key::<String>()? {
                    let value: Value = map.next_value()?;
                    let earlier = match key.as_str() {
                        "name" => case.name.replace(value),
                        _ => case.vars.insert(key.clone(), value),
                    };
                    if earlier.is_some() {
                        return Err(serde::de::Error::custom(format!("duplicate key `{key}` in a case")));
                    }
                }
                Ok(case)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(cases: &str) -> Scenario {
        let text = format!("description: d\n{cases}\nsteps:\n  - service-account: sa\n");
        Scenario::parse(Path::new("s.yaml"), &text).unwrap()
    }

    #[test]
    fn each_case_is_a_scenario_of_its_own() {
        let s = scenario("cases:\n  - {name: short, d: 599s, status: 422}\n  - {d: 600s, status: 201}");
        let all = expand(s);
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["s::short", "s::2"]);
        let case = all[0].case.as_ref().unwrap();
        assert_eq!(case.label, "short");
        assert_eq!(case.vars["status"], serde_json::json!(422), "values keep their JSON type");
        assert_eq!(case.vars["d"], serde_json::json!("599s"));
        assert!(!case.vars.contains_key("name"));
        assert_eq!(description(&all[0]), "d Case short: d=599s, status=422.");
        assert_eq!(expand(scenario("")).len(), 1, "no table: the scenario as it is");
    }

    #[test]
    fn the_table_is_checked_case_by_case() {
        let s = scenario(
            "cases:\n  - {name: a, d: 1s, status: 422}\n  - {name: a, d: 2s}\n  - {name: 'x y', d: 1s, status: 1, extra: 2}\n  - {name: 7, namespace: n, d: 1s, status: 1}",
        );
        let found: Vec<String> = problems(&s).iter().map(|d| d.to_string()).collect();
        let want = [
            "s.yaml:4:5: case `a`: the name `a` is also case #1's: each case needs its own",
            "s.yaml:4:5: case `a`: missing `status`: every case sets the variables of the first case (d, status)",
            "s.yaml:5:5: case `x y`: the name `x y` may hold only letters, digits, `.`, `_` and `-` (at most 40): it becomes part of trial names, `s::x y`",
            "s.yaml:5:5: case `x y`: extra `extra`: every case sets the variables of the first case (d, status)",
            "s.yaml:6:5: case #4: `name` must be a string, not 7",
            "s.yaml:6:5: case #4: `namespace` is reserved: a case cannot set it",
            "s.yaml:6:5: case #4: extra `namespace`: every case sets the variables of the first case (d, status)",
        ];
        assert_eq!(found, want);
        let empty = problems(&scenario("cases: []"));
        assert_eq!(empty.len(), 1);
        assert_eq!(empty[0].pos.line, 2);
        assert!(empty[0].message.starts_with("`cases` is empty"), "{}", empty[0].message);
    }
}

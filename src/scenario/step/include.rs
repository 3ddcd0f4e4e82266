//! `include`: the steps of a step file, with parameters. The file's steps are put after this
//! step when the scenario is loaded (src/scenario/include.rs); this step defines the parameters.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::scenario::Diagnostic;
use crate::scenario::step::lint::StepLint;
use crate::scenario::template::BUILTINS;

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct IncludeStep {
    /// A step file, relative to the file that includes it, e.g. `steps/bind-role.yaml`.
    pub file: String,
    /// A value for each of the step file's `params`. Each becomes a variable, with its JSON
    /// type, when this step runs (`${…}` in it rendered first): the included steps use it, and
    /// so may the steps after.
    #[serde(default)]
    pub with: BTreeMap<String, Value>,
    /// The step file's parameters, or why it could not be included; filled when the scenario
    /// is loaded.
    #[serde(skip)]
    #[schemars(skip)]
    pub loaded: Option<Result<Vec<String>, Vec<Diagnostic>>>,
}

/// The file could be included, `with` gives exactly its parameters (variables defined, names
/// not reserved); the parameters join the scope.
pub fn lint(s: &IncludeStep, l: &mut StepLint) {
    match &s.loaded {
        None => l.problem(format!("{} was not included: steps are included when the scenario is loaded", s.file)),
        Some(Err(problems)) => problems.iter().for_each(|p| l.included_problem(p)),
        Some(Ok(params)) => {
            let declared = || match params.is_empty() {
                true => "it takes no parameters".to_string(),
                false => format!("its params: {}", params.join(", ")),
            };
            let missing: Vec<&String> = params.iter().filter(|p| !s.with.contains_key(*p)).collect();
            if !missing.is_empty() {
                let names: Vec<String> = missing.iter().map(|n| format!("`{n}`")).collect();
                l.problem(format!("{} needs {} in `with` ({})", s.file, names.join(", "), declared()));
            }
            for unknown in s.with.keys().filter(|k| !params.contains(k)) {
                l.problem(format!("`with` gives `{unknown}`, which {} does not take ({})", s.file, declared()));
            }
        }
    }
    for (name, value) in &s.with {
        l.json_vars(value);
        if BUILTINS.contains(&name.as_str()) {
            l.problem(format!("`{name}` is reserved: a parameter cannot set it"));
        }
        l.define(name);
    }
}

//! `include`: the steps of a step file, with parameters. The file's steps are put after this
//! step when the scenario is loaded (src/scenario/include.rs); this step defines the parameters.

use serde_json::{Value, json};

use super::{Run, StepError, StepOutput};

use crate::scenario::step::include::*;
/// Defines the parameters; the included steps follow.
pub fn include(run: &mut Run<'_>, s: &IncludeStep) -> Result<StepOutput, StepError> {
    if let Some(Err(problems)) = &s.loaded {
        let said: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        return Err(StepError::other(said.join("; ")));
    }
    let mut given = serde_json::Map::new();
    for (name, value) in &s.with {
        given.insert(name.clone(), run.render_json(value)?);
    }
    let shown: Vec<String> = given
        .iter()
        .map(|(name, value)| match value {
            Value::String(text) => format!("{name}={text}"),
            other => format!("{name}={other}"),
        })
        .collect();
    for (name, value) in &given {
        run.vars.insert(name.clone(), value.clone());
    }
    let summary = match shown.is_empty() {
        true => s.file.clone(),
        false => format!("{} with {}", s.file, shown.join(", ")),
    };
    Ok(StepOutput::new(json!({"file": s.file, "with": given}), summary))
}

pub(crate) fn describe(s: &IncludeStep) -> String {
    format!("including {}", s.file)
}

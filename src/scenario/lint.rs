//! Checks a scenario can be run at all — references, regexes, manifests — before any cluster call.

use std::collections::BTreeSet;

use serde_saphyr::Spanned;

use super::assertion::Assertion;
use super::cases::CaseValues;
use super::step::lint::{IDENTITIES, MAX_NODES, STEP_TIMEOUT_RANGE, Scope, StepLint};
use super::step::{Captures, Step};
use super::template::{BUILTINS, references};
use super::{Diagnostic, Scenario, SourcePos};

/// Every problem in the scenario, in file order: the header, each step (its common fields, its
/// kind's own rules, its assertions and captures), the `finally` steps, then `observe`.
///
/// `finally` steps are linted in the scope the steps leave: they may use what any step
/// defines. At run time they may follow a step that failed before defining it; that is
/// reported as the `finally` step's failure (`undefined`).
///
/// With a table of cases the steps are linted once per case, its values known (so a `${d}` in a
/// typed field is checked against each case's value); a problem every case shares is reported
/// once.
pub fn lint(scenario: &Scenario) -> Vec<Diagnostic> {
    lint_partial(scenario, &Unparsed::default())
}

/// What the steps of a file that did not parse themselves would have added ([`super::recover`]):
/// lint of the rest takes the tokens they save and the variables they capture as defined, and
/// does not call the scenario empty.
#[derive(Debug, Default)]
pub struct Unparsed {
    pub steps: usize,
    pub vars: BTreeSet<String>,
    pub tokens: BTreeSet<String>,
}

/// [`lint`] of the steps that parsed, beside steps that did not.
pub(crate) fn lint_partial(scenario: &Scenario, unparsed: &Unparsed) -> Vec<Diagnostic> {
    let mut out = header_problems(scenario, unparsed);
    out.extend(super::cases::problems(scenario));
    out.extend(super::clusters::problems(scenario));
    for case in lint_cases(scenario) {
        let mut scope = Scope::new(case);
        scope.define(unparsed.vars.iter().cloned());
        scope.tokens.extend(unparsed.tokens.iter().cloned());
        for step in scenario.spec.steps.iter().chain(&scenario.spec.finally) {
            out.extend(step_problems(scenario, step, &mut scope));
        }
        out.extend(observe_problems(scenario, &scope));
    }
    let mut seen = BTreeSet::new();
    out.retain(|d| seen.insert(d.to_string()));
    out
}

/// The cases lint goes through: each of the table's, or none (`None`) without a table. A case
/// whose variables differ from the first case's is left out: the table's own problem says so.
fn lint_cases(scenario: &Scenario) -> Vec<Option<CaseValues>> {
    let Some(cases) = scenario.spec.cases.as_ref().filter(|c| !c.is_empty()) else { return vec![None] };
    let same_keys = |case: &super::cases::Case| case.vars.keys().eq(cases[0].value.vars.keys());
    cases
        .iter()
        .enumerate()
        .filter(|(_, case)| same_keys(&case.value))
        .map(|(index, case)| Some(CaseValues { label: case.value.label(index), vars: case.value.vars.clone() }))
        .collect()
}

/// `description`, `requires` and `steps` themselves.
fn header_problems(scenario: &Scenario, unparsed: &Unparsed) -> Vec<Diagnostic> {
    let spec = &scenario.spec;
    let mut out = Vec::new();
    if spec.description.trim().is_empty() {
        out.push(at(scenario, "description", "`description` is empty: say what behaviour this shows".into()));
    }
    for (component, flags) in spec.requires.profile().components() {
        for flag in flags.iter().filter(|f| !f.starts_with("--")) {
            out.push(at(scenario, "requires", format!("{} flag `{flag}` must start with `--`", component.binary())));
        }
    }
    if spec.requires.nodes > MAX_NODES {
        let n = spec.requires.nodes;
        let message =
            format!("`nodes: {n}`: kubeproof's local control plane runs at most {MAX_NODES} node; valid: 0 (no node, the default) or 1");
        out.push(Diagnostic { pos: requires_key_pos(scenario, "nodes"), message });
    }
    if spec.steps.is_empty() && unparsed.steps == 0 {
        out.push(at(scenario, "steps", "the scenario has no steps".into()));
    }
    out
}

/// Where a key of `requires` is written: its own line and column when it can be found among
/// the lines of `requires` (block or flow style), else `requires` itself.
fn requires_key_pos(scenario: &Scenario, key: &str) -> SourcePos {
    let requires = scenario.key_pos("requires");
    let first = requires.line as usize - 1;
    let block = scenario
        .text
        .lines()
        .enumerate()
        .skip(first)
        .take_while(|(i, line)| *i == first || line.trim().is_empty() || line.starts_with(' ') || line.starts_with('#'));
    for (i, line) in block {
        let code = line.split(" #").next().unwrap_or_default();
        let found = code
            .match_indices(&format!("{key}:"))
            .find(|(at, _)| code[..*at].chars().next_back().is_none_or(|c| c == ' ' || c == '{' || c == ','));
        if let Some((at, _)) = found {
            return SourcePos { line: i as u64 + 1, column: at as u64 + 1, ..requires };
        }
    }
    requires
}

/// One step's problems, each at the step or at its own assertion or capture; then what the step
/// defines joins the scope.
fn step_problems(scenario: &Scenario, step: &Spanned<Step>, scope: &mut Scope) -> Vec<Diagnostic> {
    let step_pos = scenario.pos_in(step, &step.referenced);
    let via = scenario.included_from(step);
    let step = &step.value;
    let mut l = StepLint { scope, at: step_pos.clone(), via, problems: Vec::new(), saves: Vec::new(), defines: Vec::new() };
    if let Some(t) = step.timeout() {
        l.range("timeout", t, STEP_TIMEOUT_RANGE);
    }
    let clusters = super::clusters::names(scenario);
    if let Some(name) = step.cluster().filter(|name| !clusters.contains(name)) {
        let valid = clusters.iter().copied().collect::<Vec<_>>().join(", ");
        l.problem(format!("`cluster: {name}` is not a cluster of the scenario (valid: {valid}; declare others under `clusters`)"));
    }
    kind_rules(step, &mut l);
    let (assertions, captures) = step.checks();
    assertion_rules(assertions, &mut l);
    if let Some(captures) = captures {
        capture_rules(captures, &mut l);
    }
    for name in &l.saves {
        if IDENTITIES.contains(&name.as_str()) || BUILTINS.contains(&name.as_str()) {
            l.problems.push((None, format!("`{name}` is reserved: save the token under another name")));
        }
    }
    let StepLint { problems, saves, defines, .. } = l;
    scope.tokens.extend(saves);
    scope.define(defines);
    if let Some(captures) = captures {
        scope.define(captures.keys().cloned());
    }
    // An included step's problems in its own file say where it was included from.
    let note = super::source::note(via);
    problems
        .into_iter()
        .map(|(pos, m)| {
            let pos = pos.unwrap_or_else(|| step_pos.clone());
            let note = if pos.file == step_pos.file { note.as_str() } else { "" };
            Diagnostic { pos, message: super::source::bounded_message(&format!("{}: {m}{note}", step.keyword())) }
        })
        .collect()
}

/// Each kind's own rules, in its file. Every kind is named, so a new one must say.
fn kind_rules(step: &Step, l: &mut StepLint) {
    use super::step::{apply, call, compare, exec, get, include, jwt, kubectl, logs, object, restart, secret_token, token, upgrade};
    match step {
        Step::ServiceAccount(s) => apply::lint_service_account(s, l),
        Step::Apply(s) => apply::lint(s, l),
        Step::Delete(s) => object::lint(s, object::Watch::Delete, l),
        Step::Absent(s) => object::lint(s, object::Watch::Absent, l),
        Step::Unchanged(s) => object::lint(s, object::Watch::Unchanged, l),
        Step::Token(s) => token::lint(s, l),
        Step::SecretToken(s) => secret_token::lint(s, l),
        Step::Call(s) => call::lint(s, l),
        Step::Jwt(s) => jwt::lint(s, l),
        Step::CompareTokens(s) => compare::lint(s, l),
        Step::Get(s) => get::lint(s, false, l),
        Step::Wait(s) => get::lint(s, true, l),
        Step::Kubectl(s) => kubectl::lint(s, l),
        Step::Exec(s) => exec::lint(s, l),
        Step::Logs(s) => logs::lint(s, l),
        Step::Include(s) => include::lint(s, l),
        Step::Upgrade(s) => upgrade::lint(s, l),
        Step::Restart(s) => restart::lint(s, l),
        Step::SigningKey(_) => {}
    }
}

/// Assertions: a JSONPath and regex that compiled at load (a path with `${…}`: once
/// substituted, when a case's values say how), something to check, defined variables in paths and
/// expected values — each problem at the assertion's own line.
fn assertion_rules(assertions: &[Spanned<Assertion>], l: &mut StepLint) {
    for spanned in assertions {
        let a = &spanned.value;
        let pos = l.pos_of(&spanned.referenced);
        let before = l.problems.len();
        if let Err(super::parsed::Invalid(e)) = a.validate() {
            l.problem(e);
        }
        if a.path_is_template() {
            l.var(a.path.as_str());
            // With a case's values the substituted path is checked now; captures, at the run.
            if let Some(rendered) = l.known(a.path.as_str())
                && let Err(super::parsed::Invalid(e)) = a.clone().with_rendered_path(&rendered)
            {
                l.problem(format!("case `{}`: {e}", l.case().unwrap_or_default()));
            }
        }
        for v in a.expected_values().into_iter().flatten() {
            l.json_vars(v);
        }
        for problem in &mut l.problems[before..] {
            problem.0 = Some(pos.clone());
        }
    }
}

/// Captures: a JSONPath that compiled at load and a name that is not reserved, each problem at
/// the capture's own line.
fn capture_rules(captures: &Captures, l: &mut StepLint) {
    for (name, path) in captures {
        let pos = Some(l.pos_of(&path.referenced));
        if let Some(e) = path.value.path.problem() {
            l.problems.push((pos.clone(), format!("capture `{name}`: {e}")));
        }
        if BUILTINS.contains(&name.as_str()) {
            l.problems.push((pos, format!("capture `{name}`: the name is reserved")));
        }
    }
}

/// `observe` may only use variables some step captures.
fn observe_problems(scenario: &Scenario, scope: &Scope) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for observe in &scenario.spec.observe {
        for name in references(observe) {
            if !scope.vars.contains(&name) {
                let known: Vec<&str> = scope.vars.iter().map(String::as_str).collect();
                let message = format!("observe: `${{{name}}}` is never captured (variables: {})", known.join(", "));
                out.push(at(scenario, "observe", message));
            }
        }
    }
    out
}

/// A diagnostic at a top-level key.
fn at(scenario: &Scenario, key: &str, message: String) -> Diagnostic {
    Diagnostic { pos: scenario.key_pos(key), message: super::source::bounded_message(&message) }
}

//! Checks a scenario can be run at all — references, regexes, manifests — before any cluster call.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::assertion::Assertion;
use super::duration::GoDuration;
use super::step::{Captures, Step};
use super::template::{BUILTINS, json_references, references};
use super::cases::CaseValues;
use super::parsed::{FromText, Templated};
use super::{Diagnostic, Scenario, SourcePos};

/// Identities `call` accepts besides saved tokens.
pub const IDENTITIES: &[&str] = &["admin", "anonymous"];

/// `requires.nodes`: the local control plane starts at most one node.
pub const MAX_NODES: u32 = 1;

/// A step's `timeout`: as the `--timeout` flag, 1s to 1h.
pub const STEP_TIMEOUT_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(3600));

/// An `absent`/`unchanged` window (`for`): more than nothing, at most 1h.
pub const WINDOW_RANGE: (Duration, Duration) = (Duration::from_millis(1), Duration::from_secs(3600));

/// A token's `duration` is sent as `expirationSeconds`, a 64-bit signed integer; what the API
/// server makes of large values is what scenarios test, so only the encoding bounds it.
pub const MAX_TOKEN_DURATION: Duration = Duration::from_secs(i64::MAX as u64);

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

/// What is defined before a step: variables (built-ins, the case's, captures, parameters) and
/// saved tokens; and the case being linted, whose values are known until something redefines them.
struct Scope {
    vars: BTreeSet<String>,
    tokens: BTreeSet<String>,
    case: Option<CaseValues>,
}

impl Scope {
    fn new(case: Option<CaseValues>) -> Scope {
        let mut vars: BTreeSet<String> = BUILTINS.iter().map(|s| s.to_string()).collect();
        vars.extend(case.iter().flat_map(|c| c.vars.keys().cloned()));
        Scope { vars, tokens: BTreeSet::new(), case }
    }

    /// `names` are (re)defined by a step: their case values are no longer what they hold.
    fn define(&mut self, names: impl IntoIterator<Item = String>) {
        for name in names {
            if let Some(case) = &mut self.case {
                case.vars.remove(&name);
            }
            self.vars.insert(name);
        }
    }
}

/// One step's lint: what its kind's rules ([`StepLint`]'s callers in src/exec/<kind>.rs) find,
/// and the tokens it saves.
pub struct StepLint<'a> {
    scope: &'a Scope,
    /// Where the step is written (in a step file, for an included step) and the includes that
    /// brought it there.
    at: SourcePos,
    via: &'a [SourcePos],
    problems: Vec<(Option<SourcePos>, String)>,
    saves: Vec<String>,
    defines: Vec<String>,
}

impl StepLint<'_> {
    /// A problem at the step's position.
    pub fn problem(&mut self, message: impl Into<String>) {
        self.problems.push((None, message.into()));
    }

    /// `${…}` in `text` must be defined before this step.
    pub fn var(&mut self, text: &str) {
        for name in references(text) {
            if self.scope.vars.contains(&name) {
                continue;
            }
            let message = match self.scope.tokens.contains(&name) {
                // Tokens never become text: they are used by name, so no `${…}` can leak one.
                true => format!("`${{{name}}}`: `{name}` is a saved token, not a variable; tokens are used by their name (`as: {name}`, `token: {name}`), never through `${{…}}`"),
                false => undefined(&name, &self.scope.vars),
            };
            self.problem(message);
        }
    }

    /// `${…}` in any string of a JSON value must be defined before this step.
    pub fn json_vars(&mut self, value: &serde_json::Value) {
        json_references(value).iter().for_each(|n| self.var(&format!("${{{n}}}")));
    }

    /// A saved token's name; with `identities`, `admin` and `anonymous` too.
    pub fn token(&mut self, name: &str, identities: bool) {
        let tokens = &self.scope.tokens;
        if tokens.contains(name) || (identities && IDENTITIES.contains(&name)) {
            return;
        }
        let mut known: Vec<String> = tokens.iter().cloned().collect();
        if identities {
            known.extend(IDENTITIES.iter().map(|s| s.to_string()));
        }
        let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
        if !references(name).is_empty() {
            // Tokens are kept apart from variables: `${…}` is never substituted in a token's name.
            self.problem(format!("`{name}`: tokens are used by their saved name, not through `${{…}}` (known: {known})"));
            return;
        }
        self.problem(format!("no token is saved as `{name}` before this step (known: {known})"));
    }

    /// The step saves a token under `name`.
    pub fn save(&mut self, name: &str) {
        self.saves.push(name.to_string());
    }

    /// The step defines the variable `name` (an include's parameter).
    pub fn define(&mut self, name: &str) {
        self.defines.push(name.to_string());
    }

    /// `text` rendered with what lint knows — the values of the case being linted — or `None`
    /// when it refers to anything else (a capture, the namespace) or there is no case.
    pub fn known(&self, text: &str) -> Option<String> {
        let case = self.scope.case.as_ref()?;
        let vars: super::template::Vars = case.vars.clone().into_iter().collect();
        super::template::render(text, &vars).ok()
    }

    /// A value parsed at load, or a template: its problem when written; for a template, its
    /// variables defined and, when lint knows its value (a case's), that value parsed. `check`
    /// judges the value either way.
    pub fn templated<T: FromText + Clone>(&mut self, value: &Templated<T>, check: impl Fn(&T) -> Result<(), String>) {
        match value {
            Templated::Written(v) => {
                if let Err(e) = check(v) {
                    self.problem(e);
                }
            }
            Templated::Template(text) => {
                self.var(text);
                let Some(rendered) = self.known(text) else { return };
                let checked = Templated::<T>::parse_rendered(text, &rendered)
                    .and_then(|v| check(&v).map_err(|e| format!("`{text}` is `{}`: {e}", super::source::excerpt(&rendered))));
                if let Err(e) = checked {
                    let case = self.case().unwrap_or_default().to_string();
                    self.problem(format!("case `{case}`: {e}"));
                }
            }
        }
    }

    /// The label of the case being linted, for messages about its values.
    pub fn case(&self) -> Option<&str> {
        self.scope.case.as_ref().map(|c| c.label.as_str())
    }

    /// A problem of an included step file: at its own place when that is inside the file (with
    /// the include chain), else at this step.
    pub fn included_problem(&mut self, problem: &Diagnostic) {
        if problem.pos.file == self.at.file {
            self.problem(problem.message.clone());
            return;
        }
        let via: Vec<SourcePos> = std::iter::once(self.at.clone()).chain(self.via.iter().cloned()).collect();
        let message = format!("{}{}", problem.message, super::include::note(&via));
        self.problems.push((Some(problem.pos.clone()), message));
    }

    /// A location inside this step, in the file the step is written in.
    pub fn pos_of(&self, loc: &serde_saphyr::Location) -> SourcePos {
        SourcePos { file: self.at.file.clone(), line: loc.line(), column: loc.column() }
    }

    /// A duration outside `(low, high)`, said with the range allowed.
    pub fn range(&mut self, key: &str, value: GoDuration, (low, high): (Duration, Duration)) {
        if value.0 < low || value.0 > high {
            self.problem(format!(
                "`{key}: {value}` is out of range: `{key}` is between {} and {}",
                GoDuration(low),
                GoDuration(high)
            ));
        }
    }

    /// The directory the step's relative manifest files are read from: its file's.
    pub fn dir(&self) -> std::path::PathBuf {
        super::source::parent_dir(&self.at.file)
    }
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
        let message = format!(
            "`nodes: {n}`: kubeproof's local control plane runs at most {MAX_NODES} node; valid: 0 (no node, the default) or 1"
        );
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
    let block = scenario.text.lines().enumerate().skip(first).take_while(|(i, line)| {
        *i == first || line.trim().is_empty() || line.starts_with(' ') || line.starts_with('#')
    });
    for (i, line) in block {
        let code = line.split(" #").next().unwrap_or_default();
        let found = code.match_indices(&format!("{key}:")).find(|(at, _)| {
            code[..*at].chars().next_back().is_none_or(|c| c == ' ' || c == '{' || c == ',')
        });
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
    let mut l =
        StepLint { scope, at: step_pos.clone(), via, problems: Vec::new(), saves: Vec::new(), defines: Vec::new() };
    if let Some(t) = step.timeout() {
        l.range("timeout", t, STEP_TIMEOUT_RANGE);
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
    let note = super::include::note(via);
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
    use crate::exec::{apply, call, compare, get, include, jwt, kubectl, logs, object, pod_exec, secret_token, token};
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
        Step::Exec(s) => pod_exec::lint(s, l),
        Step::Logs(s) => logs::lint(s, l),
        Step::Include(s) => include::lint(s, l),
    }
}

/// Assertions: a JSONPath and regex that compiled at load, something to check, defined
/// variables in expected values — each problem at the assertion's own line.
fn assertion_rules(assertions: &[Spanned<Assertion>], l: &mut StepLint) {
    for spanned in assertions {
        let a = &spanned.value;
        let pos = l.pos_of(&spanned.referenced);
        let before = l.problems.len();
        if let Err(e) = a.validate() {
            l.problem(e);
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

fn undefined(name: &str, vars: &BTreeSet<String>) -> String {
    let known: Vec<&str> = vars.iter().map(String::as_str).collect();
    format!("`${{{name}}}` is not defined before this step (defined: {})", known.join(", "))
}

/// A diagnostic at a top-level key.
fn at(scenario: &Scenario, key: &str, message: String) -> Diagnostic {
    Diagnostic { pos: scenario.key_pos(key), message: super::source::bounded_message(&message) }
}

//! One step's lint: the context each kind's rules (`step/<kind>.rs`, `lint`) report into —
//! what is defined before the step, where it is written — and the limits those rules share.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::scenario::cases::CaseValues;
use crate::scenario::duration::GoDuration;
use crate::scenario::parsed::{FromText, Invalid, Templated};
use crate::scenario::source::{Diagnostic, SourcePos};
use crate::scenario::template::{BUILTINS, json_references, references};

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

/// What is defined before a step: variables (built-ins, the case's, captures, parameters) and
/// saved tokens; and the case being linted, whose values are known until something redefines them.
pub(crate) struct Scope {
    pub(crate) vars: BTreeSet<String>,
    pub(crate) tokens: BTreeSet<String>,
    pub(crate) case: Option<CaseValues>,
}

impl Scope {
    pub(crate) fn new(case: Option<CaseValues>) -> Scope {
        let mut vars: BTreeSet<String> = BUILTINS.iter().map(|s| s.to_string()).collect();
        vars.extend(case.iter().flat_map(|c| c.vars.keys().cloned()));
        Scope { vars, tokens: BTreeSet::new(), case }
    }

    /// `names` are (re)defined by a step: their case values are no longer what they hold.
    pub(crate) fn define(&mut self, names: impl IntoIterator<Item = String>) {
        for name in names {
            if let Some(case) = &mut self.case {
                case.vars.remove(&name);
            }
            self.vars.insert(name);
        }
    }
}

/// One step's lint: what its kind's rules (`lint` in `scenario/step/<kind>.rs`) find,
/// and the tokens it saves.
pub struct StepLint<'a> {
    pub(crate) scope: &'a Scope,
    /// Where the step is written (in a step file, for an included step) and the includes that
    /// brought it there.
    pub(crate) at: SourcePos,
    pub(crate) via: &'a [SourcePos],
    pub(crate) problems: Vec<(Option<SourcePos>, String)>,
    pub(crate) saves: Vec<String>,
    pub(crate) defines: Vec<String>,
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
                true => format!(
                    "`${{{name}}}`: `{name}` is a saved token, not a variable; tokens are used by their name (`as: {name}`, `token: {name}`), never through `${{…}}`"
                ),
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
        let vars: crate::scenario::template::Vars = case.vars.clone().into_iter().collect();
        crate::scenario::template::render(text, &vars).ok()
    }

    /// A value parsed at load, or a template: its problem when written; for a template, its
    /// variables defined and, when lint knows its value (a case's), that value parsed. `check`
    /// judges the value either way.
    pub fn templated<T: FromText + Clone>(&mut self, value: &Templated<T>, check: impl Fn(&T) -> Result<(), Invalid>) {
        match value {
            Templated::Written(v) => {
                if let Err(Invalid(e)) = check(v) {
                    self.problem(e);
                }
            }
            Templated::Template(text) => {
                self.var(text);
                let Some(rendered) = self.known(text) else { return };
                let checked = Templated::<T>::parse_rendered(text, &rendered).and_then(|v| {
                    check(&v).map_err(|e| Invalid(format!("`{text}` is `{}`: {e}", crate::scenario::source::excerpt(&rendered))))
                });
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
        let message = format!("{}{}", problem.message, crate::scenario::source::note(&via));
        self.problems.push((Some(problem.pos.clone()), message));
    }

    /// A location inside this step, in the file the step is written in.
    pub fn pos_of(&self, loc: &serde_saphyr::Location) -> SourcePos {
        SourcePos { file: self.at.file.clone(), line: loc.line(), column: loc.column() }
    }

    /// A duration outside `(low, high)`, said with the range allowed.
    pub fn range(&mut self, key: &str, value: GoDuration, (low, high): (Duration, Duration)) {
        if value.0 < low || value.0 > high {
            self.problem(format!("`{key}: {value}` is out of range: `{key}` is between {} and {}", GoDuration(low), GoDuration(high)));
        }
    }

    /// The directory the step's relative manifest files are read from: its file's.
    pub fn dir(&self) -> std::path::PathBuf {
        crate::scenario::source::parent_dir(&self.at.file)
    }
}

pub(crate) fn undefined(name: &str, vars: &BTreeSet<String>) -> String {
    let known: Vec<&str> = vars.iter().map(String::as_str).collect();
    format!("`${{{name}}}` is not defined before this step (defined: {})", known.join(", "))
}

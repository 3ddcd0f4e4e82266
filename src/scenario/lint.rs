//! Checks a scenario can be run at all — references, regexes, manifests — before any cluster call.

use std::collections::BTreeSet;
use std::time::Duration;

use super::duration::GoDuration;
use super::step::{Captures, Step};
use super::template::{json_references, references, BUILTINS};
use super::{manifest, Diagnostic, Scenario};

/// Identities `call` accepts besides saved tokens.
pub const IDENTITIES: &[&str] = &["admin", "anonymous"];

/// A step's `timeout`: as the `--timeout` flag, 1s to 1h.
pub const STEP_TIMEOUT_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(3600));

/// An `absent`/`unchanged` window (`for`): more than nothing, at most 1h.
pub const WINDOW_RANGE: (Duration, Duration) = (Duration::from_millis(1), Duration::from_secs(3600));

/// A token's `duration` is sent as `expirationSeconds`, a 64-bit signed integer; what the API
/// server makes of large values is what scenarios test, so only the encoding bounds it.
pub const MAX_TOKEN_DURATION: Duration = Duration::from_secs(i64::MAX as u64);

/// Every problem in the scenario, in file order.
pub fn lint(scenario: &Scenario) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let spec = &scenario.spec;
    let mut vars: BTreeSet<String> = BUILTINS.iter().map(|s| s.to_string()).collect();
    let mut tokens: BTreeSet<String> = BTreeSet::new();

    if spec.description.trim().is_empty() {
        out.push(at(scenario, "description", "`description` is empty: say what behaviour this shows".into()));
    }
    for arg in &spec.requires.apiserver_args {
        if !arg.starts_with("--") {
            out.push(at(scenario, "requires", format!("apiserver arg `{arg}` must start with `--`")));
        }
    }
    if spec.steps.is_empty() {
        out.push(at(scenario, "steps", "the scenario has no steps".into()));
    }

    for (i, step) in spec.steps.iter().enumerate() {
        let step = &step.value;
        let mut problems = Vec::new();
        let use_var = |text: &str, problems: &mut Vec<String>| {
            for name in references(text) {
                if !vars.contains(&name) {
                    problems.push(undefined(&name, &vars));
                }
            }
        };
        let use_token = |name: &str, problems: &mut Vec<String>, allow_identity: bool| {
            if tokens.contains(name) || (allow_identity && IDENTITIES.contains(&name)) {
                return;
            }
            let mut known: Vec<String> = tokens.iter().cloned().collect();
            if allow_identity {
                known.extend(IDENTITIES.iter().map(|s| s.to_string()));
            }
            problems.push(format!(
                "no token is saved as `{name}` before this step (known: {})",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ));
        };

        if let Some(t) = step.timeout() {
            check_range("timeout", t, STEP_TIMEOUT_RANGE, &mut problems);
        }
        let mut saves: Vec<&str> = Vec::new();
        match step {
            Step::ServiceAccount(name) => use_var(name, &mut problems),
            Step::Apply(s) => match manifest::manifests(s, &scenario.dir()) {
                Ok(docs) => docs.iter().flat_map(json_references).for_each(|n| use_var(&format!("${{{n}}}"), &mut problems)),
                Err(e) => problems.push(e),
            },
            Step::Delete(s) | Step::Absent(s) | Step::Unchanged(s) => {
                use_var(&s.name, &mut problems);
                if matches!(step, Step::Unchanged(_)) && s.window.is_none() {
                    problems.push("`unchanged` needs `for`: the window to watch, e.g. `for: 5s`".into());
                }
                if let Some(w) = s.window {
                    check_range("for", w, WINDOW_RANGE, &mut problems);
                }
            }
            Step::Token(s) => {
                use_var(&s.service_account, &mut problems);
                if let Some(d) = s.duration {
                    if d.0.subsec_nanos() != 0 {
                        problems.push(format!("duration `{d}` cannot be expressed in whole seconds"));
                    }
                    if d.0 > MAX_TOKEN_DURATION {
                        problems.push(format!(
                            "duration `{d}` does not fit `expirationSeconds`: at most {}s (2^63 - 1)",
                            MAX_TOKEN_DURATION.as_secs()
                        ));
                    }
                }
                if let Some(b) = &s.bound_object {
                    use_var(&b.name, &mut problems);
                    problems.extend(b.kind.problem().map(str::to_string));
                }
                s.audiences.iter().for_each(|a| use_var(a, &mut problems));
                saves.extend(s.save.as_deref());
            }
            Step::SecretToken(s) => {
                use_var(&s.secret, &mut problems);
                saves.push(&s.save);
            }
            Step::Call(s) => {
                use_token(&s.identity, &mut problems, true);
                use_var(&s.path, &mut problems);
                if let Some(body) = &s.body {
                    json_references(body).iter().for_each(|n| use_var(&format!("${{{n}}}"), &mut problems));
                }
                if !s.path.starts_with('/') {
                    problems.push(format!("path `{}` must start with `/`", s.path));
                }
                problems.extend(s.method.problem().map(str::to_string));
            }
            Step::Jwt(s) => use_token(&s.token, &mut problems, false),
            Step::CompareTokens(s) => {
                use_token(&s.a, &mut problems, false);
                use_token(&s.b, &mut problems, false);
            }
            Step::Get(s) | Step::Wait(s) => {
                for text in s.name.iter().chain(&s.namespace).chain(&s.label_selector).chain(&s.field_selector) {
                    use_var(text, &mut problems);
                }
            }
            Step::Kubectl(s) => {
                s.args.iter().for_each(|a| use_var(a, &mut problems));
                if s.args.is_empty() {
                    problems.push("`kubectl` needs `args`".into());
                }
                saves.extend(s.save.as_deref());
            }
        }

        let (assertions, captures) = step.checks();
        for a in assertions.iter().map(|a| &a.value) {
            if let Err(e) = a.validate() {
                problems.push(e);
            }
            if let Some(v) = &a.equals {
                json_references(v).iter().for_each(|n| use_var(&format!("${{{n}}}"), &mut problems));
            }
            if let Some(v) = &a.not_equals {
                json_references(v).iter().for_each(|n| use_var(&format!("${{{n}}}"), &mut problems));
            }
            if let Some(v) = &a.contains {
                json_references(v).iter().for_each(|n| use_var(&format!("${{{n}}}"), &mut problems));
            }
        }
        if let Some(captures) = captures {
            check_captures(captures, &mut problems);
        }
        for name in saves {
            if IDENTITIES.contains(&name) || BUILTINS.contains(&name) {
                problems.push(format!("`{name}` is reserved: save the token under another name"));
            }
            tokens.insert(name.to_string());
        }
        if let Some(captures) = captures {
            vars.extend(captures.keys().cloned());
        }
        out.extend(problems.into_iter().map(|m| diag(scenario, Some(i), format!("{}: {m}", step.keyword()))));
    }

    for observe in &spec.observe {
        for name in references(observe) {
            if !vars.contains(&name) {
                let known: Vec<&str> = vars.iter().map(String::as_str).collect();
                let message = format!("observe: `${{{name}}}` is never captured (variables: {})", known.join(", "));
                out.push(at(scenario, "observe", message));
            }
        }
    }
    out
}

fn check_captures(captures: &Captures, problems: &mut Vec<String>) {
    for (name, path) in captures {
        if let Some(e) = path.value.problem() {
            problems.push(format!("capture `{name}`: {e}"));
        }
        if BUILTINS.contains(&name.as_str()) {
            problems.push(format!("capture `{name}`: the name is reserved"));
        }
    }
}

/// A duration outside `(low, high)`, said with the range allowed.
fn check_range(key: &str, value: GoDuration, (low, high): (Duration, Duration), problems: &mut Vec<String>) {
    if value.0 < low || value.0 > high {
        problems.push(format!("`{key}: {value}` is out of range: `{key}` is between {} and {}", GoDuration(low), GoDuration(high)));
    }
}

fn undefined(name: &str, vars: &BTreeSet<String>) -> String {
    let known: Vec<&str> = vars.iter().map(String::as_str).collect();
    format!("`${{{name}}}` is not defined before this step (defined: {})", known.join(", "))
}

fn diag(scenario: &Scenario, step: Option<usize>, message: String) -> Diagnostic {
    let pos = match step {
        Some(i) => scenario.step_pos(i),
        None => super::SourcePos { file: scenario.path.clone(), line: 1, column: 1 },
    };
    Diagnostic { pos, message: super::source::bounded_message(&message) }
}

/// A diagnostic at a top-level key.
fn at(scenario: &Scenario, key: &str, message: String) -> Diagnostic {
    Diagnostic { pos: scenario.key_pos(key), message: super::source::bounded_message(&message) }
}

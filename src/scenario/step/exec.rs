//! `exec`: a command in a pod's container, through the API server (`pods/exec`, over WebSocket),
//! as `kubectl exec` does it — what happens inside a pod: its mounted token, its own API calls.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::scenario::GoDuration;
use crate::scenario::assertion::Assertion;
use crate::scenario::step::lint::StepLint;
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ExecStep {
    /// The pod's name.
    pub pod: String,
    /// The pod's namespace; the scenario's when left out.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The container; left out, the pod's only (or `kubectl.kubernetes.io/default-container`) one,
    /// as the API server chooses.
    #[serde(default)]
    pub container: Option<String>,
    /// The program and its arguments, run without a shell (`[sh, -c, "…"]` for one).
    pub command: Vec<String>,
    /// Save stdout (trimmed) as a token, e.g. `[cat, /var/run/secrets/kubernetes.io/serviceaccount/token]`.
    #[serde(default)]
    pub save: Option<String>,
    /// Expected exit code; 0 when left out.
    #[serde(default)]
    pub exit: Option<i32>,
    /// Assertions on `{exit, stdout, stderr, attempts}` (tokens redacted).
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, crate::scenario::capture::Capture>")]
    pub capture: Captures,
    /// Run again (every 250 ms, within the step's timeout) until `exit` and the assertions hold.
    #[serde(default)]
    pub eventually: bool,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    /// The cluster it runs on: `main` (the default) or one of the scenario's `clusters`.
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

/// Defined variables in `pod`, `container` and `command`; a command to run.
pub fn lint(s: &ExecStep, l: &mut StepLint) {
    l.var(&s.pod);
    s.namespace.iter().for_each(|ns| l.var(ns));
    s.container.iter().for_each(|c| l.var(c));
    s.command.iter().for_each(|a| l.var(a));
    if s.pod.trim().is_empty() {
        l.problem("`exec` needs `pod`: the name of a pod (in `namespace`, else the scenario's)");
    }
    if s.command.is_empty() {
        l.problem("`exec` needs `command`: the program and its arguments, e.g. `[cat, /etc/hostname]`");
    }
    if let Some(name) = &s.save {
        l.save(name);
    }
}

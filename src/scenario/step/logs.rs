//! `logs`: a container's log, as the kubelet keeps it (`pods/log`), read through the API server.

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
pub struct LogsStep {
    /// The pod's name.
    pub pod: String,
    /// The pod's namespace; the scenario's when left out.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The container; left out, the pod's only (or default) one, as the API server chooses.
    #[serde(default)]
    pub container: Option<String>,
    /// The log of the container's previous run (after a restart).
    #[serde(default)]
    pub previous: bool,
    /// Only the last lines.
    #[serde(default)]
    pub tail_lines: Option<i64>,
    /// Assertions on `{text, attempts}` (tokens redacted).
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, crate::scenario::capture::Capture>")]
    pub capture: Captures,
    /// Read again (every 250 ms, within the step's timeout) until the log can be read and the
    /// assertions hold: for what a container prints a while after it starts.
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

/// Defined variables in `pod` and `container`; a positive `tail-lines`.
pub fn lint(s: &LogsStep, l: &mut StepLint) {
    l.var(&s.pod);
    s.namespace.iter().for_each(|ns| l.var(ns));
    s.container.iter().for_each(|c| l.var(c));
    if s.pod.trim().is_empty() {
        l.problem("`logs` needs `pod`: the name of a pod (in `namespace`, else the scenario's)");
    }
    if let Some(n) = s.tail_lines.filter(|n| *n < 0) {
        l.problem(format!("`tail-lines: {n}` must be 0 or more: the number of last lines to read"));
    }
}

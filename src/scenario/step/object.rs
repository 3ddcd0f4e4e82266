//! `delete`, `absent` and `unchanged`: an object's existence over time, watched; `delete` with
//! `status` asserts on the API server's answer, a refusal included.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::scenario::GoDuration;
use crate::scenario::assertion::Assertion;
use crate::scenario::parsed::{HttpStatus, Templated};
use crate::scenario::step::lint::StepLint;
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;

/// Names one object. `api-version` may be left out when the kind is unambiguous; `kind`,
/// `api-version`, `name` and `namespace` may use variables.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ObjectStep {
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub api_version: Option<String>,
    /// Defaults to the scenario's namespace; ignored for cluster-scoped kinds.
    #[serde(default)]
    pub namespace: Option<String>,
    /// `absent`: keep watching this long; `unchanged`: the window to watch.
    #[serde(default, rename = "for")]
    pub window: Option<GoDuration>,
    /// `absent` only: wait, watching within the step's timeout, until the object is gone (a
    /// controller deletes it, a finalizer lets go); with `for`, it must then stay absent that long.
    #[serde(default)]
    pub eventually: bool,
    /// `delete` only: expected HTTP status of the DELETE (200, 404 …); left out, any success.
    /// With it, the document is `{status, body}`. `${s}` takes a variable's value.
    #[serde(default)]
    pub status: Option<Templated<HttpStatus>>,
    /// `delete` only: assertions on the DELETE's answer (the object as it was being deleted), or
    /// on `{status, body}` with `status`.
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    /// `delete` only.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, crate::scenario::capture::Capture>")]
    pub capture: Captures,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    /// The cluster it runs on: `main` (the default) or one of the scenario's `clusters`.
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

/// What an [`ObjectStep`] watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    Delete,
    Absent,
    Unchanged,
}

/// The names may use variables; `unchanged` needs its window; a window is in range; only
/// `delete` answers with a document to expect on; only `absent` waits with `eventually`.
pub fn lint(s: &ObjectStep, watch: Watch, l: &mut StepLint) {
    for text in [&s.kind, &s.name].into_iter().chain(&s.api_version).chain(&s.namespace) {
        l.var(text);
    }
    if watch != Watch::Delete {
        let keyword = if watch == Watch::Absent { "absent" } else { "unchanged" };
        let given: Vec<&str> = [("status", s.status.is_some()), ("expect", !s.expect.is_empty()), ("capture", !s.capture.is_empty())]
            .into_iter()
            .filter_map(|(key, given)| given.then_some(key))
            .collect();
        if !given.is_empty() {
            l.problem(format!(
                "`{}` has no meaning on `{keyword}`, which only watches; `status`, `expect` and `capture` go on `delete` or `get`",
                given.join("`, `")
            ));
        }
    }
    if let Some(status) = &s.status {
        l.templated(status, |_| Ok(()));
    }
    if watch == Watch::Unchanged && s.window.is_none() {
        l.problem("`unchanged` needs `for`: the window to watch, e.g. `for: 5s`");
    }
    match watch {
        _ if !s.eventually => {}
        Watch::Absent => {}
        Watch::Delete => l.problem("`eventually` has no meaning on `delete`: it already waits until the object is gone"),
        Watch::Unchanged => l.problem(
            "`eventually` has no meaning on `unchanged`, which watches an object that exists: to wait until an object is gone, use `absent` with `eventually: true`",
        ),
    }
    if watch == Watch::Delete && s.window.is_some() {
        l.problem("`for` has no meaning on `delete` (it waits until the object is gone); to check it stays gone, add `absent` with `for`");
    }
    if let Some(w) = s.window {
        l.range("for", w, crate::scenario::step::lint::WINDOW_RANGE);
    }
}

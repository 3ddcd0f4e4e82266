//! `get` and `wait`: an object or a list, asserted on once or watched until the assertions hold.

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
pub struct GetStep {
    pub kind: String,
    /// Left out: the list of that kind.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub label_selector: Option<String>,
    #[serde(default)]
    pub field_selector: Option<String>,
    /// `get` only: expected HTTP status of one GET (200, 404, 403 …). With it, the document is
    /// `{status, body}`; without, a named object that does not exist fails the step. `${s}`
    /// takes a variable's value.
    #[serde(default)]
    pub status: Option<crate::scenario::parsed::Templated<crate::scenario::parsed::HttpStatus>>,
    /// Assertions on the object, or on `{items: [...]}` for a list.
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, crate::scenario::capture::Capture>")]
    pub capture: Captures,
    /// `get` only: read again (every 250 ms, within the step's timeout) until the object exists
    /// and the assertions hold. `wait` watches instead.
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

/// The kind, API version, name, namespace and selectors may use variables; `eventually` and
/// `status` are `get`'s only.
pub fn lint(s: &GetStep, wait: bool, l: &mut StepLint) {
    let texts = [&s.kind].into_iter().chain(&s.api_version).chain(&s.name).chain(&s.namespace);
    for text in texts.chain(&s.label_selector).chain(&s.field_selector) {
        l.var(text);
    }
    match &s.status {
        Some(_) if wait => l.problem(
            "`status` has no meaning on `wait`, which watches until its assertions hold: use `get` with `status` for one answer, `absent` for an object that must not exist",
        ),
        Some(status) => l.templated(status, |_| Ok(())),
        None => {}
    }
    if wait && s.eventually {
        l.problem("`eventually` is not a field of `wait`: `wait` already watches until the assertions hold (`get` takes `eventually`)");
    }
}

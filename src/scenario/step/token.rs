//! `token`: the TokenRequest API, sending exactly what `kubectl create token` sends.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::scenario::GoDuration;
use crate::scenario::assertion::Assertion;
use crate::scenario::parsed::{FromText, HttpStatus, Invalid, Parsed, Templated};
use crate::scenario::step::lint::StepLint;
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TokenStep {
    pub service_account: String,
    /// The ServiceAccount's namespace (and its bound object's); the scenario's own when left out.
    #[serde(default)]
    pub namespace: Option<String>,
    /// As `kubectl create token --duration`: left out or `0s` sends `expirationSeconds: null`.
    /// `${d}` takes a variable's value (a case's), parsed when the step runs.
    #[serde(default)]
    pub duration: Option<Templated<GoDuration>>,
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default)]
    pub bound_object: Option<BoundObject>,
    /// The variable the token is saved in (never printed: reports show its sha256).
    #[serde(default)]
    pub save: Option<String>,
    /// Expected HTTP status; 201 (created) when left out. `${s}` takes a variable's value.
    #[serde(default)]
    pub status: Option<Templated<HttpStatus>>,
    /// Assertions on `{status, body, warnings}`; the body is the TokenRequest or the error Status.
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
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

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BoundObject {
    /// Pod, Secret or Node.
    #[schemars(with = "String")]
    pub kind: Parsed<BoundKind>,
    pub name: String,
    /// The uid sent in `boundObjectRef` (`${old}` for a captured one): the API server answers
    /// 409 Conflict when it is not the object's. Left out, the object's own uid is looked up
    /// and sent; an object that does not exist is sent without one, for the server to refuse.
    #[serde(default)]
    pub uid: Option<String>,
}

/// The kinds of object a token can be bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundKind {
    Pod,
    Secret,
    Node,
}

impl BoundKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BoundKind::Pod => "Pod",
            BoundKind::Secret => "Secret",
            BoundKind::Node => "Node",
        }
    }
}

impl FromText for BoundKind {
    fn from_text(text: &str) -> Result<Self, Invalid> {
        match text {
            "Pod" => Ok(BoundKind::Pod),
            "Secret" => Ok(BoundKind::Secret),
            "Node" => Ok(BoundKind::Node),
            other => {
                Err(Invalid(format!("bound-object kind `{}` is not one of Pod, Secret, Node", crate::scenario::source::excerpt(other))))
            }
        }
    }
}

/// Variables defined, a duration `expirationSeconds` can carry, a bound-object kind the API
/// accepts (parsed at load), a bound-object uid that is not empty.
pub fn lint(s: &TokenStep, l: &mut StepLint) {
    l.var(&s.service_account);
    if let Some(namespace) = &s.namespace {
        l.var(namespace);
    }
    if let Some(d) = &s.duration {
        l.templated(d, sendable);
    }
    if let Some(status) = &s.status {
        l.templated(status, |_| Ok(()));
    }
    if let Some(b) = &s.bound_object {
        l.var(&b.name);
        match b.uid.as_deref() {
            Some(uid) if uid.trim().is_empty() => l.problem(
                "`bound-object.uid` is empty: give the uid to send (`${old}` for a captured one), or leave it out to send the object's own",
            ),
            Some(uid) => l.var(uid),
            None => {}
        }
        if let Some(problem) = b.kind.problem() {
            l.problem(problem);
        }
    }
    s.audiences.iter().for_each(|a| l.var(a));
    if let Some(name) = &s.save {
        l.save(name);
    }
}

/// A duration `expirationSeconds` can carry: whole seconds, at most 2^63 - 1.
pub(crate) fn sendable(d: &GoDuration) -> Result<(), Invalid> {
    if d.0.subsec_nanos() != 0 {
        return Err(Invalid(format!("duration `{d}` cannot be expressed in whole seconds")));
    }
    if d.0 > crate::scenario::step::lint::MAX_TOKEN_DURATION {
        return Err(Invalid(format!(
            "duration `{d}` does not fit `expirationSeconds`: at most {}s (2^63 - 1)",
            crate::scenario::step::lint::MAX_TOKEN_DURATION.as_secs()
        )));
    }
    Ok(())
}

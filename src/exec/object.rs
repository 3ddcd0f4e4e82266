//! `delete`, `absent` and `unchanged`: an object's existence over time, watched; `delete` with
//! `status` asserts on the API server's answer, a refusal included.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use kube::api::DeleteParams;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::scenario::GoDuration;
use crate::scenario::assertion::{Assertion, Mismatch};
use crate::scenario::lint::StepLint;
use crate::scenario::parsed::{HttpStatus, Templated};
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;
use super::StepError;
use super::observe::{Selection, observe};
use super::{Run, StepOutput, resources};

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
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

/// A Kubernetes API error as the server said it.
pub fn api_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({} {})", s.message, s.code, s.reason),
        other => other.to_string(),
    }
}

struct Target {
    resource: resources::Resource,
    api: kube::Api<kube::api::DynamicObject>,
    namespace: String,
    kind: String,
    name: String,
}

async fn target(run: &Run<'_>, s: &ObjectStep) -> Result<Target, StepError> {
    let kind = run.render(&s.kind)?;
    let api_version = s.api_version.as_deref().map(|v| run.render(v)).transpose()?;
    let resource = resources::resolve(run.cluster, api_version.as_deref(), &kind).await?;
    let namespace = run.namespace_or_own(s.namespace.as_deref())?;
    let api = resource.api(run.cluster, &namespace);
    Ok(Target { resource, api, namespace, kind, name: run.render(&s.name)? })
}

/// Sends the DELETE and, when it succeeds, watches until the object is gone (finalizers
/// included). Without `status` a refusal fails the step; with it, the answer is the document.
pub async fn delete(run: &mut Run<'_>, s: &ObjectStep) -> Result<StepOutput, StepError> {
    let t = target(run, s).await?;
    let status = super::apply::expected_status(run, &s.status)?;
    let request = t.resource.request(&t.namespace).delete(&t.name, &DeleteParams::default());
    let answer = resources::send(run.cluster, request).await?;
    if answer.succeeded() {
        observe(&t.api, Selection::named(&t.name), |list| {
            if list.items.is_empty() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .await?;
    }
    match status {
        Some(status) => Ok(answer.expected(status, &format!("delete {}/{}", t.kind, t.name))),
        None => {
            let deleted = answer.success(&format!("deleting {} {}", t.kind, t.name))?;
            Ok(StepOutput::new(deleted, format!("{} {} deleted", t.kind, t.name)))
        }
    }
}

pub async fn absent(run: &mut Run<'_>, s: &ObjectStep) -> Result<StepOutput, StepError> {
    let t = target(run, s).await?;
    let appeared = observe(&t.api, Selection::named(&t.name), |list| match list.items.first() {
        Some(obj) => ControlFlow::Break(obj.metadata.uid.clone().unwrap_or_default()),
        None if s.window.is_none() => ControlFlow::Break(String::new()),
        None => ControlFlow::Continue(()),
    });
    let found = match s.window {
        // Absent for the whole window: the watch must not see it come back.
        Some(window) => tokio::time::timeout(window.0, appeared).await.ok().transpose()?,
        None => Some(appeared.await?).filter(|uid| !uid.is_empty()),
    };
    match (found, s.window) {
        (Some(uid), _) => Err(StepError::Mismatch {
            mismatches: vec![Mismatch::new(format!("{} {}", t.kind, t.name), "absent", format!("exists (uid {uid})"))],
            summary: format!("{} {} exists", t.kind, t.name),
        }),
        (None, Some(w)) => Ok(StepOutput::new(json!({"absent": true}), format!("{} {} stayed absent for {w}", t.kind, t.name))),
        (None, None) => Ok(StepOutput::new(json!({"absent": true}), format!("{} {} is absent", t.kind, t.name))),
    }
}

pub async fn unchanged(run: &mut Run<'_>, s: &ObjectStep) -> Result<StepOutput, StepError> {
    let t = target(run, s).await?;
    let window = s.window.ok_or("`unchanged` needs `for`")?;
    let mut first: Option<(String, String)> = None;
    let changed = observe(&t.api, Selection::named(&t.name), |list| {
        let now = list.items.first().map(|o| {
            (o.metadata.uid.clone().unwrap_or_default(), o.metadata.resource_version.clone().unwrap_or_default())
        });
        match (&first, now) {
            (None, None) => ControlFlow::Break(format!("{} {} does not exist", t.kind, t.name)),
            (None, Some(v)) => {
                first = Some(v);
                ControlFlow::Continue(())
            }
            (Some(_), None) => ControlFlow::Break(format!("{} {} was deleted", t.kind, t.name)),
            (Some(a), Some(b)) if *a != b => {
                ControlFlow::Break(format!("{} {} changed (resourceVersion {} → {})", t.kind, t.name, a.1, b.1))
            }
            (Some(_), Some(_)) => ControlFlow::Continue(()),
        }
    });
    match tokio::time::timeout(window.0, changed).await {
        Ok(Ok(what)) => Err(StepError::Mismatch {
            mismatches: vec![Mismatch::new(format!("{} {}", t.kind, t.name), format!("unchanged for {window}"), what.clone())],
            summary: what,
        }),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Ok(StepOutput::new(json!({"unchanged": true}), format!("{} {} unchanged for {window}", t.kind, t.name))),
    }
}

/// What an [`ObjectStep`] watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Watch {
    Delete,
    Absent,
    Unchanged,
}

/// The names may use variables; `unchanged` needs its window; a window is in range; only
/// `delete` answers with a document to expect on.
pub(crate) fn lint(s: &ObjectStep, watch: Watch, l: &mut StepLint) {
    for text in [&s.kind, &s.name].into_iter().chain(&s.api_version).chain(&s.namespace) {
        l.var(text);
    }
    if watch != Watch::Delete {
        let keyword = if watch == Watch::Absent { "absent" } else { "unchanged" };
        let given: Vec<&str> = [
            ("status", s.status.is_some()),
            ("expect", !s.expect.is_empty()),
            ("capture", !s.capture.is_empty()),
        ]
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
    if watch == Watch::Delete && s.window.is_some() {
        l.problem("`for` has no meaning on `delete` (it waits until the object is gone); to check it stays gone, add `absent` with `for`");
    }
    if let Some(w) = s.window {
        l.range("for", w, crate::scenario::lint::WINDOW_RANGE);
    }
}

pub(crate) fn describe(s: &ObjectStep, watch: Watch, r: impl Fn(&str) -> String) -> String {
    let (kind, name) = (r(&s.kind), r(&s.name));
    match watch {
        Watch::Delete => format!("waiting for {kind} {name} to be deleted"),
        Watch::Absent => format!("watching that {kind} {name} stays absent"),
        Watch::Unchanged => format!("watching that {kind} {name} stays unchanged"),
    }
}

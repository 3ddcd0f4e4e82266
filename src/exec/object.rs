//! `delete`, `absent` and `unchanged`: an object's existence over time, watched.

use std::ops::ControlFlow;

use kube::api::DeleteParams;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::scenario::GoDuration;
use crate::scenario::assertion::Mismatch;
use crate::scenario::lint::StepLint;
use crate::version::VersionRange;
use super::StepError;
use super::observe::{Selection, observe};
use super::{Run, StepOutput, resources};

/// Names one object. `api-version` may be left out when the kind is unambiguous.
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
    api: kube::Api<kube::api::DynamicObject>,
    kind: String,
    name: String,
}

async fn target(run: &Run<'_>, s: &ObjectStep) -> Result<Target, StepError> {
    let resource = resources::resolve(run.cluster, s.api_version.as_deref(), &s.kind).await?;
    let namespace = match &s.namespace {
        Some(ns) => run.render(ns)?,
        None => run.namespace.clone(),
    };
    Ok(Target { api: resource.api(run.cluster, &namespace), kind: s.kind.clone(), name: run.render(&s.name)? })
}

pub async fn delete(run: &mut Run<'_>, s: &ObjectStep) -> Result<StepOutput, StepError> {
    let t = target(run, s).await?;
    t.api
        .delete(&t.name, &DeleteParams::default())
        .await
        .map_err(|e| format!("deleting {} {}: {}", t.kind, t.name, api_error(&e)))?;
    observe(&t.api, Selection::named(&t.name), |list| {
        if list.items.is_empty() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    })
    .await?;
    Ok(StepOutput::new(json!({"deleted": true}), format!("{} {} deleted", t.kind, t.name)))
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

/// The name may use variables; `unchanged` needs its window; a window is in range.
pub(crate) fn lint(s: &ObjectStep, watch: Watch, l: &mut StepLint) {
    l.var(&s.name);
    if watch == Watch::Unchanged && s.window.is_none() {
        l.problem("`unchanged` needs `for`: the window to watch, e.g. `for: 5s`");
    }
    if let Some(w) = s.window {
        l.range("for", w, crate::scenario::lint::WINDOW_RANGE);
    }
}

pub(crate) fn describe(s: &ObjectStep, watch: Watch, r: impl Fn(&str) -> String) -> String {
    match watch {
        Watch::Delete => format!("waiting for {} {} to be deleted", s.kind, r(&s.name)),
        Watch::Absent => format!("watching that {} {} stays absent", s.kind, r(&s.name)),
        Watch::Unchanged => format!("watching that {} {} stays unchanged", s.kind, r(&s.name)),
    }
}

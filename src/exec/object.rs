//! `delete`, `absent` and `unchanged`: an object's existence over time, watched; `delete` with
//! `status` asserts on the API server's answer, a refusal included.

use std::ops::ControlFlow;

use kube::api::DeleteParams;
use serde_json::json;

use super::StepError;
use super::observe::{Selection, observe};
use super::{Run, StepOutput, resources};
use crate::scenario::assertion::Mismatch;

use crate::scenario::step::object::*;
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
    let answer = super::request::send_built(run.cluster, request).await?.without_managed_fields();
    if answer.succeeded() {
        gone(&t).await?;
    }
    match status {
        Some(status) => Ok(answer.expected(status, &format!("delete {}/{}", t.kind, t.name))),
        None => {
            let deleted = answer.success(&format!("deleting {} {}", t.kind, t.name))?;
            Ok(StepOutput::new(deleted, format!("{} {} deleted", t.kind, t.name)))
        }
    }
}

/// Watches until the object is gone (finalizers included).
async fn gone(t: &Target) -> Result<(), StepError> {
    observe(
        &t.api,
        Selection::named(&t.name),
        |list| if list.items.is_empty() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) },
    )
    .await?;
    Ok(())
}

pub async fn absent(run: &mut Run<'_>, s: &ObjectStep) -> Result<StepOutput, StepError> {
    let t = target(run, s).await?;
    if s.eventually {
        gone(&t).await?;
    }
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
        (None, None) if s.eventually => Ok(StepOutput::new(json!({"absent": true}), format!("{} {} is gone", t.kind, t.name))),
        (None, None) => Ok(StepOutput::new(json!({"absent": true}), format!("{} {} is absent", t.kind, t.name))),
    }
}

pub async fn unchanged(run: &mut Run<'_>, s: &ObjectStep) -> Result<StepOutput, StepError> {
    let t = target(run, s).await?;
    let window = s.window.ok_or_else(|| StepError::invalid("`unchanged` needs `for`"))?;
    let mut first: Option<(String, String)> = None;
    let changed = observe(&t.api, Selection::named(&t.name), |list| {
        let now = list
            .items
            .first()
            .map(|o| (o.metadata.uid.clone().unwrap_or_default(), o.metadata.resource_version.clone().unwrap_or_default()));
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
        Ok(Err(e)) => Err(e),
        Err(_) => Ok(StepOutput::new(json!({"unchanged": true}), format!("{} {} unchanged for {window}", t.kind, t.name))),
    }
}

pub(crate) fn describe(s: &ObjectStep, watch: Watch, r: impl Fn(&str) -> String) -> String {
    let (kind, name) = (r(&s.kind), r(&s.name));
    match watch {
        Watch::Delete => format!("waiting for {kind} {name} to be deleted"),
        Watch::Absent if s.eventually => format!("waiting for {kind} {name} to be gone"),
        Watch::Absent => format!("watching that {kind} {name} stays absent"),
        Watch::Unchanged => format!("watching that {kind} {name} stays unchanged"),
    }
}

//! `delete`, `absent` and `unchanged`: an object's existence over time, watched.

use std::ops::ControlFlow;

use kube::api::DeleteParams;
use serde_json::json;

use super::StepError;
use crate::scenario::assertion::Mismatch;
use super::observe::{Selection, observe};
use super::{Run, StepOutput, resources};
use crate::scenario::step::ObjectStep;

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

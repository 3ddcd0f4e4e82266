//! `get` and `wait`: an object or a list, asserted on once or watched until the assertions hold.

use std::ops::ControlFlow;

use kube::api::{DynamicObject, ObjectList};
use serde_json::{Value, json};

use super::StepError;
use super::observe::{Selection, observe};
use super::{Run, StepOutput, evaluate, resources};

use crate::scenario::step::get::*;
pub async fn get(run: &mut Run<'_>, s: &GetStep, wait: bool) -> Result<StepOutput, StepError> {
    if wait || !s.eventually {
        return read(run, s, wait).await;
    }
    // A named object that is not there yet is an attempt that failed: read again.
    let r = |text: &str| run.render(text).unwrap_or_else(|_| text.to_string());
    let what = format!("{} {}", r(&s.kind), s.name.as_deref().map(r).unwrap_or_else(|| "list".into()));
    super::retry::eventually(run, &s.expect, &what, async |run, attempt| {
        let mut out = read(run, s, false).await?;
        if attempt > 1 {
            out.summary.push_str(&format!(" (attempt {attempt})"));
        }
        Ok(out)
    })
    .await
}

/// Reads once (`get`), or watches until the assertions hold (`wait`).
async fn read(run: &mut Run<'_>, s: &GetStep, wait: bool) -> Result<StepOutput, StepError> {
    let kind = run.render(&s.kind)?;
    let api_version = s.api_version.as_deref().map(|v| run.render(v)).transpose()?;
    let resource = resources::resolve(run.cluster, api_version.as_deref(), &kind).await?;
    let namespace = run.namespace_or_own(s.namespace.as_deref())?;
    let api = resource.api(run.cluster, &namespace);
    let name = s.name.as_deref().map(|n| run.render(n)).transpose()?;
    let selection = Selection {
        name: name.clone(),
        labels: s.label_selector.as_deref().map(|l| run.render(l)).transpose()?,
        fields: s.field_selector.as_deref().map(|f| run.render(f)).transpose()?,
    };
    let what = match &name {
        Some(n) => format!("{kind} {n}"),
        None => format!("{kind} list"),
    };
    if let Some(status) = super::apply::expected_status(run, &s.status)? {
        // One GET, answered whatever its status: the answer is the document.
        let request = resource.request(&namespace);
        let request = match &name {
            Some(n) => request.get(n, &Default::default()),
            None => request.list(&selection.list_params()),
        };
        let answer = super::request::send_built(run.cluster, request).await?.without_managed_fields();
        return Ok(answer.expected(status, &format!("get {what}")));
    }
    let to_doc = |list: &ObjectList<DynamicObject>| -> Option<Value> {
        let mut items: Vec<Value> = list.items.iter().map(clean).collect();
        match &name {
            Some(_) if items.is_empty() => None,
            Some(_) => Some(items.remove(0)),
            None => Some(json!({"items": items})),
        }
    };
    let mut last_problem = String::new();
    let doc = observe(&api, selection, |list| {
        let Some(doc) = to_doc(list) else {
            if !wait {
                return ControlFlow::Break(Err(StepError::other(format!("{what} not found"))));
            }
            last_problem = format!("{what} does not exist yet");
            return ControlFlow::Continue(());
        };
        if !wait {
            return ControlFlow::Break(Ok(doc));
        }
        match evaluate(run, super::located(run, &[], &s.expect), &doc) {
            Ok(m) if m.is_empty() => ControlFlow::Break(Ok(doc)),
            Ok(m) => {
                last_problem = m.iter().map(|m| m.to_string()).collect::<Vec<_>>().join("; ");
                ControlFlow::Continue(())
            }
            Err(e) => ControlFlow::Break(Err(e)),
        }
    });
    let doc = match tokio::time::timeout_at(run.deadline.at(), doc).await {
        Ok(r) => r??,
        Err(_) => return Err(run.deadline.timed_out(format!("{what} to satisfy the assertions"), Some(last_problem))),
    };
    let summary = match doc.get("items").and_then(Value::as_array) {
        Some(items) if name.is_none() => format!("{what}: {} item(s)", items.len()),
        _ => format!("{what} found"),
    };
    Ok(StepOutput::new(doc, summary))
}

fn clean(obj: &DynamicObject) -> Value {
    super::object_document(obj).unwrap_or(Value::Null)
}

/// `get` names the object; `wait` also what must hold of it.
pub(crate) fn describe(s: &GetStep, wait: bool, r: impl Fn(&str) -> String) -> String {
    if !wait {
        return format!("getting {} {}", r(&s.kind), s.name.as_deref().map(&r).unwrap_or_default());
    }
    let what: Vec<String> = s.expect.iter().map(|a| a.value.path.to_string()).collect();
    format!("waiting for {} {} to satisfy {}", r(&s.kind), s.name.as_deref().map(r).unwrap_or_else(|| "(list)".into()), what.join(", "))
}

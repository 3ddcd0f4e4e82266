//! `get` and `wait`: an object or a list, asserted on once or watched until the assertions hold.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use kube::api::{DynamicObject, ObjectList};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::scenario::GoDuration;
use crate::scenario::assertion::Assertion;
use crate::scenario::lint::StepLint;
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;
use super::StepError;
use super::observe::{Selection, observe};
use super::{Run, StepOutput, evaluate, resources};

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
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

pub async fn get(run: &mut Run<'_>, s: &GetStep, wait: bool) -> Result<StepOutput, StepError> {
    if wait || !s.eventually {
        return read(run, s, wait).await;
    }
    // A named object that is not there yet is an attempt that failed: read again.
    let r = |text: &str| run.render(text).unwrap_or_else(|_| text.to_string());
    let what = format!("{} {}", r(&s.kind), s.name.as_deref().map(r).unwrap_or_else(|| "list".into()));
    super::retry::eventually(run, s.timeout, &s.expect, &what, async |run, attempt| {
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
        return Ok(resources::send(run.cluster, request).await?.expected(status, &format!("get {what}")));
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
    let doc = match tokio::time::timeout(run.timeout_for(s.timeout), doc).await {
        Ok(r) => r??,
        Err(_) => {
            return Err(StepError::Timeout {
                after_ms: run.timeout_for(s.timeout).as_millis() as u64,
                waiting_for: format!("{what} to satisfy the assertions"),
                last_seen: Some(last_problem),
            });
        }
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

/// The kind, API version, name, namespace and selectors may use variables; `eventually` and
/// `status` are `get`'s only.
pub(crate) fn lint(s: &GetStep, wait: bool, l: &mut StepLint) {
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

/// `get` names the object; `wait` also what must hold of it.
pub(crate) fn describe(s: &GetStep, wait: bool, r: impl Fn(&str) -> String) -> String {
    if !wait {
        return format!("getting {} {}", r(&s.kind), s.name.as_deref().map(&r).unwrap_or_default());
    }
    let what: Vec<String> = s.expect.iter().map(|a| a.value.path.to_string()).collect();
    format!(
        "waiting for {} {} to satisfy {}",
        r(&s.kind),
        s.name.as_deref().map(r).unwrap_or_else(|| "(list)".into()),
        what.join(", ")
    )
}

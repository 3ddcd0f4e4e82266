//! What kubeproof shows about the cluster when a scenario fails: the namespace's events, the
//! objects the failing step named as the server has them, and on local clusters the end of each
//! control-plane component's log. Collected within [`BUDGET`] so that a dead cluster does not make
//! failures slow; what cannot be collected is said, never fails anything; every string is
//! redacted (component logs can hold bearer tokens and bootstrap tokens).

use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use serde_json::Value;
use tokio::time::Instant;

use super::result::{ComponentLog, Diagnostics, EventLine, ObjectState};
use super::{Run, object_document, resources};
use crate::redact;
use crate::scenario::Step;
use crate::scenario::manifest;

/// How long collecting may take in all.
pub const BUDGET: Duration = Duration::from_secs(5);

/// The namespace's last events shown.
pub const EVENTS: usize = 20;

/// The last lines of each component's log shown.
pub const LOG_LINES: usize = 20;

/// At most this many objects of one step (an `apply` of many manifests).
const OBJECTS: usize = 10;

/// A log line longer than this is cut (klog lines of request dumps can be huge).
const LINE_CHARS: usize = 400;

/// Collects the diagnostics of a failure; `step` is the step that failed, if one did. The
/// component logs come with the scenario's first failure only: a later one (of a `finally`
/// step) would repeat them.
pub(crate) async fn collect(run: &Run<'_>, step: Option<&Step>, first: bool) -> Diagnostics {
    let deadline = Instant::now() + BUDGET;
    let mut d = Diagnostics::default();
    let targets = step.map(|s| touched(run, s)).unwrap_or_default();
    let (events, objects) =
        futures::join!(tokio::time::timeout_at(deadline, events(run)), tokio::time::timeout_at(deadline, objects(run, targets)),);
    match events {
        Ok(Ok((shown, earlier))) => (d.events, d.earlier_events) = (Some(shown), earlier),
        Ok(Err(e)) => d.problems.push(format!("events of {}: {e}", run.namespace)),
        Err(_) => d.problems.push(format!("events of {}: no answer within {}s", run.namespace, BUDGET.as_secs())),
    }
    match objects {
        Ok(found) => d.objects = found,
        Err(_) => d.problems.push(format!("the step's objects: no answer within {}s", BUDGET.as_secs())),
    }
    if first {
        d.logs = logs(run);
    }
    d.problems = d.problems.iter().map(|p| redact::redact(p)).collect();
    d
}

/// The namespace's last [`EVENTS`] events, oldest first, and how many earlier ones are not shown.
async fn events(run: &Run<'_>) -> Result<(Vec<EventLine>, usize), String> {
    let api: Api<DynamicObject> = Api::namespaced_with(run.cluster.client.clone(), &run.namespace, &ApiResource::erase::<Event>(&()));
    let list = api.list(&ListParams::default()).await.map_err(|e| super::object::api_error(&e))?;
    let mut events: Vec<(Option<time::OffsetDateTime>, EventLine)> = list.items.iter().map(|e| event_line(&e.data)).collect();
    events.sort_by_key(|(when, _)| *when);
    let earlier = events.len().saturating_sub(EVENTS);
    Ok((events.into_iter().skip(earlier).map(|(_, line)| line).collect(), earlier))
}

/// One event as a line, with the time it sorts by: when it last happened, else when it was
/// first seen or created.
fn event_line(e: &Value) -> (Option<time::OffsetDateTime>, EventLine) {
    use time::format_description::well_known::Rfc3339;
    let text = |path: &str| e.pointer(path).and_then(Value::as_str).map(redact::redact);
    let time = ["/lastTimestamp", "/eventTime", "/firstTimestamp", "/metadata/creationTimestamp"]
        .iter()
        .find_map(|p| e.pointer(p).and_then(Value::as_str).filter(|s| !s.is_empty()));
    let when = time.and_then(|t| time::OffsetDateTime::parse(t, &Rfc3339).ok());
    let line = EventLine {
        time: time.map(str::to_string),
        type_: text("/type").unwrap_or_default(),
        reason: text("/reason").unwrap_or_default(),
        object: format!("{}/{}", text("/involvedObject/kind").unwrap_or_default(), text("/involvedObject/name").unwrap_or_default()),
        message: text("/message").unwrap_or_default().trim_end().to_string(),
        count: e.get("count").and_then(Value::as_i64).filter(|n| *n > 1).map(|n| n as i32),
    };
    (when, line)
}

/// An object a step names: its kind (and API version, when given), name and namespace.
struct Target {
    api_version: Option<String>,
    kind: String,
    name: String,
    namespace: Option<String>,
}

/// The objects a step names, as far as its variables are defined. Every kind is named: a new
/// kind must say what it touches.
fn touched(run: &Run<'_>, step: &Step) -> Vec<Result<Target, String>> {
    let r = |s: &str| run.render(s).map_err(undefined);
    let opt = |s: &Option<String>| s.as_deref().map(r).transpose();
    let one = |api_version: Option<String>, kind: &str, name: &str, namespace: &Option<String>| {
        Ok(Target { api_version, kind: r(kind)?, name: r(name)?, namespace: opt(namespace)? })
    };
    match step {
        Step::ServiceAccount(s) => vec![one(Some("v1".into()), "ServiceAccount", &s.name, &None)],
        Step::Apply(s) => match manifest::manifests(s, &run.scenario.dir()) {
            Ok(docs) => docs.iter().take(OBJECTS).map(|doc| manifest_target(run, doc)).collect(),
            Err(e) => vec![Err(e.to_string())],
        },
        Step::Delete(o) | Step::Absent(o) | Step::Unchanged(o) => {
            vec![opt(&o.api_version).and_then(|av| one(av, &o.kind, &o.name, &o.namespace))]
        }
        Step::Token(s) => vec![one(Some("v1".into()), "ServiceAccount", &s.service_account, &None)],
        Step::SecretToken(s) => vec![one(Some("v1".into()), "Secret", &s.secret, &None)],
        Step::Get(s) | Step::Wait(s) => match &s.name {
            Some(name) => vec![opt(&s.api_version).and_then(|av| one(av, &s.kind, name, &s.namespace))],
            // A list by selector: its events say more than a copy of every item would.
            None => Vec::new(),
        },
        Step::Exec(s) => vec![one(Some("v1".into()), "Pod", &s.pod, &s.namespace)],
        Step::Logs(s) => vec![one(Some("v1".into()), "Pod", &s.pod, &s.namespace)],
        Step::Call(_) | Step::Jwt(_) | Step::CompareTokens(_) | Step::Kubectl(_) | Step::Include(_) => Vec::new(),
        // The cluster itself: its failure names the component and the end of its log.
        Step::Upgrade(_) | Step::Restart(_) | Step::SigningKey(_) => Vec::new(),
    }
}

fn manifest_target(run: &Run<'_>, doc: &Value) -> Result<Target, String> {
    let doc = run.render_json(doc).map_err(undefined)?;
    let text = |path: &str| doc.pointer(path).and_then(Value::as_str).map(str::to_string);
    Ok(Target {
        api_version: text("/apiVersion"),
        kind: text("/kind").unwrap_or_default(),
        name: text("/metadata/name").unwrap_or_default(),
        namespace: text("/metadata/namespace"),
    })
}

/// Why a name could not be rendered (a variable the run never captured).
fn undefined(e: super::StepError) -> String {
    match e {
        super::StepError::Undefined { message } => message,
        other => other.to_string(),
    }
}

/// Each target as the server has it now, in order.
async fn objects(run: &Run<'_>, targets: Vec<Result<Target, String>>) -> Vec<ObjectState> {
    let mut out = Vec::new();
    for target in targets {
        let state = match target {
            Ok(t) => object_state(run, &t).await,
            Err(why) => ObjectState { object: "an object of the step".into(), document: None, note: Some(why) },
        };
        out.push(ObjectState {
            object: redact::redact(&state.object),
            document: state.document,
            note: state.note.map(|n| redact::redact(&n)),
        });
    }
    out
}

async fn object_state(run: &Run<'_>, t: &Target) -> ObjectState {
    let namespace = t.namespace.clone().unwrap_or_else(|| run.namespace.clone());
    let resource = match resources::resolve(run.cluster, t.api_version.as_deref(), &t.kind).await {
        Ok(resource) => resource,
        Err(e) => return ObjectState { object: format!("{} {}", t.kind, t.name), document: None, note: Some(e.to_string()) },
    };
    let object = if resource.namespaced { format!("{} {} in {namespace}", t.kind, t.name) } else { format!("{} {}", t.kind, t.name) };
    let (document, note) = match resource.api(run.cluster, &namespace).get_opt(&t.name).await {
        Ok(Some(obj)) => match object_document(&obj) {
            Ok(mut doc) => {
                shown(&mut doc, resource.api.group.is_empty() && resource.api.kind == "Secret");
                (Some(doc), None)
            }
            Err(e) => (None, Some(e)),
        },
        Ok(None) => (None, Some("not found".into())),
        Err(e) => (None, Some(super::object::api_error(&e))),
    };
    ObjectState { object, document, note }
}

/// An object as diagnostics show it: no `last-applied-configuration` (a copy of the object, a
/// Secret's data included), a Secret's data values left out (its keys stay), and redacted.
fn shown(doc: &mut Value, secret: bool) {
    if let Some(annotations) = doc.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        if annotations.is_empty() {
            doc["metadata"].as_object_mut().map(|m| m.remove("annotations"));
        }
    }
    if secret {
        for field in ["data", "stringData"] {
            if let Some(data) = doc.get_mut(field).and_then(Value::as_object_mut) {
                data.values_mut().for_each(|v| *v = Value::String(SECRET_VALUE.into()));
            }
        }
    }
    redact::redact_json(doc);
}

/// What stands for each value of a Secret's data.
pub const SECRET_VALUE: &str = "(not shown)";

/// The last lines of each component's log, on local clusters.
fn logs(run: &Run<'_>) -> Vec<ComponentLog> {
    run.cluster
        .component_logs()
        .into_iter()
        .map(|(component, path)| {
            let tail = crate::cluster::local::process::log_tail(&path, LOG_LINES);
            let lines = tail.lines().map(|line| redact::redact(&cut(line))).collect();
            ComponentLog { component: component.to_string(), lines }
        })
        .collect()
}

fn cut(line: &str) -> String {
    match line.char_indices().nth(LINE_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_keep_their_keys_and_lose_their_values() {
        let mut doc = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"aHVudGVyMg==\"}}"}},
            "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="},
            "stringData": {"extra": "plain"}
        });
        shown(&mut doc, true);
        assert_eq!(
            doc,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                   "data": {"password": SECRET_VALUE, "user": SECRET_VALUE}, "stringData": {"extra": SECRET_VALUE}})
        );
        let mut map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        shown(&mut map, false);
        assert_eq!(map["data"]["a"], "1", "other kinds keep their data");
    }

    #[test]
    fn events_read_as_lines_sorted_by_their_last_time() {
        let old = json!({"type": "Normal", "reason": "Created", "message": "created\n",
            "involvedObject": {"kind": "Pod", "name": "p"}, "lastTimestamp": "2026-01-01T00:00:05Z", "count": 1});
        let new = json!({"type": "Warning", "reason": "BackOff", "message": "back-off",
            "involvedObject": {"kind": "Pod", "name": "p"}, "eventTime": "2026-01-01T00:00:05.5Z", "count": 3});
        let (a, old) = event_line(&old);
        let (b, new) = event_line(&new);
        assert!(a < b, "microseconds count: {a:?} {b:?}");
        assert_eq!((old.object.as_str(), old.message.as_str(), old.count), ("Pod/p", "created", None));
        assert_eq!((new.type_.as_str(), new.count), ("Warning", Some(3)));
    }

    #[test]
    fn long_log_lines_are_cut() {
        assert_eq!(cut("short"), "short");
        let long = "é".repeat(LINE_CHARS + 5);
        assert_eq!(cut(&long).chars().count(), LINE_CHARS + 1);
    }
}

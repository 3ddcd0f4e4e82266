//! `apply` and `service-account`: server-side apply of any manifest, recorded for cleanup; with
//! `status`, the API server's answer is asserted on, a refusal included.

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::StepError;
use super::ledger::RUN_LABEL;
use super::observe::{Selection, observe};
use super::request::{self, Answer};
use super::resources;
use super::{Run, StepOutput};
use crate::scenario::manifest;
use crate::scenario::parsed::{HttpStatus, Templated};

use crate::scenario::step::apply::*;
/// Creates the scenario's namespace and waits for its `default` ServiceAccount, which pods and
/// most scenarios rely on.
pub async fn create_namespace(run: &Run<'_>) -> Result<(), String> {
    let namespaces: Api<Namespace> = Api::all(run.cluster.client.clone());
    let ns: Namespace = serde_json::from_value(json!({
        "metadata": {"name": run.namespace, "labels": {RUN_LABEL: run.run_id, "kubeproof.dev/scenario": label_value(&run.scenario.name)}}
    }))
    .map_err(|e| e.to_string())?;
    namespaces.create(&PostParams::default(), &ns).await.map_err(|e| e.to_string())?;
    let sa_dyn: Api<DynamicObject> =
        Api::namespaced_with(run.cluster.client.clone(), &run.namespace, &kube::discovery::ApiResource::erase::<ServiceAccount>(&()));
    let wait = observe(&sa_dyn, Selection::named("default"), |list| {
        if list.items.is_empty() { std::ops::ControlFlow::Continue(()) } else { std::ops::ControlFlow::Break(()) }
    });
    tokio::time::timeout_at(run.deadline.at(), wait)
        .await
        .map_err(|_| "the `default` ServiceAccount did not appear (is the serviceaccount controller running?)".to_string())?
        .map_err(|e| e.to_string())
}

fn label_value(s: &str) -> String {
    let v: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).take(63).collect();
    v.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}

pub async fn service_account(run: &mut Run<'_>, s: &ServiceAccountStep) -> Result<StepOutput, StepError> {
    let name = run.render(&s.name)?;
    let status = expected_status(run, &s.status)?;
    let manifest = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}});
    let applied = apply_object(run, manifest).await?;
    match status {
        Some(status) => {
            let asked = format!("apply {}", applied.what());
            Ok(applied.answer.expected(status, &asked))
        }
        None => {
            let context = applied.context();
            Ok(StepOutput::new(applied.answer.success(&context)?, format!("ServiceAccount {name} created")))
        }
    }
}

pub async fn apply(run: &mut Run<'_>, step: &ApplyStep) -> Result<StepOutput, StepError> {
    let docs = manifest::manifests(step, &run.scenario.dir()).map_err(|e| StepError::invalid(e.to_string()))?;
    if let Some(status) = expected_status(run, &step.status)? {
        let [doc] = docs.as_slice() else { return Err(StepError::invalid(several_with_status(docs.len()))) };
        let doc = run.render_json(doc)?;
        let applied = apply_object(run, doc).await?;
        let asked = format!("apply {}", applied.what());
        return Ok(applied.answer.expected(status, &asked));
    }
    let mut stored = Vec::new();
    let mut names = Vec::new();
    for doc in docs {
        let doc = run.render_json(&doc)?;
        let applied = apply_object(run, doc).await?;
        let context = applied.context();
        names.push(applied.what());
        stored.push(applied.answer.success(&context)?);
    }
    let doc = if stored.len() == 1 { stored.remove(0) } else { json!({"items": stored}) };
    Ok(StepOutput::new(doc, format!("applied {}", names.join(", "))))
}

/// The status a step expects, its template rendered.
pub(crate) fn expected_status(run: &Run<'_>, status: &Option<Templated<HttpStatus>>) -> Result<Option<u16>, StepError> {
    Ok(status.as_ref().map(|s| s.resolve(|text| run.render(text))).transpose()?.map(|s| s.0))
}

/// One object sent as a server-side apply, and the server's answer.
struct Applied {
    kind: String,
    name: String,
    answer: Answer,
}

impl Applied {
    /// `Kind/name`.
    fn what(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// How a refusal of an apply that should succeed begins: `applying Secret x`.
    fn context(&self) -> String {
        format!("applying {} {}", self.kind, self.name)
    }
}

/// Server-side applies one object, labelled with the run and recorded for cleanup before it is
/// sent; the answer is the server's whatever its status (the stored object on success).
async fn apply_object(run: &Run<'_>, mut manifest: Value) -> Result<Applied, StepError> {
    let kind = manifest["kind"].as_str().unwrap_or_default().to_string();
    let api_version = manifest["apiVersion"].as_str().unwrap_or_default().to_string();
    let name = manifest.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let resource = resources::resolve(run.cluster, Some(&api_version), &kind).await?;
    let namespace = if resource.namespaced {
        let ns = manifest.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(&run.namespace).to_string();
        manifest["metadata"]["namespace"] = json!(ns);
        Some(ns)
    } else {
        if let Some(meta) = manifest["metadata"].as_object_mut() {
            meta.remove("namespace");
        }
        None
    };
    manifest["metadata"]["labels"][RUN_LABEL] = json!(run.run_id);
    // Recorded first: a create the server half-did, or refused, is cleaned up too (gone is fine).
    run.ledger.record(&resource.api, namespace.as_deref(), &name);
    let obj: DynamicObject = serde_json::from_value(manifest).map_err(|e| StepError::invalid(format!("{kind} {name}: {e}")))?;
    let request = resource.request(namespace.as_deref().unwrap_or(&run.namespace)).patch(
        &name,
        &PatchParams::apply("kubeproof").force(),
        &Patch::Apply(&obj),
    );
    let answer = request::send_built(run.cluster, request).await?.without_managed_fields();
    Ok(Applied { kind, name, answer })
}

pub(crate) fn describe_service_account(s: &ServiceAccountStep, r: impl Fn(&str) -> String) -> String {
    format!("creating ServiceAccount {}", r(&s.name))
}

pub(crate) fn describe(_: &ApplyStep) -> String {
    "applying manifests".into()
}

//! `apply` and `service-account`: server-side apply of any manifest, recorded for cleanup.

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::scenario::GoDuration;
use crate::scenario::lint::StepLint;
use crate::scenario::manifest;
use crate::version::VersionRange;
use super::StepError;
use super::ledger::RUN_LABEL;
use super::observe::{Selection, observe};
use super::{Run, StepOutput, resources};

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ApplyStep {
    /// One manifest (a mapping), several (a sequence), or YAML text with `---` separators.
    #[serde(default)]
    pub manifest: Option<serde_json::Value>,
    /// A YAML file of manifests, relative to the scenario file and inside the directory tree the
    /// scenarios were loaded from (unless `--allow-outside-files`).
    #[serde(default)]
    pub file: Option<String>,
    /// `file` as read when the scenario was loaded (or why it could not be).
    #[serde(skip)]
    #[schemars(skip)]
    pub file_text: Option<Result<String, String>>,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

/// Creates the scenario's namespace and waits for its `default` ServiceAccount, which pods and
/// most scenarios rely on.
pub async fn create_namespace(run: &Run<'_>) -> Result<(), String> {
    let namespaces: Api<Namespace> = Api::all(run.cluster.client.clone());
    let ns: Namespace = serde_json::from_value(json!({
        "metadata": {"name": run.namespace, "labels": {RUN_LABEL: run.run_id, "kubeproof.dev/scenario": label_value(&run.scenario.name)}}
    }))
    .map_err(|e| e.to_string())?;
    namespaces.create(&PostParams::default(), &ns).await.map_err(|e| e.to_string())?;
    let sa_dyn: Api<DynamicObject> = Api::namespaced_with(
        run.cluster.client.clone(),
        &run.namespace,
        &kube::discovery::ApiResource::erase::<ServiceAccount>(&()),
    );
    let wait = observe(&sa_dyn, Selection::named("default"), |list| {
        if list.items.is_empty() { std::ops::ControlFlow::Continue(()) } else { std::ops::ControlFlow::Break(()) }
    });
    tokio::time::timeout(run.timeout, wait)
        .await
        .map_err(|_| "the `default` ServiceAccount did not appear (is the serviceaccount controller running?)".to_string())?
}

fn label_value(s: &str) -> String {
    let v: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).take(63).collect();
    v.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}

pub async fn service_account(run: &mut Run<'_>, name: &str) -> Result<StepOutput, StepError> {
    let name = run.render(name)?;
    let manifest = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}});
    let applied = apply_object(run, manifest).await?;
    Ok(StepOutput::new(applied, format!("ServiceAccount {name} created")))
}

pub async fn apply(run: &mut Run<'_>, step: &ApplyStep) -> Result<StepOutput, StepError> {
    let docs = manifest::manifests(step, &run.scenario.dir())?;
    let mut applied = Vec::new();
    let mut names = Vec::new();
    for doc in docs {
        let doc = run.render_json(&doc)?;
        let obj = apply_object(run, doc).await?;
        names.push(format!(
            "{}/{}",
            obj.get("kind").and_then(Value::as_str).unwrap_or("?"),
            obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?")
        ));
        applied.push(obj);
    }
    let doc = if applied.len() == 1 { applied.remove(0) } else { json!({"items": applied}) };
    Ok(StepOutput::new(doc, format!("applied {}", names.join(", "))))
}

/// Server-side applies one object, labelled with the run, and returns what the server stored.
pub async fn apply_object(run: &Run<'_>, mut manifest: Value) -> Result<Value, String> {
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
    run.ledger.record(&resource.api, namespace.as_deref(), &name);
    let api = resource.api(run.cluster, namespace.as_deref().unwrap_or(&run.namespace));
    let obj: DynamicObject = serde_json::from_value(manifest).map_err(|e| format!("{kind} {name}: {e}"))?;
    let stored = api
        .patch(&name, &PatchParams::apply("kubeproof").force(), &Patch::Apply(&obj))
        .await
        .map_err(|e| format!("applying {kind} {name}: {}", super::object::api_error(&e)))?;
    super::object_document(&stored)
}

/// `service-account`: its name may use variables.
pub(crate) fn lint_service_account(name: &str, l: &mut StepLint) {
    l.var(name);
}

/// The manifests (inline or from the file read at load) must be readable and their variables
/// defined.
pub(crate) fn lint(s: &ApplyStep, l: &mut StepLint) {
    match manifest::manifests(s, &l.dir()) {
        Ok(docs) => docs.iter().for_each(|d| l.json_vars(d)),
        Err(e) => l.problem(e),
    }
}

pub(crate) fn describe_service_account(name: &str, r: impl Fn(&str) -> String) -> String {
    format!("creating ServiceAccount {}", r(name))
}

pub(crate) fn describe(_: &ApplyStep) -> String {
    "applying manifests".into()
}

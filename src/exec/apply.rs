//! `apply` and `service-account`: server-side apply of any manifest, recorded for cleanup; with
//! `status`, the API server's answer is asserted on, a refusal included.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::scenario::GoDuration;
use crate::scenario::assertion::Assertion;
use crate::scenario::lint::StepLint;
use crate::scenario::manifest;
use crate::scenario::parsed::{HttpStatus, Templated};
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;
use super::StepError;
use super::ledger::RUN_LABEL;
use super::observe::{Selection, observe};
use super::resources::{self, Answer};
use super::{Run, StepOutput};

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
    /// Expected HTTP status of the apply (one manifest only): 201 created, 200 updated, 422
    /// refused… Left out: any success. With it, the document is `{status, body}`. `${s}` takes
    /// a variable's value.
    #[serde(default)]
    pub status: Option<Templated<HttpStatus>>,
    /// Assertions on the stored object (`{items: [...]}` for several manifests), or on
    /// `{status, body}` with `status`.
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, crate::scenario::capture::Capture>")]
    pub capture: Captures,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

/// `service-account`: a ServiceAccount in the scenario's namespace. Written as its name
/// (`service-account: sauser`) or as a mapping with the name and what to expect
/// (`service-account: {name: Bad_Name, status: 422}`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServiceAccountStep {
    /// The ServiceAccount's name.
    pub name: String,
    /// Expected HTTP status of the apply; left out: any success. With it, the document is
    /// `{status, body}`. `${s}` takes a variable's value.
    #[serde(default)]
    pub status: Option<Templated<HttpStatus>>,
    /// Assertions on the stored ServiceAccount, or on `{status, body}` with `status`.
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, crate::scenario::capture::Capture>")]
    pub capture: Captures,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

/// The two ways to write `service-account`, for the schema.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum ServiceAccountForm {
    /// The name only.
    Name(String),
    /// The name and what to expect.
    Long(ServiceAccountStep),
}

/// Reads `service-account` in either form; the long form's errors (unknown keys, wrong types)
/// are its own fields', at their positions.
pub(crate) fn short_or_long<'de, D: Deserializer<'de>>(d: D) -> Result<ServiceAccountStep, D::Error> {
    struct Form;
    impl<'de> serde::de::Visitor<'de> for Form {
        type Value = ServiceAccountStep;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a ServiceAccount name, or a mapping with `name` (and `status`, `expect`, `capture`, `versions`, `timeout`)")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<ServiceAccountStep, E> {
            Err(E::custom("`service-account` is missing its value: expected a string (the ServiceAccount's name) or a mapping with `name`"))
        }
        fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<ServiceAccountStep, E> {
            Ok(ServiceAccountStep { name: name.to_string(), ..Default::default() })
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ServiceAccountStep, A::Error> {
            ServiceAccountStep::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(Form)
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
    let docs = manifest::manifests(step, &run.scenario.dir())?;
    if let Some(status) = expected_status(run, &step.status)? {
        let [doc] = docs.as_slice() else { return Err(several_with_status(docs.len()).into()) };
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

fn several_with_status(count: usize) -> String {
    format!("`status` is the answer to one apply: give one manifest, not {count} (split them into several `apply` steps)")
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
    let obj: DynamicObject = serde_json::from_value(manifest).map_err(|e| format!("{kind} {name}: {e}"))?;
    let request = resource
        .request(namespace.as_deref().unwrap_or(&run.namespace))
        .patch(&name, &PatchParams::apply("kubeproof").force(), &Patch::Apply(&obj));
    let answer = resources::send(run.cluster, request).await?;
    Ok(Applied { kind, name, answer })
}

/// `service-account`: its name may use variables; a `status` is an HTTP status.
pub(crate) fn lint_service_account(s: &ServiceAccountStep, l: &mut StepLint) {
    l.var(&s.name);
    if let Some(status) = &s.status {
        l.templated(status, |_| Ok(()));
    }
}

/// The manifests (inline or from the file read at load) must be readable and their variables
/// defined; `status` is the answer to one apply, so it goes with one manifest.
pub(crate) fn lint(s: &ApplyStep, l: &mut StepLint) {
    match manifest::manifests(s, &l.dir()) {
        Ok(docs) => {
            docs.iter().for_each(|d| l.json_vars(d));
            if s.status.is_some() && docs.len() != 1 {
                l.problem(several_with_status(docs.len()));
            }
        }
        Err(e) => l.problem(e),
    }
    if let Some(status) = &s.status {
        l.templated(status, |_| Ok(()));
    }
}

pub(crate) fn describe_service_account(s: &ServiceAccountStep, r: impl Fn(&str) -> String) -> String {
    format!("creating ServiceAccount {}", r(&s.name))
}

pub(crate) fn describe(_: &ApplyStep) -> String {
    "applying manifests".into()
}

#[cfg(test)]
mod tests {
    use crate::scenario::{Scenario, Step};

    #[test]
    fn service_account_takes_a_name_or_a_mapping() {
        let text = "description: d\nsteps:\n  - service-account: short\n  - service-account: {name: long, status: 422, versions: '>=1.24', expect: [{path: $.body.reason, equals: Invalid}]}\n";
        let scenario = Scenario::parse(std::path::Path::new("s.yaml"), text).unwrap();
        let [short, long] = [0, 1].map(|i| match &scenario.spec.steps[i].value {
            Step::ServiceAccount(s) => s.clone(),
            other => panic!("{other:?}"),
        });
        assert_eq!((short.name.as_str(), short.status.is_none(), short.expect.len()), ("short", true, 0));
        assert_eq!(long.name, "long");
        assert_eq!(long.status.map(|s| s.to_string()), Some("422".into()));
        assert_eq!(long.expect.len(), 1);
        assert!(scenario.spec.steps[1].value.versions().is_some(), "the long form is version-gated");
        assert!(crate::scenario::lint::lint(&scenario).is_empty());
    }
}

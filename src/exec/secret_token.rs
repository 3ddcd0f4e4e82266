//! `secret-token`: the token the controller writes into a `kubernetes.io/service-account-token` Secret.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::scenario::GoDuration;
use crate::scenario::assertion::Assertion;
use crate::scenario::lint::StepLint;
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;
use super::StepError;
use super::observe::{Selection, observe};
use super::{Run, StepOutput, redact};

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SecretTokenStep {
    /// The Secret's name, in the scenario's namespace.
    pub secret: String,
    pub save: String,
    /// Assertions on the Secret (its token redacted).
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

pub async fn secret_token(run: &mut Run<'_>, s: &SecretTokenStep) -> Result<StepOutput, StepError> {
    let name = run.render(&s.secret)?;
    let api: Api<DynamicObject> =
        Api::namespaced_with(run.cluster.client.clone(), &run.namespace, &ApiResource::erase::<Secret>(&()));
    let secret = observe(&api, Selection::named(&name), |list| match list.items.first() {
        Some(obj) if obj.data.pointer("/data/token").and_then(Value::as_str).is_some_and(|t| !t.is_empty()) => {
            ControlFlow::Break(obj.clone())
        }
        _ => ControlFlow::Continue(()),
    })
    .await?;
    let encoded = secret.data.pointer("/data/token").and_then(Value::as_str).unwrap_or_default();
    let token = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("Secret {name}: data.token is not base64: {e}"))?;
    let token = String::from_utf8(token).map_err(|_| format!("Secret {name}: the token is not text"))?;
    let summary = format!("Secret {name} holds token {}", redact::fingerprint(&token));
    run.save_token(&s.save, token.clone());

    // The Secret's document keeps its keys; redaction turns the token's value into its fingerprint.
    Ok(StepOutput::new(super::object_document(&secret)?, summary))
}

pub(crate) fn lint(s: &SecretTokenStep, l: &mut StepLint) {
    l.var(&s.secret);
    l.save(&s.save);
}

pub(crate) fn describe(s: &SecretTokenStep, r: impl Fn(&str) -> String) -> String {
    format!("waiting for the token controller to fill Secret {}", r(&s.secret))
}

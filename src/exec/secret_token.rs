//! `secret-token`: the token the controller writes into a `kubernetes.io/service-account-token` Secret.

use std::ops::ControlFlow;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use serde_json::Value;

use super::StepError;
use super::observe::{Selection, observe};
use super::{Run, StepOutput};
use crate::redact;

use crate::scenario::step::secret_token::*;
pub async fn secret_token(run: &mut Run<'_>, s: &SecretTokenStep) -> Result<StepOutput, StepError> {
    let name = run.render(&s.secret)?;
    let api: Api<DynamicObject> = Api::namespaced_with(run.cluster.client.clone(), &run.namespace, &ApiResource::erase::<Secret>(&()));
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
        .map_err(|e| StepError::other(format!("Secret {name}: data.token is not base64: {e}")))?;
    let token = String::from_utf8(token).map_err(|_| StepError::other(format!("Secret {name}: the token is not text")))?;
    let summary = format!("Secret {name} holds token {}", redact::fingerprint(&token));
    run.save_token(&s.save, token.clone());

    // The Secret's document keeps its keys; redaction turns the token's value into its fingerprint.
    Ok(StepOutput::new(super::object_document(&secret).map_err(StepError::other)?, summary))
}

pub(crate) fn describe(s: &SecretTokenStep, r: impl Fn(&str) -> String) -> String {
    format!("waiting for the token controller to fill Secret {}", r(&s.secret))
}

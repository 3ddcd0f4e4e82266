//! `token`: the TokenRequest API, sending exactly what `kubectl create token` sends.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::scenario::GoDuration;
use crate::scenario::assertion::Assertion;
use crate::scenario::lint::StepLint;
use crate::scenario::parsed::{FromText, HttpStatus, Parsed, Templated};
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;
use super::StepError;
use super::{Run, StepOutput, expect_equal, redact};

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TokenStep {
    pub service_account: String,
    /// As `kubectl create token --duration`: left out or `0s` sends `expirationSeconds: null`.
    /// `${d}` takes a variable's value (a case's), parsed when the step runs.
    #[serde(default)]
    pub duration: Option<Templated<GoDuration>>,
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default)]
    pub bound_object: Option<BoundObject>,
    /// The variable the token is saved in (never printed: reports show its sha256).
    #[serde(default)]
    pub save: Option<String>,
    /// Expected HTTP status; 201 (created) when left out. `${s}` takes a variable's value.
    #[serde(default)]
    pub status: Option<Templated<HttpStatus>>,
    /// Assertions on `{status, body, warnings}`; the body is the TokenRequest or the error Status.
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

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BoundObject {
    /// Pod, Secret or Node.
    #[schemars(with = "String")]
    pub kind: Parsed<BoundKind>,
    pub name: String,
}

/// The kinds of object a token can be bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundKind {
    Pod,
    Secret,
    Node,
}

impl BoundKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BoundKind::Pod => "Pod",
            BoundKind::Secret => "Secret",
            BoundKind::Node => "Node",
        }
    }
}

impl FromText for BoundKind {
    fn from_text(text: &str) -> Result<Self, String> {
        match text {
            "Pod" => Ok(BoundKind::Pod),
            "Secret" => Ok(BoundKind::Secret),
            "Node" => Ok(BoundKind::Node),
            other => Err(format!("bound-object kind `{}` is not one of Pod, Secret, Node", crate::scenario::source::excerpt(other))),
        }
    }
}

pub async fn token(run: &mut Run<'_>, s: &TokenStep) -> Result<StepOutput, StepError> {
    let sa = run.render(&s.service_account)?;
    // kubectl sends null for an unset or zero duration; the server then defaults to 3600 s.
    let duration = s.duration.as_ref().map(|d| d.resolve(|text| run.render(text))).transpose()?;
    if let Some(d) = &duration {
        sendable(d)?;
    }
    let expected = s.status.as_ref().map(|st| st.resolve(|text| run.render(text))).transpose()?.map_or(201, |st| st.0);
    let expiration = match duration {
        Some(d) if !d.0.is_zero() => json!(d.0.as_secs()),
        _ => Value::Null,
    };
    let audiences = if s.audiences.is_empty() {
        Value::Null
    } else {
        json!(s.audiences.iter().map(|a| run.render(a)).collect::<Result<Vec<_>, _>>()?)
    };
    let bound = match &s.bound_object {
        None => Value::Null,
        Some(b) => {
            let name = run.render(&b.name)?;
            let kind = *b.kind.get()?;
            let path = match kind {
                BoundKind::Node => format!("/api/v1/nodes/{name}"),
                BoundKind::Pod => format!("/api/v1/namespaces/{}/pods/{name}", run.namespace),
                BoundKind::Secret => format!("/api/v1/namespaces/{}/secrets/{name}", run.namespace),
            };
            let (status, obj, _) = admin_request(run, http::Method::GET, &path, None).await?;
            if status != 200 {
                return Err(format!("bound object {} {name}: {}", b.kind, obj.get("message").and_then(Value::as_str).unwrap_or("not found")).into());
            }
            let uid = obj.pointer("/metadata/uid").cloned().unwrap_or(Value::Null);
            json!({"kind": kind.as_str(), "apiVersion": "v1", "name": name, "uid": uid})
        }
    };
    let body = json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": {"audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": bound},
        "status": {"token": "", "expirationTimestamp": null}
    });
    let path = format!("/api/v1/namespaces/{}/serviceaccounts/{sa}/token", run.namespace);
    let (status, response, warnings) = admin_request(run, http::Method::POST, &path, Some(body)).await?;
    let mut summary = format!("TokenRequest for {sa} → {status}");
    if let Some(token) = response.pointer("/status/token").and_then(Value::as_str).filter(|t| !t.is_empty()) {
        summary.push_str(&format!(
            ", {}s, token {}",
            response.pointer("/spec/expirationSeconds").map(|v| v.to_string()).unwrap_or_default(),
            redact::fingerprint(token)
        ));
        if let Some(name) = &s.save {
            run.save_token(name, token.to_string());
        }
    } else if let Some(msg) = response.get("message").and_then(Value::as_str) {
        summary.push_str(&format!(": {msg}"));
    }
    let doc = json!({"status": status, "body": response, "warnings": warnings});
    Ok(StepOutput::new(doc, summary).implying(expect_equal("$.status", json!(expected))))
}

/// A request as the cluster admin (kube's own client and credentials), built and sent as
/// `call` sends it: status, JSON body, and the `Warning` headers.
pub async fn admin_request(
    run: &Run<'_>,
    method: http::Method,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value, Vec<String>), String> {
    use super::call;
    let body = body.map(|b| serde_json::to_vec(&b)).transpose().map_err(|e| e.to_string())?;
    let content_type = call::content_type(&method, None);
    let request = call::request(&method, path, body.map(|b| (b, content_type)), http::HeaderMap::new())?;
    let answer = call::send(run, call::Sender::Admin, request).await?;
    Ok((answer.status, super::body_document(&answer.body), answer.warnings()))
}

/// Variables defined, a duration `expirationSeconds` can carry, a bound-object kind the API
/// accepts (parsed at load).
pub(crate) fn lint(s: &TokenStep, l: &mut StepLint) {
    l.var(&s.service_account);
    if let Some(d) = &s.duration {
        l.templated(d, sendable);
    }
    if let Some(status) = &s.status {
        l.templated(status, |_| Ok(()));
    }
    if let Some(b) = &s.bound_object {
        l.var(&b.name);
        if let Some(problem) = b.kind.problem() {
            l.problem(problem);
        }
    }
    s.audiences.iter().for_each(|a| l.var(a));
    if let Some(name) = &s.save {
        l.save(name);
    }
}

/// A duration `expirationSeconds` can carry: whole seconds, at most 2^63 - 1.
fn sendable(d: &GoDuration) -> Result<(), String> {
    if d.0.subsec_nanos() != 0 {
        return Err(format!("duration `{d}` cannot be expressed in whole seconds"));
    }
    if d.0 > crate::scenario::lint::MAX_TOKEN_DURATION {
        return Err(format!(
            "duration `{d}` does not fit `expirationSeconds`: at most {}s (2^63 - 1)",
            crate::scenario::lint::MAX_TOKEN_DURATION.as_secs()
        ));
    }
    Ok(())
}

pub(crate) fn describe(s: &TokenStep, r: impl Fn(&str) -> String) -> String {
    format!("requesting a token for ServiceAccount {}", r(&s.service_account))
}

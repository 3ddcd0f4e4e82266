//! `token`: the TokenRequest API, sending exactly what `kubectl create token` sends.

use serde_json::{Value, json};

use super::StepError;
use super::{Run, StepOutput, expect_equal, request};
use crate::redact;

use crate::scenario::step::token::*;
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
    let audiences =
        if s.audiences.is_empty() { Value::Null } else { json!(s.audiences.iter().map(|a| run.render(a)).collect::<Result<Vec<_>, _>>()?) };
    let namespace = run.namespace_or_own(s.namespace.as_deref())?;
    let bound = match &s.bound_object {
        None => Value::Null,
        Some(b) => {
            let name = run.render(&b.name)?;
            let kind = *b.kind.get()?;
            let path = match kind {
                BoundKind::Node => format!("/api/v1/nodes/{name}"),
                BoundKind::Pod => format!("/api/v1/namespaces/{namespace}/pods/{name}"),
                BoundKind::Secret => format!("/api/v1/namespaces/{namespace}/secrets/{name}"),
            };
            let uid = match &b.uid {
                Some(uid) => json!(run.render(uid)?),
                None => {
                    let answer = request::admin(run.cluster, http::Method::GET, &path, None).await?;
                    match answer.status {
                        200 => answer.body.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
                        // Sent without a uid: the API server's own refusal is what `status` checks.
                        404 => Value::Null,
                        status => {
                            let why = answer.body.get("message").and_then(Value::as_str).unwrap_or("unreadable");
                            return Err(StepError::other(format!("bound object {} {name}: {why} ({status})", b.kind)));
                        }
                    }
                }
            };
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
    let path = format!("/api/v1/namespaces/{namespace}/serviceaccounts/{sa}/token");
    let answer = request::admin(run.cluster, http::Method::POST, &path, Some(body)).await?;
    let warnings = answer.warnings();
    let (status, response) = (answer.status, answer.body);
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

pub(crate) fn describe(s: &TokenStep, r: impl Fn(&str) -> String) -> String {
    format!("requesting a token for ServiceAccount {}", r(&s.service_account))
}

//! `call`: an HTTPS request to the API server, as curl with `Authorization: Bearer` would make it.

use serde_json::{Value, json};

use super::token::admin_request;
use super::{Run, StepOutput};
use crate::scenario::assertion::Assertion;
use crate::scenario::step::CallStep;

pub async fn call(run: &mut Run<'_>, s: &CallStep) -> Result<StepOutput, String> {
    let path = run.render(&s.path)?;
    let method = http::Method::from_bytes(s.method.to_uppercase().as_bytes()).map_err(|e| e.to_string())?;
    let body = s.body.as_ref().map(|b| run.render_json(b)).transpose()?;
    let (status, response) = match s.identity.as_str() {
        "admin" => {
            let (status, json, _) = admin_request(run, method.clone(), &path, body).await?;
            (status, json)
        }
        identity => {
            // Independent of kube's authentication: reqwest, the cluster CA, and this bearer token only.
            let http = run.cluster.http()?;
            let mut request = http
                .request(reqwest::Method::from_bytes(method.as_str().as_bytes()).map_err(|e| e.to_string())?, format!("{}{path}", run.cluster.server()))
                .header("Accept", "application/json");
            if identity != "anonymous" {
                request = request.bearer_auth(run.token(identity)?);
            }
            if let Some(b) = &body {
                request = request.json(b);
            }
            let response = request.send().await.map_err(|e| format!("{method} {path}: {e}"))?;
            let status = response.status().as_u16();
            let bytes = response.bytes().await.map_err(|e| format!("{method} {path}: {e}"))?;
            let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            (status, json)
        }
    };
    let mut summary = format!("{method} {path} as {} → {status}", s.identity);
    if let Some(msg) = response.get("message").and_then(Value::as_str) {
        summary.push_str(&format!(": {msg}"));
    }
    let implied = match s.status {
        Some(code) => super::expect_equal("$.status", json!(code)),
        None => Assertion { path: "$.status".into(), matches: None, equals: None, ..Default::default() },
    };
    let out = StepOutput::new(json!({"status": status, "body": response}), summary);
    if s.status.is_none() && !(200..300).contains(&status) {
        return Err(format!("expected a 2xx status, observed {status}\n  {}", out.summary));
    }
    Ok(if s.status.is_some() { out.implying(implied) } else { out })
}

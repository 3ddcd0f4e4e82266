//! `call`: an HTTPS request to the API server, as curl with `Authorization: Bearer` would make it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::scenario::GoDuration;
use crate::scenario::assertion::Assertion;
use crate::scenario::assertion::Mismatch;
use crate::scenario::lint::StepLint;
use crate::scenario::parsed::Parsed;
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;
use super::StepError;
use super::token::admin_request;
use super::{Run, StepOutput};

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CallStep {
    /// A saved token's name, `admin`, or `anonymous`.
    #[serde(rename = "as")]
    pub identity: String,
    /// GET, POST, PUT, PATCH, DELETE or HEAD (any case).
    #[serde(default = "get_method")]
    #[schemars(with = "String")]
    pub method: Parsed<http::Method>,
    pub path: String,
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// Expected HTTP status; any 2xx when left out.
    #[serde(default)]
    pub status: Option<u16>,
    /// Assertions on `{status, body, attempts}`.
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    /// Repeat the request (every 250 ms, within the step's timeout) until the status and
    /// assertions hold — for what changes without an object to watch, such as the API server's
    /// 10-second token authentication cache.
    #[serde(default)]
    pub eventually: bool,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub capture: Captures,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

fn get_method() -> Parsed<http::Method> {
    Parsed::new("GET")
}

pub async fn call(run: &mut Run<'_>, s: &CallStep) -> Result<StepOutput, StepError> {
    if !s.eventually {
        return once(run, s, 1).await;
    }
    // Retried until the checks hold; the step's timeout bounds it and names the last result.
    let started = std::time::Instant::now();
    // Leave room for the last pause, so this message — not the outer timeout's — reports.
    let limit = run.timeout_for(s.timeout).saturating_sub(std::time::Duration::from_millis(300));
    let mut attempts = 1;
    loop {
        let out = once(run, s, attempts).await;
        let last = match &out {
            Ok(o) => match super::evaluate(run, super::located(run, &o.implied, &s.expect), &o.doc)? {
                m if m.is_empty() => return out,
                m => format!("{}; last: {}", m.iter().map(|m| m.to_string()).collect::<Vec<_>>().join("; "), o.summary),
            },
            Err(e) => format!("{e:?}"),
        };
        if started.elapsed() >= limit {
            return Err(StepError::Timeout {
                after_ms: started.elapsed().as_millis() as u64,
                waiting_for: format!("{} {} to be as expected ({attempts} attempts)", s.method, s.path),
                last_seen: Some(last),
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        attempts += 1;
    }
}

async fn once(run: &mut Run<'_>, s: &CallStep, attempts: u32) -> Result<StepOutput, StepError> {
    let path = run.render(&s.path)?;
    let method = s.method.get()?.clone();
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
                .header("Accept", "application/json, */*");
            if identity != "anonymous" {
                request = request.bearer_auth(run.token(identity)?);
            }
            if let Some(b) = &body {
                request = request.json(b);
                if method == http::Method::PATCH {
                    request = request.header("Content-Type", "application/merge-patch+json");
                }
            }
            let response = request.send().await.map_err(|e| format!("{method} {path}: {e}"))?;
            let status = response.status().as_u16();
            let bytes = response.bytes().await.map_err(|e| format!("{method} {path}: {e}"))?;
            let json = super::body_document(&bytes);
            (status, json)
        }
    };
    let mut summary = format!("{method} {path} as {} → {status}", s.identity);
    if let Some(msg) = response.get("message").and_then(Value::as_str) {
        summary.push_str(&format!(": {msg}"));
    }
    if attempts > 1 {
        summary.push_str(&format!(" (attempt {attempts})"));
    }
    let out = StepOutput::new(json!({"status": status, "body": response, "attempts": attempts}), summary);
    match s.status {
        Some(code) => Ok(out.implying(super::expect_equal("$.status", json!(code)))),
        None if (200..300).contains(&status) => Ok(out),
        None => Err(StepError::Mismatch {
            mismatches: vec![Mismatch::new("$.status", "a 2xx status", status.to_string())],
            summary: out.summary,
        }),
    }
}

/// A known identity, a defined path and body, a path from the root, a method `call` sends
/// (parsed at load).
pub(crate) fn lint(s: &CallStep, l: &mut StepLint) {
    l.token(&s.identity, true);
    l.var(&s.path);
    if let Some(body) = &s.body {
        l.json_vars(body);
    }
    if !s.path.starts_with('/') {
        l.problem(format!("path `{}` must start with `/`", s.path));
    }
    if let Some(problem) = s.method.problem() {
        l.problem(problem);
    }
}

pub(crate) fn describe(s: &CallStep, r: impl Fn(&str) -> String) -> String {
    format!("calling {} {}", s.method.as_str().to_uppercase(), r(&s.path))
}

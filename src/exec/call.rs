//! `call`: an HTTPS request to the API server, as curl with `Authorization: Bearer` would make it.

use serde_json::{Value, json};

use super::request::{Sender, content_type, request, send};
use super::{Run, StepError, StepOutput};
use crate::scenario::assertion::Mismatch;

use crate::scenario::step::call::*;
pub async fn call(run: &mut Run<'_>, s: &CallStep) -> Result<StepOutput, StepError> {
    let what = || format!("{} {}", s.method, s.path);
    super::retry::once_or_eventually(run, s.eventually, &s.expect, what, async |run, attempt| once(run, s, attempt).await).await
}

async fn once(run: &mut Run<'_>, s: &CallStep, attempts: u32) -> Result<StepOutput, StepError> {
    let path = run.render(&s.path)?;
    let method = s.method.get()?.clone();
    let body = match (&s.body, &s.body_text) {
        (Some(b), _) => {
            let mut body = run.render_json(b)?;
            if let Some(t) = &s.body_token {
                place_token(&mut body, &t.pointer, run.token(&t.token)?).map_err(|e| StepError::invalid(e.to_string()))?;
            }
            Some(serde_json::to_vec(&body).map_err(|e| StepError::invalid(e.to_string()))?)
        }
        (None, Some(text)) => Some(run.render(text)?.into_bytes()),
        (None, None) => None,
    };
    let patch = s.patch.as_ref().map(|p| p.get().copied()).transpose()?;
    let mut headers = http::HeaderMap::new();
    for (name, values) in &s.headers.0 {
        // A list repeats the header, one value each, in order.
        for value in &values.values {
            let mut value = http::HeaderValue::from_bytes(run.render(value)?.as_bytes()).map_err(|_| {
                StepError::invalid(format!(
                    "header `{name}`: after `${{…}}` substitution its value holds a character a header cannot carry"
                ))
            })?;
            // Kept out of debug output and of HTTP/2 header compression tables.
            value.set_sensitive(true);
            headers.append(name.get()?.clone(), value);
        }
    }
    let request = request(&method, &path, body.map(|b| (b, content_type(&method, patch))), headers)?;
    let sender = match s.identity.as_str() {
        "admin" => Sender::Admin,
        "anonymous" => Sender::Bearer(None),
        token => Sender::Bearer(Some(run.token(token)?)),
    };
    let answer = send(run.cluster, sender, request).await?;
    let status = answer.status;
    let headers = answer.headers_document();
    let response = answer.body;
    let mut summary = format!("{method} {path} as {} → {status}", s.identity);
    if let Some(msg) = response.get("message").and_then(Value::as_str) {
        summary.push_str(&format!(": {msg}"));
    }
    if attempts > 1 {
        summary.push_str(&format!(" (attempt {attempts})"));
    }
    let doc = json!({"status": status, "headers": headers, "body": response, "attempts": attempts});
    let out = StepOutput::new(doc, summary);
    match s.status {
        Some(code) => Ok(out.implying(super::expect_equal("$.status", json!(code)))),
        None if (200..300).contains(&status) => Ok(out),
        None => Err(StepError::Mismatch {
            mismatches: vec![Mismatch::new("$.status", "a 2xx status", status.to_string())],
            summary: out.summary,
        }),
    }
}

pub(crate) fn describe(s: &CallStep, r: impl Fn(&str) -> String) -> String {
    match &s.patch {
        Some(patch) => format!("calling {} {} ({patch} patch)", s.method.as_str().to_uppercase(), r(&s.path)),
        None => format!("calling {} {}", s.method.as_str().to_uppercase(), r(&s.path)),
    }
}

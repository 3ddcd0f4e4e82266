//! `call`: an HTTPS request to the API server, as curl with `Authorization: Bearer` would make it.

use serde_json::{Value, json};

use super::StepError;
use super::{Run, StepOutput};
use crate::scenario::assertion::Mismatch;
use crate::scenario::source::excerpt;

use crate::scenario::step::call::*;
pub async fn call(run: &mut Run<'_>, s: &CallStep) -> Result<StepOutput, StepError> {
    let what = || format!("{} {}", s.method, s.path);
    super::retry::once_or_eventually(run, s.eventually, s.timeout, &s.expect, what, async |run, attempt| once(run, s, attempt).await).await
}

async fn once(run: &mut Run<'_>, s: &CallStep, attempts: u32) -> Result<StepOutput, StepError> {
    let path = run.render(&s.path)?;
    let method = s.method.get()?.clone();
    let body = match (&s.body, &s.body_text) {
        (Some(b), _) => {
            let mut body = run.render_json(b)?;
            if let Some(t) = &s.body_token {
                place_token(&mut body, &t.pointer, run.token(&t.token)?)?;
            }
            Some(serde_json::to_vec(&body).map_err(|e| e.to_string())?)
        }
        (None, Some(text)) => Some(run.render(text)?.into_bytes()),
        (None, None) => None,
    };
    let patch = s.patch.as_ref().map(|p| p.get().copied()).transpose()?;
    let mut headers = http::HeaderMap::new();
    for (name, value) in &s.headers.0 {
        let mut value = http::HeaderValue::from_bytes(run.render(value)?.as_bytes())
            .map_err(|_| format!("header `{name}`: after `${{…}}` substitution its value holds a character a header cannot carry"))?;
        // Kept out of debug output and of HTTP/2 header compression tables.
        value.set_sensitive(true);
        headers.append(name.get()?.clone(), value);
    }
    let request = request(&method, &path, body.map(|b| (b, content_type(&method, patch))), headers)?;
    let sender = match s.identity.as_str() {
        "admin" => Sender::Admin,
        "anonymous" => Sender::Bearer(None),
        token => Sender::Bearer(Some(run.token(token)?)),
    };
    let answer = send(run, sender, request).await?;
    let status = answer.status;
    let response = super::body_document(&answer.body);
    let mut summary = format!("{method} {path} as {} → {status}", s.identity);
    if let Some(msg) = response.get("message").and_then(Value::as_str) {
        summary.push_str(&format!(": {msg}"));
    }
    if attempts > 1 {
        summary.push_str(&format!(" (attempt {attempts})"));
    }
    let doc = json!({"status": status, "headers": answer.headers_document(), "body": response, "attempts": attempts});
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

/// A body's `Content-Type`: a patch's media type for PATCH (merge patch unless said), JSON
/// otherwise.
pub(crate) fn content_type(method: &http::Method, patch: Option<PatchType>) -> &'static str {
    match method {
        &http::Method::PATCH => patch.unwrap_or(PatchType::Merge).media_type(),
        _ => "application/json",
    }
}

/// Who sends a request.
pub(crate) enum Sender<'a> {
    /// kube's client, with the cluster admin's credentials.
    Admin,
    /// A client of its own, independent of kube's authentication: it trusts the cluster's CA
    /// only and sends this bearer token, or no credentials at all.
    Bearer(Option<&'a str>),
}

/// What the API server answered.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// Lowercase header name → every value, in the order received (a list even for one).
    fn headers_document(&self) -> Value {
        let mut doc = serde_json::Map::new();
        for name in self.headers.keys() {
            let values: Vec<Value> = self.headers.get_all(name).iter().map(|v| json!(String::from_utf8_lossy(v.as_bytes()))).collect();
            doc.insert(name.as_str().to_string(), Value::Array(values));
        }
        Value::Object(doc)
    }

    /// The `Warning` headers' values.
    pub fn warnings(&self) -> Vec<String> {
        self.headers.get_all(http::header::WARNING).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect()
    }
}

/// A request as kubeproof sends it, whoever sends it: `Accept: application/json, */*` and, with
/// a body, its content type; `headers` replace either. The path is percent-encoded as curl
/// would send it.
pub(crate) fn request(
    method: &http::Method,
    path: &str,
    body: Option<(Vec<u8>, &str)>,
    headers: http::HeaderMap,
) -> Result<http::Request<Vec<u8>>, String> {
    let url = reqwest::Url::parse(&format!("https://api.invalid{path}")).map_err(|e| format!("path `{}`: {e}", excerpt(path)))?;
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let mut builder = http::Request::builder().method(method.clone()).uri(target).header(http::header::ACCEPT, "application/json, */*");
    if let Some((_, content_type)) = &body {
        builder = builder.header(http::header::CONTENT_TYPE, *content_type);
    }
    let mut request = builder.body(body.map(|(bytes, _)| bytes).unwrap_or_default()).map_err(|e| format!("{method} {path}: {e}"))?;
    // Extending by a map replaces the values of each name it holds.
    request.headers_mut().extend(headers);
    Ok(request)
}

/// Sends a request and reads the whole answer.
pub(crate) async fn send(run: &Run<'_>, sender: Sender<'_>, request: http::Request<Vec<u8>>) -> Result<Answer, String> {
    use http_body_util::BodyExt;
    let what = format!("{} {}", request.method(), request.uri());
    match sender {
        Sender::Admin => {
            let response = run.cluster.client.send(request.map(kube::client::Body::from)).await.map_err(|e| format!("{what}: {e}"))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.into_body().collect().await.map_err(|e| format!("{what}: {e}"))?.to_bytes().to_vec();
            Ok(Answer { status, headers, body })
        }
        Sender::Bearer(token) => {
            let (parts, body) = request.into_parts();
            let mut request = run
                .cluster
                .http()?
                .request(parts.method, format!("{}{}", run.cluster.server(), parts.uri))
                .headers(parts.headers)
                .body(body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(|e| format!("{what}: {e}"))?.to_vec();
            Ok(Answer { status, headers, body })
        }
    }
}

pub(crate) fn describe(s: &CallStep, r: impl Fn(&str) -> String) -> String {
    match &s.patch {
        Some(patch) => format!("calling {} {} ({patch} patch)", s.method.as_str().to_uppercase(), r(&s.path)),
        None => format!("calling {} {}", s.method.as_str().to_uppercase(), r(&s.path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(request: &http::Request<Vec<u8>>, name: &str) -> Vec<String> {
        request.headers().get_all(name).iter().map(|v| v.to_str().unwrap().to_string()).collect()
    }

    #[test]
    fn one_content_type_whatever_the_patch() {
        for (patch, media) in [
            (None, "application/merge-patch+json"),
            (Some(PatchType::Json), "application/json-patch+json"),
            (Some(PatchType::Strategic), "application/strategic-merge-patch+json"),
            (Some(PatchType::Apply), "application/apply-patch+yaml"),
        ] {
            let r = request(
                &http::Method::PATCH,
                "/x",
                Some((b"{}".to_vec(), content_type(&http::Method::PATCH, patch))),
                http::HeaderMap::new(),
            )
            .unwrap();
            assert_eq!(header(&r, "content-type"), [media]);
        }
        let post =
            request(&http::Method::POST, "/x", Some((b"{}".to_vec(), content_type(&http::Method::POST, None))), http::HeaderMap::new())
                .unwrap();
        assert_eq!(header(&post, "content-type"), ["application/json"]);
        let get = request(&http::Method::GET, "/x", None, http::HeaderMap::new()).unwrap();
        assert!(header(&get, "content-type").is_empty(), "no body, no content type");
    }

    #[test]
    fn headers_replace_the_defaults_and_keep_their_values() {
        let mut extra = http::HeaderMap::new();
        extra.insert(http::header::ACCEPT, "application/yaml".parse().unwrap());
        extra.insert(http::header::CONTENT_TYPE, "text/plain".parse().unwrap());
        extra.append("x-two", "a".parse().unwrap());
        extra.append("x-two", "b".parse().unwrap());
        let r = request(&http::Method::POST, "/x", Some((b"hi".to_vec(), "application/json")), extra).unwrap();
        assert_eq!(header(&r, "accept"), ["application/yaml"]);
        assert_eq!(header(&r, "content-type"), ["text/plain"]);
        assert_eq!(header(&r, "x-two"), ["a", "b"]);
        assert_eq!(r.body(), b"hi");
    }

    #[test]
    fn paths_are_encoded_as_curl_would() {
        let r = request(&http::Method::GET, "/api/v1/pods?labelSelector=a in (b)", None, http::HeaderMap::new()).unwrap();
        assert_eq!(r.uri().to_string(), "/api/v1/pods?labelSelector=a%20in%20(b)");
        let r = request(&http::Method::GET, "/apis/x/v1/namespaces/ns/things?fieldManager=kp", None, http::HeaderMap::new()).unwrap();
        assert_eq!(r.uri().to_string(), "/apis/x/v1/namespaces/ns/things?fieldManager=kp");
        let r = request(&http::Method::GET, "/api/v1/../v1/./pods", None, http::HeaderMap::new()).unwrap();
        assert_eq!(r.uri().to_string(), "/api/v1/pods");
    }

    #[test]
    fn response_headers_are_lists_under_lowercase_names() {
        let mut headers = http::HeaderMap::new();
        headers.append("Warning", "299 - \"one\"".parse().unwrap());
        headers.append("Warning", "299 - \"two\"".parse().unwrap());
        headers.append("Content-Type", "application/json".parse().unwrap());
        let answer = Answer { status: 201, headers, body: Vec::new() };
        assert_eq!(answer.headers_document(), json!({"warning": ["299 - \"one\"", "299 - \"two\""], "content-type": ["application/json"]}));
        assert_eq!(answer.warnings(), ["299 - \"one\"", "299 - \"two\""]);
    }
}

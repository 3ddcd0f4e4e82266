//! The one request path to the API server: a request built as kubeproof sends it, sent as the
//! admin (kube's client) or as a bearer token (a client of its own), and the answer read whole —
//! status, headers, and the body as JSON (or as text when it is not JSON). `call`, `apply`,
//! `get`, `delete` and `token` all go through here; what a step shows of it is redacted by the
//! step's output as every document is.

use serde_json::{Value, json};

use super::{StepError, StepOutput};
use crate::cluster::Cluster;
use crate::scenario::source::excerpt;
use crate::scenario::step::call::PatchType;

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

/// What the API server answered, whatever its status.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    /// The response as JSON (an object, a Status…), or its text as a string when it is not JSON.
    pub body: Value,
}

impl Answer {
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The same answer without `metadata.managedFields` (of the object, or of each item of a
    /// list), which only the server's bookkeeping reads: what resource steps show.
    pub fn without_managed_fields(mut self) -> Answer {
        strip_managed_fields(&mut self.body);
        for item in self.body.get_mut("items").and_then(Value::as_array_mut).into_iter().flatten() {
            strip_managed_fields(item);
        }
        self
    }

    /// The body of a success; a refusal as the failure of a step that expected success, with
    /// the server's code, reason and message.
    pub fn success(self, context: &str) -> Result<Value, StepError> {
        if self.succeeded() {
            return Ok(self.body);
        }
        let field = |key: &str| self.body.get(key).and_then(Value::as_str).map(str::to_string);
        let message = match &self.body {
            Value::String(text) => text.trim().to_string(),
            _ => field("message").unwrap_or_default(),
        };
        Err(StepError::Api { code: self.status, reason: field("reason").unwrap_or_default(), message: format!("{context}: {message}") })
    }

    /// The document of a step with `status`: `{status, body}`, with the assertion `status`
    /// stands for; the summary says what was asked, the status and the server's message.
    pub fn expected(self, status: u16, asked: &str) -> StepOutput {
        let mut summary = format!("{asked} → {}", self.status);
        if let Some(message) = self.body.get("message").and_then(Value::as_str) {
            summary.push_str(&format!(": {message}"));
        }
        StepOutput::new(json!({"status": self.status, "body": self.body}), summary).implying(super::expect_equal("$.status", json!(status)))
    }

    /// Lowercase header name → every value, in the order received (a list even for one).
    pub fn headers_document(&self) -> Value {
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

/// Removes `metadata.managedFields` from an object's JSON.
pub(crate) fn strip_managed_fields(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
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
) -> Result<http::Request<Vec<u8>>, StepError> {
    let url = reqwest::Url::parse(&format!("https://api.invalid{path}"))
        .map_err(|e| StepError::other(format!("path `{}`: {e}", excerpt(path))))?;
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let mut builder = http::Request::builder().method(method.clone()).uri(target).header(http::header::ACCEPT, "application/json, */*");
    if let Some((_, content_type)) = &body {
        builder = builder.header(http::header::CONTENT_TYPE, *content_type);
    }
    let mut request =
        builder.body(body.map(|(bytes, _)| bytes).unwrap_or_default()).map_err(|e| StepError::other(format!("{method} {path}: {e}")))?;
    // Extending by a map replaces the values of each name it holds.
    request.headers_mut().extend(headers);
    Ok(request)
}

/// Sends a request and reads the whole answer, whatever its status.
pub(crate) async fn send(cluster: &Cluster, sender: Sender<'_>, request: http::Request<Vec<u8>>) -> Result<Answer, StepError> {
    use http_body_util::BodyExt;
    let what = format!("{} {}", request.method(), request.uri().path());
    let failed = |e: &dyn std::fmt::Display| StepError::other(format!("{what}: {e}"));
    let (status, headers, bytes) = match sender {
        Sender::Admin => {
            let response = cluster
                .client
                .send(request.map(kube::client::Body::from))
                .await
                .map_err(|e| failed(&crate::cluster::describe_error(&e)))?;
            let (status, headers) = (response.status().as_u16(), response.headers().clone());
            (status, headers, response.into_body().collect().await.map_err(|e| failed(&e))?.to_bytes().to_vec())
        }
        Sender::Bearer(token) => {
            let (parts, body) = request.into_parts();
            let client = cluster.http().map_err(|e| StepError::other(e.to_string()))?;
            let mut request = client.request(parts.method, format!("{}{}", cluster.server(), parts.uri)).headers(parts.headers).body(body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.map_err(|e| failed(&e))?;
            let (status, headers) = (response.status().as_u16(), response.headers().clone());
            (status, headers, response.bytes().await.map_err(|e| failed(&e))?.to_vec())
        }
    };
    Ok(Answer { status, headers, body: super::body_document(&bytes) })
}

/// A request kube's own builders made (a resource's URL), sent as the admin.
pub(crate) async fn send_built(
    cluster: &Cluster,
    request: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
) -> Result<Answer, StepError> {
    let request = request.map_err(|e| StepError::other(format!("cannot build the request: {e}")))?;
    send(cluster, Sender::Admin, request).await
}

/// A request as the cluster admin, built and sent as `call` sends it.
pub(crate) async fn admin(cluster: &Cluster, method: http::Method, path: &str, body: Option<Value>) -> Result<Answer, StepError> {
    let body = body.map(|b| serde_json::to_vec(&b)).transpose().map_err(|e| StepError::other(e.to_string()))?;
    let content_type = content_type(&method, None);
    send(cluster, Sender::Admin, request(&method, path, body.map(|b| (b, content_type)), http::HeaderMap::new())?).await
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
        let answer = Answer { status: 201, headers, body: Value::Null };
        assert_eq!(answer.headers_document(), json!({"warning": ["299 - \"one\"", "299 - \"two\""], "content-type": ["application/json"]}));
        assert_eq!(answer.warnings(), ["299 - \"one\"", "299 - \"two\""]);
    }

    fn refusal() -> Answer {
        let body = json!({"kind": "Status", "status": "Failure", "reason": "Invalid", "code": 422,
            "message": "ConfigMap \"c\" is invalid: data: Forbidden: field is immutable when `immutable` is set",
            "details": {"causes": [{"field": "data"}]}});
        Answer { status: 422, headers: http::HeaderMap::new(), body }
    }

    #[test]
    fn a_refusal_fails_a_step_that_expected_success_with_code_reason_and_message() {
        let error = refusal().success("applying ConfigMap c").unwrap_err();
        let StepError::Api { code, reason, message } = error else { panic!("{error:?}") };
        assert_eq!((code, reason.as_str()), (422, "Invalid"));
        assert_eq!(
            message,
            "applying ConfigMap c: ConfigMap \"c\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
        );
        let text = Answer { status: 404, headers: http::HeaderMap::new(), body: json!("404 page not found\n") }
            .success("deleting Widget w")
            .unwrap_err();
        assert_eq!(text, StepError::Api { code: 404, reason: String::new(), message: "deleting Widget w: 404 page not found".into() });
        let stored = Answer { status: 201, headers: http::HeaderMap::new(), body: json!({"kind": "ConfigMap"}) }
            .success("applying ConfigMap c")
            .unwrap();
        assert_eq!(stored, json!({"kind": "ConfigMap"}));
    }

    #[test]
    fn an_expected_answer_is_the_document_and_its_status_an_assertion() {
        let out = refusal().expected(409, "apply ConfigMap/c");
        assert_eq!(out.doc["status"], json!(422));
        assert_eq!(out.doc["body"]["details"]["causes"][0]["field"], json!("data"));
        assert!(out.summary.starts_with("apply ConfigMap/c → 422: ConfigMap \"c\" is invalid"), "{}", out.summary);
        let [implied] = out.implied.as_slice() else { panic!("{:?}", out.implied) };
        let miss = implied.check(&out.doc).unwrap_err();
        assert_eq!((miss.expected.as_str(), miss.observed.as_str()), ("409", "422"));
        assert!(refusal().expected(422, "apply ConfigMap/c").implied[0].check(&json!({"status": 422})).is_ok());
    }
}

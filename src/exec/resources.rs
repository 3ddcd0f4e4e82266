//! Finding the API resource for a kind (discovery, read again when a kind is missing), dynamic
//! APIs for it, and the API server's answer to one request whatever its status.

use std::time::Instant;

use kube::api::Api;
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use super::{StepError, StepOutput};
use crate::cluster::Cluster;
pub use crate::cluster::discovery::Resource;
use crate::cluster::discovery::{find, split_api_version};

/// Resolves `kind` (and, when given, `apiVersion`). Without an apiVersion the kind must be
/// unambiguous; the core group and stable versions are preferred.
///
/// Kinds can appear during a run (a CRD applied by an earlier step), so a kind missing from the
/// cluster's discovery is looked for once more in a discovery read after the miss, and then
/// among the Established CustomResourceDefinitions: the API server serves a CRD's kind as soon
/// as it is Established, and its discovery documents follow a moment later.
pub async fn resolve(cluster: &Cluster, api_version: Option<&str>, kind: &str) -> Result<Resource, String> {
    let missed = Instant::now();
    let known = cluster.discovery.current(&cluster.client).await?;
    if let Some(found) = find(&known, api_version, kind)? {
        return Ok(found);
    }
    let fresh = cluster.discovery.read_since(&cluster.client, missed).await?;
    if let Some(found) = find(&fresh, api_version, kind)? {
        return Ok(found);
    }
    let unreadable = match fresh.unreadable.as_slice() {
        [] => String::new(),
        some => format!("; discovery could not read {}", some.join("; ")),
    };
    established_crd(cluster, api_version, kind).await?.ok_or_else(|| match api_version {
        Some(av) => format!("the cluster serves no kind `{kind}` in `{av}`{unreadable}"),
        None => format!(
            "the cluster serves no kind `{kind}` (kinds are case-sensitive: ServiceAccount, Secret, ClusterRoleBinding …){unreadable}"
        ),
    })
}

/// The resource of an Established CustomResourceDefinition defining `kind` (in `api_version`'s
/// group and served version when given; else its highest-priority served version, as discovery
/// prefers).
async fn established_crd(cluster: &Cluster, api_version: Option<&str>, kind: &str) -> Result<Option<Resource>, String> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
    // Without the right to list them (a restricted context), discovery's answer stands.
    let Ok(crds) = crds.list(&Default::default()).await else { return Ok(None) };
    let mut found: Vec<Resource> = Vec::new();
    for crd in crds.items {
        let spec = &crd.spec;
        let established =
            crd.status.iter().flat_map(|s| s.conditions.iter().flatten()).any(|c| c.type_ == "Established" && c.status == "True");
        if spec.names.kind != kind || !established {
            continue;
        }
        let served = spec.versions.iter().filter(|v| v.served).map(|v| v.name.as_str());
        let version = match api_version.map(split_api_version) {
            Some((group, version)) if group == spec.group => served.into_iter().find(|v| *v == version),
            Some(_) => None,
            None => served.max_by_key(|v| kube::core::Version::parse(v).priority()),
        };
        if let Some(version) = version {
            let api = ApiResource {
                group: spec.group.clone(),
                version: version.to_string(),
                api_version: format!("{}/{version}", spec.group),
                kind: kind.to_string(),
                plural: spec.names.plural.clone(),
            };
            found.push(Resource { api, namespaced: spec.scope == "Namespaced" });
        }
    }
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        many => {
            let versions: Vec<&str> = many.iter().map(|r| r.api.api_version.as_str()).collect();
            Err(format!("kind `{kind}` is served by several API groups ({}): give `api-version`", versions.join(", ")))
        }
    }
}

/// The API server's answer to one request, whatever its status: what a step with `status`
/// asserts on.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: u16,
    /// The response as JSON (an object without `metadata.managedFields`, a Status…), or its
    /// text as a string when it is not JSON.
    pub body: Value,
}

impl Answer {
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
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
    pub(crate) fn expected(self, status: u16, asked: &str) -> StepOutput {
        let mut summary = format!("{asked} → {}", self.status);
        if let Some(message) = self.body.get("message").and_then(Value::as_str) {
            summary.push_str(&format!(": {message}"));
        }
        StepOutput::new(json!({"status": self.status, "body": self.body}), summary).implying(super::expect_equal("$.status", json!(status)))
    }
}

/// Sends one request as the admin and takes its answer, whatever the status.
pub(crate) async fn send(
    cluster: &Cluster,
    request: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
) -> Result<Answer, StepError> {
    use http_body_util::BodyExt;
    let request = request.map_err(|e| StepError::other(format!("cannot build the request: {e}")))?;
    let what = format!("{} {}", request.method(), request.uri().path());
    let response = cluster
        .client
        .send(request.map(kube::client::Body::from))
        .await
        .map_err(|e| StepError::other(format!("{what}: {}", crate::cluster::describe_error(&e))))?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.map_err(|e| StepError::other(format!("{what}: {e}")))?.to_bytes();
    let mut body = super::body_document(&bytes);
    if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    for item in body.get_mut("items").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(meta) = item.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
    }
    Ok(Answer { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal() -> Answer {
        let body = json!({"kind": "Status", "status": "Failure", "reason": "Invalid", "code": 422,
            "message": "ConfigMap \"c\" is invalid: data: Forbidden: field is immutable when `immutable` is set",
            "details": {"causes": [{"field": "data"}]}});
        Answer { status: 422, body }
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
        let text = Answer { status: 404, body: json!("404 page not found\n") }.success("deleting Widget w").unwrap_err();
        assert_eq!(text, StepError::Api { code: 404, reason: String::new(), message: "deleting Widget w: 404 page not found".into() });
        let stored = Answer { status: 201, body: json!({"kind": "ConfigMap"}) }.success("applying ConfigMap c").unwrap();
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

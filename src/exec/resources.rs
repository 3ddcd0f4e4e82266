//! Finding the API resource for a kind (discovery, read again when a kind is missing), dynamic
//! APIs for it, and the API server's answer to one request whatever its status.

use std::sync::Arc;
use std::time::Instant;

use kube::api::{Api, DynamicObject};
use futures::StreamExt;
use kube::core::GroupVersion;
use kube::discovery::{ApiCapabilities, ApiGroup, ApiResource, Discovery, Scope, oneshot};
use serde_json::{Value, json};

use super::{StepError, StepOutput};
use crate::cluster::Cluster;

/// A kind resolved against the cluster's discovery.
#[derive(Clone, Debug)]
pub struct Resource {
    pub api: ApiResource,
    pub namespaced: bool,
}

impl Resource {
    /// A dynamic API for this resource, in `namespace` when it is namespaced.
    pub fn api(&self, cluster: &Cluster, namespace: &str) -> Api<DynamicObject> {
        if self.namespaced {
            Api::namespaced_with(cluster.client.clone(), namespace, &self.api)
        } else {
            Api::all_with(cluster.client.clone(), &self.api)
        }
    }

    /// Requests on this resource, in `namespace` when it is namespaced (for steps that assert on
    /// the answer, whatever its status).
    pub fn request(&self, namespace: &str) -> kube::core::Request {
        let namespace = self.namespaced.then_some(namespace);
        kube::core::Request::new(<DynamicObject as kube::Resource>::url_path(&self.api, namespace))
    }
}

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
        let established = crd.status.iter().flat_map(|s| s.conditions.iter().flatten()).any(|c| c.type_ == "Established" && c.status == "True");
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

/// The resource serving `kind` in one discovery; `None` when none does, an error when several do.
fn find(read: &DiscoveryRead, api_version: Option<&str>, kind: &str) -> Result<Option<Resource>, String> {
    let wanted = |s: &&Served| match api_version {
        Some(av) => (s.api.group.as_str(), s.api.version.as_str()) == split_api_version(av),
        None => s.preferred,
    };
    // Subresources share kinds with their parents (e.g. serviceaccounts/token is a TokenRequest).
    let mut found: Vec<&Served> =
        read.served.iter().filter(|s| s.api.kind == kind && !s.api.plural.contains('/')).filter(wanted).collect();
    if found.len() > 1 && api_version.is_none() {
        // `Event` lives in core and events.k8s.io: the core group wins, as in kubectl.
        if let Some(core) = found.iter().position(|s| s.api.group.is_empty()) {
            found = vec![found.swap_remove(core)];
        }
    }
    match found.as_slice() {
        [one] => Ok(Some(Resource { api: one.api.clone(), namespaced: one.caps.scope == Scope::Namespaced })),
        [] => Ok(None),
        many => {
            let versions: Vec<&str> = many.iter().map(|s| s.api.api_version.as_str()).collect();
            Err(format!("kind `{kind}` is served by several API groups ({}): give `api-version`", versions.join(", ")))
        }
    }
}

fn split_api_version(av: &str) -> (&str, &str) {
    match av.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", av),
    }
}

/// One reading of the cluster's discovery: every resource served, and when the reading began.
pub struct DiscoveryRead {
    served: Vec<Served>,
    /// Group versions that could not be read (an aggregated API that is down), for messages.
    unreadable: Vec<String>,
    began: Instant,
}

/// A resource at one version of its group.
struct Served {
    api: ApiResource,
    caps: ApiCapabilities,
    /// At its group's preferred version: what a kind without `api-version` resolves to.
    preferred: bool,
}

impl DiscoveryRead {
    fn add_group(&mut self, group: &ApiGroup) {
        let preferred = group.preferred_version_or_latest();
        for version in group.versions() {
            for (api, caps) in group.versioned_resources(version) {
                self.served.push(Served { api, caps, preferred: version == preferred });
            }
        }
    }
}

/// The cluster's discovery, shared by every scenario running on the connection: read on first
/// use, and read again when a kind is missing from it. One reading at a time; a scenario that
/// misses a kind takes a reading that began after its miss (another scenario's, if one did),
/// so each miss costs at most one reading and never trusts one that predates it.
#[derive(Default)]
pub struct DiscoveryCache {
    latest: tokio::sync::Mutex<Option<Arc<DiscoveryRead>>>,
}

impl DiscoveryCache {
    /// The latest reading; the first use reads.
    pub async fn current(&self, client: &kube::Client) -> Result<Arc<DiscoveryRead>, String> {
        let mut latest = self.latest.lock().await;
        match &*latest {
            Some(read) => Ok(read.clone()),
            None => Ok(latest.insert(read(client).await?).clone()),
        }
    }

    /// A reading that began at `since` or later: the latest if it did, else a new one.
    pub async fn read_since(&self, client: &kube::Client, since: Instant) -> Result<Arc<DiscoveryRead>, String> {
        let mut latest = self.latest.lock().await;
        match &*latest {
            Some(read) if read.began >= since => Ok(read.clone()),
            _ => Ok(latest.insert(read(client).await?).clone()),
        }
    }
}

/// Reads discovery: aggregated (two requests, one consistent view; 1.26 and later) when the
/// server offers it, else every group version at once. A group version listed and then gone
/// (another scenario's CRD, deleted meanwhile) is left out; one that cannot be read (an
/// aggregated API that is down) is left out and named.
async fn read(client: &kube::Client) -> Result<Arc<DiscoveryRead>, String> {
    let began = Instant::now();
    let mut read = DiscoveryRead { served: Vec::new(), unreadable: Vec::new(), began };
    // An older server answers with the plain lists, which read as an empty aggregated discovery.
    if let Ok(discovery) = Discovery::new(client.clone()).run_aggregated().await
        && discovery.has_group(ApiGroup::CORE_GROUP)
    {
        discovery.groups().for_each(|g| read.add_group(g));
        return Ok(Arc::new(read));
    }
    let failed = |e: kube::Error| format!("API discovery failed: {e}");
    let core = client.list_core_api_versions().await.map_err(failed)?;
    let groups = client.list_api_groups().await.map_err(failed)?;
    let mut versions: Vec<(GroupVersion, bool)> = core.versions.iter().enumerate().map(|(i, v)| (GroupVersion::gv("", v), i == 0)).collect();
    for group in &groups.groups {
        let preferred = group.preferred_version.as_ref().or(group.versions.first()).map(|p| p.version.as_str());
        versions.extend(group.versions.iter().map(|v| (GroupVersion::gv(&group.name, &v.version), Some(v.version.as_str()) == preferred)));
    }
    let readings = futures::stream::iter(versions)
        .map(|(gv, preferred)| async move { (oneshot::pinned_group(client, &gv).await, gv, preferred) })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    for (group, gv, preferred) in readings {
        match group {
            Ok(group) => {
                for (api, caps) in group.versioned_resources(&gv.version) {
                    read.served.push(Served { api, caps, preferred });
                }
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => read.unreadable.push(format!("{}: {e}", gv.api_version())),
        }
    }
    Ok(Arc::new(read))
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
        StepOutput::new(json!({"status": self.status, "body": self.body}), summary)
            .implying(super::expect_equal("$.status", json!(status)))
    }
}

/// Sends one request as the admin and takes its answer, whatever the status.
pub(crate) async fn send(cluster: &Cluster, request: Result<http::Request<Vec<u8>>, kube::core::request::Error>) -> Result<Answer, StepError> {
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

    fn served(group: &str, version: &str, kind: &str, plural: &str, preferred: bool) -> Served {
        let api_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
        let api = ApiResource { group: group.into(), version: version.into(), api_version, kind: kind.into(), plural: plural.into() };
        let caps = ApiCapabilities { scope: Scope::Namespaced, subresources: Vec::new(), operations: Vec::new() };
        Served { api, caps, preferred }
    }

    fn table() -> DiscoveryRead {
        let served = vec![
            served("", "v1", "Event", "events", true),
            served("events.k8s.io", "v1", "Event", "events", true),
            served("", "v1", "TokenRequest", "serviceaccounts/token", true),
            served("a.example.com", "v1", "Widget", "widgets", false),
            served("a.example.com", "v2", "Widget", "widgets", true),
            served("b.example.com", "v1", "Widget", "widgets", true),
        ];
        DiscoveryRead { served, unreadable: Vec::new(), began: Instant::now() }
    }

    #[test]
    fn kinds_resolve_at_the_preferred_version_unless_one_is_named() {
        let read = table();
        let api_version = |av: Option<&str>, kind: &str| find(&read, av, kind).map(|r| r.map(|r| r.api.api_version));
        assert_eq!(api_version(None, "Event"), Ok(Some("v1".into())), "the core group wins");
        assert_eq!(api_version(Some("events.k8s.io/v1"), "Event"), Ok(Some("events.k8s.io/v1".into())));
        assert_eq!(api_version(Some("a.example.com/v1"), "Widget"), Ok(Some("a.example.com/v1".into())), "a version that is not preferred, named");
        let ambiguous = api_version(None, "Widget").unwrap_err();
        assert!(ambiguous.contains("a.example.com/v2, b.example.com/v1") && ambiguous.contains("give `api-version`"), "{ambiguous}");
        assert_eq!(api_version(None, "TokenRequest"), Ok(None), "subresources are not kinds to name");
        assert_eq!(api_version(Some("a.example.com/v3"), "Widget"), Ok(None));
    }

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
        assert_eq!(message, "applying ConfigMap c: ConfigMap \"c\" is invalid: data: Forbidden: field is immutable when `immutable` is set");
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

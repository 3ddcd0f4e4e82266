//! Finding the API resource for a kind: the cluster's discovery (read again when a kind is
//! missing), then the Established CustomResourceDefinitions.

use std::time::Instant;

use kube::api::Api;
use kube::discovery::ApiResource;

use super::StepError;
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
pub async fn resolve(cluster: &Cluster, api_version: Option<&str>, kind: &str) -> Result<Resource, StepError> {
    let missed = Instant::now();
    let known = cluster.discovery.current(&cluster.client).await.map_err(|e| StepError::other(e.to_string()))?;
    if let Some(found) = find(&known, api_version, kind).map_err(StepError::invalid)? {
        return Ok(found);
    }
    let fresh = cluster.discovery.read_since(&cluster.client, missed).await.map_err(|e| StepError::other(e.to_string()))?;
    if let Some(found) = find(&fresh, api_version, kind).map_err(StepError::invalid)? {
        return Ok(found);
    }
    let unreadable = match fresh.unreadable.as_slice() {
        [] => String::new(),
        some => format!("; discovery could not read {}", some.join("; ")),
    };
    let message = match api_version {
        Some(av) => format!("the cluster serves no kind `{kind}` in `{av}`{unreadable}"),
        None => format!(
            "the cluster serves no kind `{kind}` (kinds are case-sensitive: ServiceAccount, Secret, ClusterRoleBinding …){unreadable}"
        ),
    };
    established_crd(cluster, api_version, kind).await.map_err(StepError::invalid)?.ok_or(StepError::Unserved { message })
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

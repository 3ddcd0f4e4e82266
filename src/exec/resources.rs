//! Finding the API resource for a kind (discovery), and dynamic APIs for it.

use kube::api::{Api, DynamicObject};
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope};

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
}

/// Resolves `kind` (and, when given, `apiVersion`). Without an apiVersion the kind must be
/// unambiguous; the core group and stable versions are preferred.
pub async fn resolve(cluster: &Cluster, api_version: Option<&str>, kind: &str) -> Result<Resource, String> {
    let discovery = cluster.discovery().await?;
    let mut found: Vec<(ApiResource, ApiCapabilities)> = Vec::new();
    for group in discovery.groups() {
        match api_version {
            Some(av) => {
                let (g, v) = split_api_version(av);
                if group.name() != g {
                    continue;
                }
                for (ar, caps) in group.versioned_resources(v) {
                    if ar.kind == kind {
                        found.push((ar, caps));
                    }
                }
            }
            None => {
                for (ar, caps) in group.recommended_resources() {
                    if ar.kind == kind {
                        found.push((ar, caps));
                    }
                }
            }
        }
    }
    // Subresources share kinds with their parents (e.g. serviceaccounts/token is a TokenRequest).
    found.retain(|(ar, _)| !ar.plural.contains('/'));
    if found.len() > 1 && api_version.is_none() {
        // `Event` lives in core and events.k8s.io: the core group wins, as in kubectl.
        if let Some(core) = found.iter().position(|(ar, _)| ar.group.is_empty()) {
            found = vec![found.swap_remove(core)];
        }
    }
    match found.as_slice() {
        [(ar, caps)] => Ok(Resource { api: ar.clone(), namespaced: caps.scope == Scope::Namespaced }),
        [] => Err(match api_version {
            Some(av) => format!("the cluster serves no kind `{kind}` in `{av}`"),
            None => format!("the cluster serves no kind `{kind}` (kinds are case-sensitive: ServiceAccount, Secret, ClusterRoleBinding …)"),
        }),
        many => {
            let versions: Vec<String> = many.iter().map(|(ar, _)| ar.api_version.clone()).collect();
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

impl Cluster {
    /// The cluster's discovery, run once per connection.
    pub async fn discovery(&self) -> Result<&Discovery, String> {
        self.discovery
            .get_or_try_init(|| async {
                Discovery::new(self.client.clone()).run().await.map_err(|e| format!("API discovery failed: {e}"))
            })
            .await
    }
}

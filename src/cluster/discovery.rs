//! The cluster's discovery: which API resource serves a kind, read once per connection and read
//! again when a kind is missing from it.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersion;
use kube::discovery::{ApiCapabilities, ApiGroup, ApiResource, Discovery, Scope, oneshot};

use super::Cluster;

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

/// One reading of the cluster's discovery: every resource served, and when the reading began.
pub struct DiscoveryRead {
    served: Vec<Served>,
    /// Group versions that could not be read (an aggregated API that is down), for messages.
    pub unreadable: Vec<String>,
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
    pub async fn current(&self, client: &kube::Client) -> Result<Arc<DiscoveryRead>, DiscoveryError> {
        let mut latest = self.latest.lock().await;
        match &*latest {
            Some(read) => Ok(read.clone()),
            None => Ok(latest.insert(read(client).await?).clone()),
        }
    }

    /// Forgets the reading: the cluster serves other APIs now (it was upgraded); the next use reads.
    pub async fn forget(&self) {
        *self.latest.lock().await = None;
    }

    /// A reading that began at `since` or later: the latest if it did, else a new one.
    pub async fn read_since(&self, client: &kube::Client, since: Instant) -> Result<Arc<DiscoveryRead>, DiscoveryError> {
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
async fn read(client: &kube::Client) -> Result<Arc<DiscoveryRead>, DiscoveryError> {
    let began = Instant::now();
    let mut read = DiscoveryRead { served: Vec::new(), unreadable: Vec::new(), began };
    // An older server answers with the plain lists, which read as an empty aggregated discovery.
    if let Ok(discovery) = Discovery::new(client.clone()).run_aggregated().await
        && discovery.has_group(ApiGroup::CORE_GROUP)
    {
        discovery.groups().for_each(|g| read.add_group(g));
        return Ok(Arc::new(read));
    }
    let core = client.list_core_api_versions().await.map_err(DiscoveryError)?;
    let groups = client.list_api_groups().await.map_err(DiscoveryError)?;
    let mut versions: Vec<(GroupVersion, bool)> =
        core.versions.iter().enumerate().map(|(i, v)| (GroupVersion::gv("", v), i == 0)).collect();
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

/// The API server's lists of groups and versions could not be read.
#[derive(Debug, thiserror::Error)]
#[error("API discovery failed: {0}")]
pub struct DiscoveryError(pub kube::Error);

/// The resource serving `kind` in one discovery; `None` when none does, an error when several do.
pub fn find(read: &DiscoveryRead, api_version: Option<&str>, kind: &str) -> Result<Option<Resource>, String> {
    let wanted = |s: &&Served| match api_version {
        Some(av) => (s.api.group.as_str(), s.api.version.as_str()) == split_api_version(av),
        None => s.preferred,
    };
    // Subresources share kinds with their parents (e.g. serviceaccounts/token is a TokenRequest).
    let mut found: Vec<&Served> = read.served.iter().filter(|s| s.api.kind == kind && !s.api.plural.contains('/')).filter(wanted).collect();
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

pub fn split_api_version(av: &str) -> (&str, &str) {
    match av.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", av),
    }
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
        assert_eq!(
            api_version(Some("a.example.com/v1"), "Widget"),
            Ok(Some("a.example.com/v1".into())),
            "a version that is not preferred, named"
        );
        let ambiguous = api_version(None, "Widget").unwrap_err();
        assert!(ambiguous.contains("a.example.com/v2, b.example.com/v1") && ambiguous.contains("give `api-version`"), "{ambiguous}");
        assert_eq!(api_version(None, "TokenRequest"), Ok(None), "subresources are not kinds to name");
        assert_eq!(api_version(Some("a.example.com/v3"), "Widget"), Ok(None));
    }
}

//! The local clusters of a scenario that runs on several, started together for it alone and
//! wired as it says: a trusted cluster serves its issuer's discovery to anonymous callers (as the
//! Kubernetes docs describe for issuer discovery) at an address kubeproof holds in front of it; a
//! trusting cluster's kube-apiserver starts with an AuthenticationConfiguration naming that
//! issuer and its CA, and fetches the JWKS itself. No key is copied between clusters.

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use tokio::sync::watch;

use super::local::{self, ClusterOptions, InstallOptions, Installation, LocalCluster, ServedIssuer, TrustedPeer, versions};
use super::{Cluster, ClusterError, Profile};
use crate::federation::{AUTHENTICATION_CONFIG_SINCE, Federation, Issuer, MAIN, TooOld};

/// The binding that opens a trusted cluster's discovery to the trusting cluster's anonymous
/// fetch (`kubectl create clusterrolebinding … --clusterrole=system:service-account-issuer-discovery
/// --group=system:unauthenticated`).
const DISCOVERY_BINDING: &str = "kubeproof:service-account-issuer-discovery";

/// Starts every cluster of `federation` (`main` on `installation`'s release, the others on
/// theirs), all at once: a trusted cluster's issuer is served at a door whose address is known
/// before it boots, so the clusters that trust it boot beside it, and the door opens once its
/// discovery is open. Returns when every trusting cluster has taken up the issuers it trusts.
/// The first failure stops them all and names its cluster.
pub async fn start(installation: &Installation, federation: &Federation) -> Result<Vec<(String, Arc<Cluster>)>, ClusterError> {
    let mut releases = Vec::new();
    for member in &federation.members {
        let release = match &member.version {
            None => installation.clone(),
            Some(request) => install(request).await?,
        };
        if !member.trusts.is_empty() && release.version < AUTHENTICATION_CONFIG_SINCE {
            return Err(ClusterError::Unsuited(format!("cluster `{}`: {}", member.name, TooOld(release.version))));
        }
        releases.push(installation_for(&release, &member.profile).await?);
    }
    // One channel per cluster: its issuer, once its CA exists.
    let (senders, receivers): (Vec<_>, Vec<_>) = federation.members.iter().map(|_| watch::channel(None::<Issuer>)).unzip();
    let receiver_of = |name: &str| federation.members.iter().position(|m| m.name == name).map(|i| receivers[i].clone());
    let mut served = Vec::new();
    for (member, sender) in federation.members.iter().zip(senders) {
        served.push(match federation.is_trusted(&member.name) {
            true => Some(Arc::new(ServedIssuer::new(sender).await.map_err(ClusterError::from)?)),
            false => None,
        });
    }
    let starts = federation.members.iter().zip(releases).zip(served).map(|((member, release), served_issuer)| {
        let trusts = member
            .trusts
            .iter()
            .filter_map(|trust| Some(TrustedPeer { trust: trust.clone(), issuer: receiver_of(&trust.cluster)? }))
            .collect();
        let opts = ClusterOptions {
            version: Some(release.version),
            flags: member.profile.clone().canonical(),
            served_issuer,
            trusts,
            ..Default::default()
        };
        let name = member.name.clone();
        async move {
            let named = |e| of_member(&name, e);
            let local = Arc::new(LocalCluster::start(release, opts).await.map_err(|e| named(e.into()))?);
            let mut cluster = Cluster::from_local(local.clone()).await.map_err(named)?;
            if name != MAIN {
                cluster.label = format!("{} ({name})", cluster.label);
            }
            if local.serves_issuer() {
                open_discovery(&cluster).await.map_err(named)?;
                local.open_issuer_door();
            }
            Ok::<_, ClusterError>((name, Arc::new(cluster)))
        }
    });
    let clusters = futures::future::try_join_all(starts).await?;
    let issuer_of = |name: &str| receiver_of(name).and_then(|r| r.borrow().clone());
    let takes = federation.members.iter().zip(&clusters).flat_map(|(member, (name, cluster))| {
        member.trusts.iter().filter_map(move |trust| {
            let issuer = issuer_of(&trust.cluster)?;
            let audience = trust.audiences.first().cloned().unwrap_or_default();
            Some(async move { await_issuer_taken_up(cluster, &issuer.url, &audience).await.map_err(|e| of_member(name, e)) })
        })
    });
    futures::future::try_join_all(takes).await?;
    Ok(clusters)
}

/// An error of one cluster of the scenario, naming it unless it is the run's own.
fn of_member(name: &str, error: ClusterError) -> ClusterError {
    match name {
        MAIN => error,
        _ => ClusterError::Member { name: name.to_string(), error: Box::new(error) },
    }
}

/// Waits until `cluster`'s kube-apiserver has fetched the discovery of the issuer at `url`:
/// until then it refuses that issuer's tokens as "not initialized". Asked with a TokenReview of
/// a token no key signed (nothing to keep secret): once the issuer is taken up, the answer is a
/// bad signature instead.
async fn await_issuer_taken_up(cluster: &Cluster, url: &str, audience: &str) -> Result<(), ClusterError> {
    use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
    let api: kube::Api<TokenReview> = kube::Api::all(cluster.client.clone());
    let review = TokenReview { spec: TokenReviewSpec { token: unsigned_token(url, audience), ..Default::default() }, ..Default::default() };
    let deadline = tokio::time::Instant::now() + ISSUER_TAKEN_UP_WITHIN;
    loop {
        let said = match api.create(&Default::default(), &review).await {
            Ok(answer) => match answer.status.and_then(|s| s.error) {
                Some(error) if error.contains("not initialized") => error,
                _ => return Ok(()),
            },
            Err(e) => e.to_string(),
        };
        if tokio::time::Instant::now() > deadline {
            return Err(ClusterError::Unreachable(format!(
                "{}: its kube-apiserver did not take up the issuer {url} within {}s: {said}",
                cluster.label,
                ISSUER_TAKEN_UP_WITHIN.as_secs()
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A trusting kube-apiserver fetches an issuer's discovery as it starts, and again every 10 s
/// while that fails; a connection waiting at a shut door gives up after 30 s.
const ISSUER_TAKEN_UP_WITHIN: std::time::Duration = std::time::Duration::from_secs(45);

/// A JWT naming `issuer` and `audience`, signed by no key.
fn unsigned_token(issuer: &str, audience: &str) -> String {
    use base64::Engine as _;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let part = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header = part(serde_json::json!({"alg": "RS256", "typ": "JWT"}));
    let claims = serde_json::json!({
        "iss": issuer, "aud": [audience], "sub": "system:serviceaccount:kubeproof:issuer-probe",
        "iat": now, "nbf": now, "exp": now + 600,
    });
    format!("{header}.{}.{}", part(claims), part(serde_json::json!("unsigned")))
}

/// Resolves and installs a member's own release (`1.30`, `1.30.14`, `latest`).
async fn install(request: &str) -> Result<Installation, ClusterError> {
    versions::check_request(request).map_err(ClusterError::Release)?;
    let request = request.to_string();
    let installed = tokio::task::spawn_blocking(move || {
        let v = versions::resolve(&request)?;
        local::install(v, &Default::default())
    });
    Ok(installed.await.map_err(|e| ClusterError::Unfinished(e.to_string()))??)
}

/// Lets anonymous callers read the cluster's issuer discovery (`/.well-known/openid-configuration`
/// and `/openid/v1/jwks`): the trusting kube-apiserver fetches them without credentials.
async fn open_discovery(cluster: &Cluster) -> Result<(), ClusterError> {
    let binding: ClusterRoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": DISCOVERY_BINDING},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:service-account-issuer-discovery"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:unauthenticated"}],
    }))
    .map_err(|e| ClusterError::Unfinished(e.to_string()))?;
    let api: kube::Api<ClusterRoleBinding> = kube::Api::all(cluster.client.clone());
    let failed = |e: &dyn std::fmt::Display| {
        ClusterError::Unreachable(format!("{}: cannot open issuer discovery to anonymous callers: {e}", cluster.label))
    };
    api.create(&Default::default(), &binding).await.map_err(|e| failed(&e))?;
    // The authorizer sees the binding a moment later; the trusting cluster's first fetch must
    // not come before (its next is 10 s away).
    let http = cluster.http().map_err(|e| failed(&e))?;
    let url = format!("{}/.well-known/openid-configuration", cluster.server());
    let deadline = tokio::time::Instant::now() + DISCOVERY_OPEN_WITHIN;
    loop {
        let status = http.get(&url).send().await.map(|r| r.status());
        match status {
            Ok(s) if s.is_success() => return Ok(()),
            _ if tokio::time::Instant::now() > deadline => {
                let said = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                return Err(failed(&format!("{url} still answers {said} after {}s", DISCOVERY_OPEN_WITHIN.as_secs())));
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

/// How long the discovery binding may take to be seen by the authorizer.
const DISCOVERY_OPEN_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// The installation a cluster of `flags` starts from: with a node's binaries when it has a node.
pub(super) async fn installation_for(installation: &Installation, flags: &Profile) -> Result<Installation, ClusterError> {
    if flags.nodes == 0 {
        return Ok(installation.clone());
    }
    local::node::preflight().map_err(ClusterError::NoNode)?;
    // The node's binaries join the release's cache entry the first time a node is asked for.
    let (v, opts) = (installation.version, InstallOptions { nodes: true, ..Default::default() });
    let installed =
        tokio::task::spawn_blocking(move || local::install(v, &opts)).await.map_err(|e| ClusterError::Unfinished(e.to_string()))?;
    installed.map_err(|e| match &e {
        // What this machine cannot get is no broken build: a node that cannot run here.
        local::InstallError::Go(go) => match go.refused_module() {
            Some(module) => ClusterError::NoNode(local::node::Unfit::Unobtainable { release: v.to_string(), module }),
            None => e.into(),
        },
        _ => e.into(),
    })
}

//! Clusters to run scenarios on: a local control plane kubeproof starts, or a kubeconfig context.

pub mod discovery;
mod error;
mod federation;
pub mod kind;
pub mod local;
pub mod pool;

pub use crate::profile::{Component, Profile};
pub use error::ClusterError;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::version::KubeVersion;
use local::LocalCluster;

/// kube and reqwest both use rustls; with one provider (ring) installed up front neither has to guess.
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A cluster scenarios can run on, connected.
pub struct Cluster {
    /// How reports name it: the release for local clusters, the context otherwise.
    pub label: String,
    /// What the API server reports at `/version`.
    pub version: KubeVersion,
    pub git_version: String,
    pub client: Client,
    pub config: Config,
    /// For kubectl steps.
    pub kubectl: PathBuf,
    pub insecure: bool,
    /// Where the cluster comes from, and so what can be known and done about it.
    pub origin: Origin,
    /// API discovery, read on first use and again when a kind is missing from it.
    pub(crate) discovery: discovery::DiscoveryCache,
    /// A context's control-plane command lines, read once from its static pods (see
    /// [`Cluster::control_plane_flags`]).
    control_plane: tokio::sync::OnceCell<Option<Profile>>,
}

/// Where a connected cluster comes from: what kubeproof can know about it (its flags, its
/// components' logs) and do to it depends on this, never on which fields happen to be set.
pub enum Origin {
    /// A kubeconfig context someone else made: its flags are not known.
    Context { kubeconfig: Option<PathBuf>, context: String },
    /// A local control plane this process started, kept alive as long as this connection.
    Local(Arc<LocalCluster>),
    /// A local control plane another process of this run started (and will stop); its
    /// kubeconfig lies in the cluster's directory.
    Attached { kubeconfig: PathBuf, flags: Profile },
    /// An in-process HTTP stub, for the executor's tests: never a real cluster.
    Stub,
}

/// Where to find an existing cluster.
#[derive(Clone, Debug, Default)]
pub struct ContextTarget {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// The user named this context explicitly with `--allow-context`.
    pub allowed: bool,
    /// Skip TLS verification (only on explicit request).
    pub insecure: bool,
    /// The contexts of a scenario's other clusters, by their names in it (`--context b=kind-b`),
    /// in the same kubeconfig, allowed and verified as this one.
    pub peers: std::collections::BTreeMap<String, String>,
}

impl Cluster {
    /// Connects to a kubeconfig context. Scenarios create and delete objects, so contexts that
    /// are neither kind clusters nor kubeproof local clusters must be allowed explicitly.
    pub async fn from_context(target: &ContextTarget) -> Result<Cluster, ClusterError> {
        ensure_crypto_provider();
        let kubeconfig = match &target.kubeconfig {
            Some(path) => Kubeconfig::read_from(path)
                .map_err(|e| ClusterError::Kubeconfig(format!("cannot read kubeconfig {}: {e}", path.display())))?,
            None => Kubeconfig::read().map_err(|e| ClusterError::Kubeconfig(format!("cannot read kubeconfig: {e}")))?,
        };
        let context = target
            .context
            .clone()
            .or_else(|| kubeconfig.current_context.clone())
            .ok_or_else(|| ClusterError::Kubeconfig("the kubeconfig has no current context: name one with --context".into()))?;
        if !kubeconfig.contexts.iter().any(|c| c.name == context) {
            let names: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
            return Err(ClusterError::Kubeconfig(format!("no context `{context}` in the kubeconfig (contexts: {})", names.join(", "))));
        }
        if !target.allowed && !is_disposable(&context) {
            return Err(ClusterError::RefusedContext(format!(
                "refusing to run on context `{context}`: scenarios create and delete objects (cluster-scoped ones too). \
                 kubeproof runs on kind clusters (`kind-*`) and its own local clusters (`kubeproof-*`); \
                 to use this one anyway, pass --allow-context {context}"
            )));
        }
        let options = KubeConfigOptions { context: Some(context.clone()), ..Default::default() };
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| ClusterError::Kubeconfig(format!("context `{context}`: {e}")))?;
        if target.insecure {
            config.accept_invalid_certs = true;
        }
        let origin = Origin::Context { kubeconfig: target.kubeconfig.clone(), context: context.clone() };
        let mut cluster = Self::connect(context, config, "kubectl".into(), origin).await?;
        cluster.kubectl = context_kubectl(cluster.version);
        Ok(cluster)
    }

    /// Connects to a local cluster another process started and will stop (a cluster shared by
    /// the processes of a test run): its kubeconfig, its release's kubectl, its flags.
    pub async fn attach_local(
        kubeconfig: PathBuf,
        kubectl: PathBuf,
        flags: Profile,
        version: KubeVersion,
    ) -> Result<Cluster, ClusterError> {
        ensure_crypto_provider();
        let kubeconfig_error = |e: &dyn std::fmt::Display| ClusterError::Kubeconfig(format!("{}: {e}", kubeconfig.display()));
        let config = Kubeconfig::read_from(&kubeconfig).map_err(|e| kubeconfig_error(&e))?;
        let config = Config::from_custom_kubeconfig(config, &KubeConfigOptions::default()).await.map_err(|e| kubeconfig_error(&e))?;
        let label = local_label(version, &flags);
        Self::connect(label, config, kubectl, Origin::Attached { kubeconfig, flags }).await
    }

    /// Connects to a local cluster kubeproof started.
    pub async fn from_local(local: Arc<LocalCluster>) -> Result<Cluster, ClusterError> {
        ensure_crypto_provider();
        let kubeconfig = Kubeconfig::read_from(&local.kubeconfig).map_err(local::StartError::Kubeconfig)?;
        let config =
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.map_err(local::StartError::Kubeconfig)?;
        let label = local_label(local.version(), &local.flags);
        let kubectl = local.installation().binary("kubectl");
        Self::connect(label, config, kubectl, Origin::Local(local)).await
    }

    /// A connection to whatever serves `config`'s URL, for tests of the executor against an
    /// in-process HTTP stub. Never a real cluster: no kubeconfig, no context check, no
    /// kube-apiserver flags known. It asks `/version` like every connection.
    pub async fn for_tests(label: &str, config: Config) -> Result<Cluster, ClusterError> {
        ensure_crypto_provider();
        Self::connect(label.to_string(), config, "kubectl".into(), Origin::Stub).await
    }

    async fn connect(label: String, config: Config, kubectl: PathBuf, origin: Origin) -> Result<Cluster, ClusterError> {
        let mut config = config;
        config.read_timeout = Some(Duration::from_secs(30));
        let client = Client::try_from(config.clone())
            .map_err(|e| ClusterError::Kubeconfig(format!("{label}: cannot create a client: {}", describe_error(&e))))?;
        let url = config.cluster_url.clone();
        let info = tokio::time::timeout(Duration::from_secs(15), client.apiserver_version())
            .await
            .map_err(|_| ClusterError::Unreachable(format!("{label}: the API server at {url} did not answer within 15s")))?
            .map_err(|e| {
                let said = describe(&e);
                let message = format!("{label}: the API server at {url} is unreachable: {said}");
                match said {
                    Described::Tls { .. } => ClusterError::Tls(message),
                    Described::Plain(_) => ClusterError::Unreachable(message),
                }
            })?;
        let version: KubeVersion = info
            .git_version
            .parse()
            .or_else(|_| format!("{}.{}", info.major, info.minor).parse())
            .map_err(|e| ClusterError::Unreachable(format!("{label}: a version kubeproof cannot read: {e}")))?;
        Ok(Cluster {
            label,
            version,
            git_version: info.git_version,
            insecure: config.accept_invalid_certs,
            client,
            config,
            kubectl,
            origin,
            discovery: Default::default(),
            control_plane: Default::default(),
        })
    }

    /// The API server's base URL.
    pub fn server(&self) -> String {
        self.config.cluster_url.to_string().trim_end_matches('/').to_string()
    }

    /// An HTTP client that trusts the cluster's CA (and nothing else) and sends no credentials.
    pub fn http(&self) -> Result<reqwest::Client, HttpClientError> {
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(30));
        if self.insecure {
            builder = builder.danger_accept_invalid_certs(true);
        } else if let Some(roots) = &self.config.root_cert {
            let certs: Vec<reqwest::Certificate> = roots
                .iter()
                .map(|der| reqwest::Certificate::from_der(der).map_err(HttpClientError::ClusterCa))
                .collect::<Result<_, _>>()?;
            builder = builder.tls_certs_only(certs);
        }
        builder.build().map_err(HttpClientError::Build)
    }

    /// The log file of each control-plane component, for a local cluster (started by this
    /// process or by another one of the same run); none for a context.
    pub fn component_logs(&self) -> Vec<(&'static str, PathBuf)> {
        match &self.origin {
            Origin::Local(local) => local::component_logs(&local.dir),
            Origin::Attached { kubeconfig, .. } => kubeconfig.parent().map(local::component_logs).unwrap_or_default(),
            Origin::Context { .. } | Origin::Stub => Vec::new(),
        }
    }

    /// The kubeconfig kubectl steps use: the context's file (`None`: kubectl's default), or the
    /// local cluster's own.
    pub fn kubeconfig(&self) -> Option<&std::path::Path> {
        match &self.origin {
            Origin::Context { kubeconfig, .. } => kubeconfig.as_deref(),
            Origin::Local(local) => Some(&local.kubeconfig),
            Origin::Attached { kubeconfig, .. } => Some(kubeconfig),
            Origin::Stub => None,
        }
    }

    /// The kubeconfig context kubectl steps name; `None` for a local cluster's own kubeconfig.
    pub fn context(&self) -> Option<&str> {
        match &self.origin {
            Origin::Context { context, .. } => Some(context),
            Origin::Local(_) | Origin::Attached { .. } | Origin::Stub => None,
        }
    }

    /// The flags kubeproof added to its own (its flag profile): known for local clusters only.
    pub fn flags(&self) -> Option<&Profile> {
        match &self.origin {
            Origin::Local(local) => Some(&local.flags),
            Origin::Attached { flags, .. } => Some(flags),
            Origin::Context { .. } | Origin::Stub => None,
        }
    }

    /// Whether the cluster's components run with these flags; `None` when it cannot be known.
    pub fn runs_with(&self, wanted: &Profile) -> Option<bool> {
        Some(self.flags()?.includes(wanted))
    }

    /// The flags a context's kube-apiserver and kube-controller-manager run with, as their
    /// mirror pods in kube-system show them where the control plane runs as static pods
    /// (kubeadm, kind): the whole command line of each. `None` where they are not to be seen
    /// (a managed control plane, no right to list kube-system's pods). Read once.
    pub async fn control_plane_flags(&self) -> Option<&Profile> {
        let read = async {
            let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(self.client.clone(), "kube-system");
            let mut seen = Profile::default();
            for component in [Component::ApiServer, Component::ControllerManager] {
                let params = kube::api::ListParams::default().labels(&format!("component={}", component.binary()));
                let listed = tokio::time::timeout(Duration::from_secs(10), pods.list(&params)).await.ok()?.ok()?;
                let container = listed.items.first()?.spec.as_ref()?.containers.first()?.clone();
                let words = container.command.into_iter().flatten().chain(container.args.into_iter().flatten());
                let flags: Vec<String> = words.filter(|w| w.starts_with("--")).collect();
                match component {
                    Component::ApiServer => seen.apiserver = flags,
                    Component::ControllerManager => seen.controller_manager = flags,
                }
            }
            Some(seen)
        };
        match &self.origin {
            Origin::Context { .. } => self.control_plane.get_or_init(|| read).await.as_ref(),
            Origin::Local(_) | Origin::Attached { .. } | Origin::Stub => None,
        }
    }

    /// A component of a local cluster that has died, with the end of its log.
    pub fn health(&self) -> Result<(), local::Exited> {
        match &self.origin {
            Origin::Local(local) => local.health(),
            Origin::Context { .. } | Origin::Attached { .. } | Origin::Stub => Ok(()),
        }
    }

    /// Asks the API server whether it is ready (`/readyz`, which covers its storage), within
    /// a short time.
    pub async fn probe(&self) -> Result<(), ProbeError> {
        let request = http::Request::get("/readyz").body(Vec::new()).map_err(ProbeError::Request)?;
        match tokio::time::timeout(PROBE_TIMEOUT, self.client.request_text(request)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(ProbeError::Failed(describe(&e))),
            Err(_) => Err(ProbeError::Silent),
        }
    }

    /// Resolves once the cluster is dead: a local component exited (seen at once), or the API
    /// server failed `FAILED_PROBES` probes in a row, a second apart. The error names what died.
    pub async fn died(&self) -> Dead {
        let mut failed = 0;
        let mut last_probe = std::time::Instant::now();
        loop {
            // An API server kubeproof restarts on purpose is not dead for not answering, nor
            // a controller that gives up meanwhile (the restart starts it again).
            let restarting = matches!(&self.origin, Origin::Local(local) if local.restarting());
            if !restarting && let Err(exited) = self.health() {
                return Dead::Exited { label: self.label.clone(), exited };
            }
            if restarting {
                failed = 0;
            } else if last_probe.elapsed() >= PROBE_INTERVAL {
                last_probe = std::time::Instant::now();
                match self.probe().await {
                    Ok(()) => failed = 0,
                    Err(e) if failed + 1 >= FAILED_PROBES => return self.unanswered(&e.to_string()),
                    Err(_) => failed += 1,
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Checks at once, with `FAILED_PROBES` quick probes, that the cluster is alive: after a
    /// scenario failed, before the next one goes on.
    pub async fn confirm_alive(&self) -> Result<(), Dead> {
        self.health().map_err(|exited| Dead::Exited { label: self.label.clone(), exited })?;
        let mut last = None;
        for attempt in 0..FAILED_PROBES {
            if matches!(&self.origin, Origin::Local(local) if local.restarting()) {
                return Ok(());
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            match self.probe().await {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(self.unanswered(&last.map(|e| e.to_string()).unwrap_or_default()))
    }

    /// Why an API server that does not answer is gone: a local component that died is the
    /// better reason, when there is one.
    fn unanswered(&self, error: &str) -> Dead {
        match self.health() {
            Err(exited) => Dead::Exited { label: self.label.clone(), exited },
            Ok(()) => Dead::Unanswered { label: self.label.clone(), server: self.server(), error: error.to_string() },
        }
    }
}

/// The kubectl `kubectl` steps run on a context: `KUBEPROOF_KUBECTL` when set; else the
/// server's own release's, when kubeproof has that release installed (a kubectl of another
/// minor words its output otherwise: `Error:` for `error:`, other columns, other log lines);
/// else the `kubectl` on PATH.
fn context_kubectl(server: KubeVersion) -> PathBuf {
    if let Some(named) = std::env::var_os("KUBEPROOF_KUBECTL") {
        return PathBuf::from(named);
    }
    match local::install::is_installed(server) {
        true => local::install::kube_dir(server).join("bin").join("kubectl"),
        false => "kubectl".into(),
    }
}

/// How reports name a local cluster: its release, and the flags it was started with.
fn local_label(version: KubeVersion, flags: &Profile) -> String {
    if flags.is_empty() { version.to_string() } else { format!("{version} {flags}") }
}

/// The cluster a report's label names, without the flags of a flag-profile sibling (see
/// `local_label`): the column of the matrix it belongs to.
pub fn base_label(label: &str) -> &str {
    label.split_once(' ').map_or(label, |(base, _)| base)
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// Probes fail now and then on a loaded machine; three in a row mean the server is gone.
const FAILED_PROBES: u32 = 3;

/// Why a connected cluster is gone: what the death watch and the check after a failed
/// scenario say, the cluster's label first.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Dead {
    /// A component of a local cluster exited.
    #[error("{label}: {exited}")]
    Exited { label: String, exited: local::Exited },
    /// The API server failed its probes in a row.
    #[error("{label}: the API server at {server} stopped answering: {error}")]
    Unanswered { label: String, server: String, error: String },
}

/// An HTTP client for the cluster's API server could not be made: the anonymous one of
/// [`Cluster::http`], or a local cluster's admin identity's.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    /// A CA certificate of the kubeconfig (DER).
    #[error("cluster CA: {0}")]
    ClusterCa(reqwest::Error),
    /// The local cluster's own CA (PEM).
    #[error("{0}")]
    Ca(reqwest::Error),
    #[error("admin identity: {0}")]
    Identity(reqwest::Error),
    #[error("HTTP client: {0}")]
    Build(reqwest::Error),
}

/// Why one probe of `/readyz` failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0}")]
    Request(http::Error),
    #[error("{0}")]
    Failed(Described),
    #[error("/readyz gave no answer within {}s", PROBE_TIMEOUT.as_secs())]
    Silent,
}

/// An error with its causes, as [`describe`] words it: a certificate the cluster's CA does not
/// vouch for is a kind of its own, said plainly.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Described {
    #[error(
        "TLS verification failed: the API server's certificate is not trusted by the CA in the kubeconfig \
         ({chain}); pass --insecure-skip-tls-verify only if you know why"
    )]
    Tls { chain: String },
    #[error("{0}")]
    Plain(String),
}

/// An error with its causes, and a plain word for the ones users meet: a certificate the
/// cluster's CA does not vouch for, a refused connection.
pub fn describe_error(e: &(dyn std::error::Error + 'static)) -> String {
    describe(e).to_string()
}

/// [`describe_error`], by kind.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> Described {
    let mut chain = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !chain.iter().any(|c| c.contains(&text)) {
            chain.push(text);
        }
        source = s.source();
    }
    let all = chain.join(": ");
    let lower = all.to_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("invalid peer") {
        Described::Tls { chain: all }
    } else {
        Described::Plain(all)
    }
}

/// Contexts kubeproof may create and delete objects in without being told.
/// How long a context's cluster may take to finish what a fresh cluster does asynchronously.
pub const SETTLE_WITHIN: Duration = Duration::from_secs(120);

impl Cluster {
    /// Waits (at most `within`) for what a fresh cluster finishes after it answers, and `kind
    /// create --wait` does not cover: the `default` ServiceAccount and `kube-root-ca.crt` of a
    /// namespace (their controllers make them), and CoreDNS available where it is deployed (for
    /// scenarios that resolve names). `Err` names what was still missing.
    pub async fn settle(&self, within: Duration) -> Result<(), ClusterError> {
        use k8s_openapi::api::apps::v1::Deployment;
        use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
        let deadline = tokio::time::Instant::now() + within;
        let sas: kube::Api<ServiceAccount> = kube::Api::namespaced(self.client.clone(), "default");
        let cms: kube::Api<ConfigMap> = kube::Api::namespaced(self.client.clone(), "default");
        let deployments: kube::Api<Deployment> = kube::Api::namespaced(self.client.clone(), "kube-system");
        loop {
            let missing = if !sas.get_opt("default").await.is_ok_and(|sa| sa.is_some()) {
                Some("the `default` ServiceAccount in namespace default (the serviceaccount controller)")
            } else if !cms.get_opt("kube-root-ca.crt").await.is_ok_and(|cm| cm.is_some()) {
                Some("the `kube-root-ca.crt` ConfigMap in namespace default (the root-ca-cert-publisher)")
            } else {
                match deployments.get_opt("coredns").await {
                    Ok(Some(d)) if d.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0) < 1 => {
                        Some("CoreDNS (kube-system/coredns) to have an available replica")
                    }
                    _ => None,
                }
            };
            let Some(missing) = missing else { return Ok(()) };
            if tokio::time::Instant::now() >= deadline {
                return Err(ClusterError::NotSettled(format!(
                    "{} is not ready after {}s: still waiting for {missing}",
                    self.label,
                    within.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

pub fn is_disposable(context: &str) -> bool {
    context.starts_with("kind-") || context.starts_with("kubeproof-")
}

#[cfg(test)]
mod label_tests {
    use super::*;

    /// A flag-profile sibling's reports go to its release's column.
    #[test]
    fn base_label_drops_the_profile() {
        let version: KubeVersion = "1.23.17".parse().expect("a version");
        let flags = Profile { apiserver: vec!["--service-account-lookup=false".into()], ..Profile::default() };
        assert_eq!(base_label(&local_label(version, &flags)), "1.23.17");
        assert_eq!(base_label(&local_label(version, &Profile::default())), "1.23.17");
        assert_eq!(base_label("kind-kp-1-37"), "kind-kp-1-37");
    }
}

//! An ephemeral control plane of the real, official binaries: etcd, kube-apiserver,
//! kube-controller-manager and kube-scheduler, with the flags kubeadm gives them (see
//! docs/control-plane.md), downloaded or built from the Go modules and started by kubeproof —
//! no Docker.

pub mod digest;
pub mod download;
mod file_error;
pub mod go;
pub mod install;
mod issuer_door;
pub mod node;
pub mod pki;
pub mod process;
pub mod resolve_error;
pub mod shared;
pub mod signing_key;
pub mod upgrade;
pub mod versions;

use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

pub use file_error::FileError;
pub use install::{InstallError, InstallOptions, Installation, cache_root, install};
use issuer_door::IssuerDoor;
use pki::Pki;
use process::{Component, LockError, PidLock, ProcessRecord};

use super::{HttpClientError, Profile};
use crate::version::KubeVersion;

/// The service-account issuer kind and kubeadm clusters use, so `iss` and `aud` match theirs.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// How to start a cluster.
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    pub version: Option<KubeVersion>,
    /// Defaults to a name made from the version and a random suffix.
    pub name: Option<String>,
    /// Extra flags (`--flag=value`) per component; they override kubeproof's defaults.
    pub flags: Profile,
    /// Leave the processes running after kubeproof exits (`kubeproof cluster up`).
    pub detached: bool,
    /// Image archives (docker save / OCI) imported into the node's containerd, for clusters
    /// with a node.
    pub image_archives: Vec<PathBuf>,
    /// Serve the ServiceAccount issuer at an address of its own (`--service-account-issuer`,
    /// `--service-account-jwks-uri`), for another cluster to discover and trust.
    pub served_issuer: Option<Arc<ServedIssuer>>,
    /// The clusters this one trusts: kube-apiserver starts with an AuthenticationConfiguration
    /// naming their issuers, once each has started and serves its discovery.
    pub trusts: Vec<TrustedPeer>,
}

/// A trusted cluster, as a trusting one starts: the trust as the scenario gives it, and where
/// the trusted cluster's issuer is served, once it is (`None` until then; the sender dropped
/// if it did not start).
#[derive(Clone, Debug)]
pub struct TrustedPeer {
    pub trust: crate::federation::Trust,
    pub issuer: tokio::sync::watch::Receiver<Option<crate::federation::Issuer>>,
}

/// A cluster another one trusts: the door its issuer is served at, and the channel that
/// announces the issuer (its URL and CA) to the trusting clusters as soon as its CA exists —
/// before it boots, so that they boot beside it.
#[derive(Debug)]
pub struct ServedIssuer {
    pub door: IssuerDoor,
    pub announce: tokio::sync::watch::Sender<Option<crate::federation::Issuer>>,
}

impl ServedIssuer {
    pub async fn new(announce: tokio::sync::watch::Sender<Option<crate::federation::Issuer>>) -> Result<ServedIssuer, StartError> {
        let door = IssuerDoor::bind().await.map_err(StartError::IssuerDoor)?;
        Ok(ServedIssuer { door, announce })
    }
}

/// What `kubeproof cluster list` and `down` read back.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ClusterState {
    pub name: String,
    pub version: String,
    pub server: String,
    pub kubeconfig: PathBuf,
    /// Absent from the state of clusters started before controller-manager flags existed.
    #[serde(default)]
    pub flags: Profile,
    pub detached: bool,
    /// The kubeproof process that started the cluster (and owns it, unless detached).
    pub owner: u32,
    /// The components, with what proves a pid still names them (see `ProcessRecord`).
    pub components: Vec<ProcessRecord>,
    /// What the cluster's node made (network, cgroups, mounts), to be undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<node::NodeState>,
}

impl ClusterState {
    /// SIGKILL to every component that is still the process kubeproof started, last first.
    fn kill(&self) {
        for c in self.components.iter().rev() {
            c.kill_group();
        }
    }

    fn any_running(&self) -> bool {
        self.components.iter().any(ProcessRecord::is_running)
    }
}

/// Removes what a cluster nobody owns any more left (its owner died, or it was stopped): its
/// processes, its node's network, cgroups and mounts, its directory. The caller holds its lock.
pub(crate) fn clean_leftover(dir: &Path) {
    let state = read_state(dir);
    if let Some(state) = &state {
        state.kill();
        if let Some(node) = &state.node {
            let _ = node.sweep();
        }
    }
    // Nothing may be mounted below a directory that is removed recursively.
    if node::NodeState::mounted_under(dir) {
        return;
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A running local cluster. Dropping it stops every process and deletes its directory.
pub struct LocalCluster {
    pub name: String,
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub server: String,
    /// etcd's client URL (https, client certificates of the etcd CA only): gRPC.
    pub etcd: String,
    /// etcd's HTTP endpoints (`/version`, `/health`, …), same TLS and client certificates.
    pub etcd_http: String,
    /// The flags added to kubeproof's own, per component, as the cluster was started for them.
    pub flags: Profile,
    /// The flags `restart` and `rotate_signing_key` added since: kept through upgrades.
    changed: Mutex<Profile>,
    /// The release it runs now: the one it started on until an `upgrade`.
    release: std::sync::RwLock<Installation>,
    /// How long the start took, from the first process to usable.
    pub startup: Duration,
    components: Mutex<Vec<Component>>,
    /// The node's network, cgroups and directory, for a cluster with a node.
    pub node: Option<node::NodeState>,
    /// Cleans up the node if kubeproof is killed (ephemeral clusters only).
    _janitor: Option<node::JanitorPipe>,
    /// The node's images being imported while the control plane starts.
    importing: Option<tokio::task::JoinHandle<Result<(), node::NodeError>>>,
    /// Image archives of the user's, imported with the node's own.
    node_images: Vec<PathBuf>,
    detached: bool,
    /// Set once the start succeeded: until then, dropping the cluster (a failed or
    /// cancelled start) removes everything, detached or not.
    started: bool,
    /// Held for the start, and for the cluster's life unless detached; released after `drop`.
    _lock: ClusterLock,
    /// The loopback ports the components listen on, once they were started.
    ports: Option<Ports>,
    /// The admin identity's client, once the cluster was usable (`restart` waits with it).
    admin: Option<reqwest::Client>,
    /// How many component restarts are under way: the death watch does not take an API
    /// server kubeproof restarts on purpose for a dead one.
    restarting: std::sync::atomic::AtomicUsize,
    /// Where its issuer is served, when another cluster trusts it.
    served_issuer: Option<Arc<ServedIssuer>>,
    /// The kube-apiserver flags of the AuthenticationConfiguration it trusts other clusters with.
    authentication: Vec<String>,
}

/// The control-plane components, in the order they start; each writes `logs/<name>.log` in
/// its cluster's directory.
pub const COMPONENTS: [&str; 4] = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];

/// How many controller exits one kube-apiserver restart may see started again.
const MAX_REVIVALS: usize = 3;

/// The components [`LocalCluster::restart`] starts again: the Kubernetes control plane's own.
pub const RESTARTABLE: [&str; 3] = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"];

/// The log file of each component of the cluster whose directory is `dir`, and of its node's
/// daemons when it has a node.
pub fn component_logs(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let node = node::DAEMONS.iter().filter(|name| log_file(dir, name).exists());
    COMPONENTS.iter().chain(node).map(|name| (*name, log_file(dir, name))).collect()
}

/// A turn to boot a cluster in this process: as many at once as the machine has cores (at
/// least two). Waiting for a turn does not count against a start's usable deadline.
async fn boot_slot() -> Option<tokio::sync::SemaphorePermit<'static>> {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(cores.max(2))).acquire().await.ok()
}

fn log_file(dir: &Path, component: &str) -> PathBuf {
    dir.join("logs").join(format!("{component}.log"))
}

fn clusters_dir() -> PathBuf {
    cache_root().join("clusters")
}

/// Checks a cluster name; every path from a name goes through here first, so a name can
/// never reach outside the clusters directory (`/abs/path`, `../x`).
pub fn validate_name(name: &str) -> Result<(), InvalidName> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid { Ok(()) } else { Err(InvalidName(name.to_string())) }
}

/// The directory of a cluster, for a valid name only.
pub(crate) fn cluster_dir(name: &str) -> Result<PathBuf, InvalidName> {
    validate_name(name)?;
    Ok(clusters_dir().join(name))
}

/// The exclusive right to start, stop or clean up the cluster of one name, held by one
/// process at a time: `cluster up` holds it while starting, the owner of an ephemeral
/// cluster for the cluster's life.
pub struct ClusterLock {
    name: String,
    _lock: PidLock,
}

impl ClusterLock {
    /// Takes the lock of `name`, or says at once which process holds it.
    pub fn acquire(name: &str) -> Result<ClusterLock, ClusterLockError> {
        Self::acquire_within(name, Duration::from_millis(300))
    }

    pub(crate) fn acquire_within(name: &str, patience: Duration) -> Result<ClusterLock, ClusterLockError> {
        let dir = cluster_dir(name)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(clusters_dir())
            .map_err(FileError::new("cannot create", clusters_dir()))?;
        match PidLock::acquire(&dir.with_extension("lock"), patience) {
            Ok(lock) => Ok(ClusterLock { name: name.to_string(), _lock: lock }),
            Err(LockError::Held(pid)) => Err(ClusterLockError::Held { name: name.to_string(), pid }),
            Err(LockError::Io(error)) => Err(ClusterLockError::Io { name: name.to_string(), error }),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl LocalCluster {
    /// Starts a cluster of an installed release and returns once it is usable: `/readyz` ok and
    /// the `default` ServiceAccount and `kube-root-ca.crt` ConfigMap present in `default`.
    ///
    /// Cancellation-safe: if the returned future is dropped (Ctrl-C) or the start fails, every
    /// component started so far is killed and the cluster directory removed, detached or not.
    pub async fn start(installation: Installation, opts: ClusterOptions) -> Result<LocalCluster, StartError> {
        let version = installation.version;
        let name = opts.name.clone().unwrap_or_else(|| format!("{}-{}", version.tag().replace('.', "-"), crate::random::suffix(5)));
        let lock = ClusterLock::acquire(&name)?;
        Self::start_locked(installation, opts, lock).await
    }

    /// [`start`](Self::start) with the name's lock already taken (`cluster up` takes it before
    /// installing, so that a second start of the same name fails at once). The cluster is
    /// named after the lock; `opts.name` is not used.
    pub async fn start_locked(installation: Installation, opts: ClusterOptions, lock: ClusterLock) -> Result<LocalCluster, StartError> {
        // What a kubeproof killed with its whole process tree left (a CI job's end, where no
        // janitor survives): no directory of a dead cluster outlives the next start.
        drop(list());
        let name = lock.name().to_string();
        let dir = cluster_dir(&name)?;
        if dir.exists() {
            // We hold the lock, so no other kubeproof is using it: a detached cluster, or what a
            // dead kubeproof left behind.
            match read_state(&dir) {
                Some(state) if state.detached && state.any_running() => {
                    return Err(StartError::AlreadyRunning(name));
                }
                _ => clean_leftover(&dir),
            }
            if dir.exists() {
                return Err(StartError::Leftover(dir));
            }
        }
        // From here on, dropping `cluster` undoes everything below.
        let mut cluster = LocalCluster {
            name,
            kubeconfig: dir.join("kubeconfig"),
            dir: dir.clone(),
            server: String::new(),
            etcd: String::new(),
            etcd_http: String::new(),
            flags: opts.flags.clone(),
            changed: Mutex::default(),
            release: std::sync::RwLock::new(installation),
            startup: Duration::ZERO,
            components: Mutex::new(Vec::new()),
            node: None,
            _janitor: None,
            importing: None,
            node_images: opts.image_archives.clone(),
            detached: opts.detached,
            started: false,
            _lock: lock,
            ports: None,
            admin: None,
            restarting: Default::default(),
            served_issuer: opts.served_issuer.clone(),
            authentication: Vec::new(),
        };
        let create = |d: &Path| pki::private_dir(d).map_err(FileError::new("cannot create", d));
        create(&dir)?;
        create(&dir.join("logs"))?;
        match opts.flags.nodes {
            0 => {}
            1 => {
                // The janitor first: from here on, something is made that kubeproof's death must not leave.
                if !opts.detached {
                    cluster._janitor = Some(node::spawn_janitor(&cluster.name)?);
                }
                cluster.node = Some(node::prepare(&cluster.name, &dir)?);
                cluster.write_state()?;
            }
            n => return Err(StartError::Nodes(n)),
        }
        let identity = cluster.node.as_ref().map(|n| pki::NodeIdentity { name: node::NODE_NAME, apiserver_ip: n.host_ip() });
        let pki = tokio::task::spawn_blocking(move || Pki::generate_for(identity)).await.map_err(StartError::Task)??;
        pki.write(&dir.join("pki")).map_err(StartError::Certificates)?;
        if let Some(served) = &cluster.served_issuer {
            let issuer = crate::federation::Issuer { url: served.door.url().to_string(), ca_pem: pki.ca_cert.clone() };
            served.announce.send_replace(Some(issuer));
        }
        // The node's runtime and images while the control plane starts.
        match cluster.start_runtime(&opts.image_archives.clone()).await {
            Ok(()) => {}
            Err(BootError::PortTaken(e) | BootError::Fatal(e)) => return Err(e),
        }

        // The clusters it trusts first: their issuers go into its configuration. Waited for
        // before taking a boot turn, which they may need.
        cluster.authentication = cluster.trust(&opts.trusts).await?;

        // Booting is CPU-bound (etcd, the API server's post-start hooks, ~40 controllers): a
        // matrix of releases, each with its flag profiles, booting all at once on a small machine
        // starves every cluster past its usable deadline. A few at a time all finish sooner.
        let _slot = boot_slot().await;
        let mut last_error = None;
        // A port picked as free can be taken before the component binds it: try again.
        for _attempt in 0..3 {
            match cluster.boot(&pki).await {
                Ok(()) => {
                    let started = Instant::now();
                    match cluster.await_node(&pki).await {
                        Ok(()) => {}
                        Err(BootError::PortTaken(e) | BootError::Fatal(e)) => return Err(e),
                    }
                    cluster.startup += started.elapsed();
                    cluster.started = true;
                    return Ok(cluster);
                }
                Err(BootError::PortTaken(e)) => last_error = Some(e),
                Err(BootError::Fatal(e)) => return Err(e),
            }
        }
        Err(last_error.unwrap_or(StartError::Poisoned))
    }

    /// One attempt at starting the components; on error they are killed again.
    /// Starts the components in kubeadm's order and waits until the cluster is usable:
    /// ports → kubeconfigs → flags → etcd and kube-apiserver → (once ready) the controllers.
    async fn boot(&mut self, pki: &Pki) -> Result<(), BootError> {
        let ports = Ports::pick()?;
        self.ports = Some(ports);
        self.server = format!("https://{}:{}", self.apiserver_address(), ports.apiserver);
        self.etcd = format!("https://127.0.0.1:{}", ports.etcd_client);
        self.etcd_http = format!("https://127.0.0.1:{}", ports.etcd_http);
        let kubeconfigs = self.identities(pki)?;
        self.check_binaries()?;
        let flags = self.flags(&ports, &kubeconfigs);
        let started = Instant::now();
        // A retried start (a port taken meanwhile) begins with empty storage.
        let _ = std::fs::remove_dir_all(self.dir.join("etcd"));
        self.start_component("etcd", self.installation().etcd.clone(), flags.etcd)?;
        self.start_component("kube-apiserver", self.installation().binary("kube-apiserver"), flags.apiserver)?;
        self.await_usable(pki, started, (flags.controller_manager, flags.scheduler)).await?;
        self.startup = started.elapsed();
        Ok(())
    }

    /// One kubeconfig per identity, named as kubeadm names them in /etc/kubernetes.
    fn identities(&self, pki: &Pki) -> Result<Kubeconfigs, BootError> {
        let kubeconfigs = self.controller_kubeconfigs();
        for (path, user, cert, key) in [
            (&self.kubeconfig, "kubeproof-admin", &pki.admin_cert, &pki.admin_key),
            (&kubeconfigs.controller_manager, "system:kube-controller-manager", &pki.controller_manager_cert, &pki.controller_manager_key),
            (&kubeconfigs.scheduler, "system:kube-scheduler", &pki.scheduler_cert, &pki.scheduler_key),
        ] {
            write_kubeconfig(path, &self.name, &self.server, &pki.ca_cert, (user, cert, key))
                .map_err(|e| BootError::Fatal(FileError::at(path)(e).into()))?;
        }
        Ok(kubeconfigs)
    }

    fn check_binaries(&self) -> Result<(), BootError> {
        for binary in ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] {
            if !self.installation().binary(binary).exists() {
                return Err(BootError::Fatal(StartError::MissingBinary {
                    binary: self.installation().binary(binary),
                    version: self.version(),
                }));
            }
        }
        Ok(())
    }

    /// Where the API server listens: loopback, or for a cluster with a node the host side of
    /// the node's network (the node reaches it there).
    fn apiserver_address(&self) -> String {
        self.node.as_ref().map_or_else(|| "127.0.0.1".to_string(), |n| n.host_ip().to_string())
    }

    /// Every component's flags.
    fn flags(&self, ports: &Ports, kubeconfigs: &Kubeconfigs) -> Flags {
        let Ports { etcd_peer, apiserver, controller_manager: kcm_port, scheduler: scheduler_port, .. } = *ports;
        let pki_dir = self.dir.join("pki");
        let p = |f: &str| pki_dir.join(f).display().to_string();
        let etcd_data = self.dir.join("etcd");
        let (kcm_kubeconfig, scheduler_kubeconfig) = (&kubeconfigs.controller_manager, &kubeconfigs.scheduler);

        // TLS with client certificates of etcd's own CA on both ports, as kubeadm configures it.
        let etcd_args = vec![
            "--name=kubeproof".to_string(),
            format!("--data-dir={}", etcd_data.display()),
            format!("--listen-client-urls={}", self.etcd),
            format!("--advertise-client-urls={}", self.etcd),
            // gRPC on its own port: served by grpc-go itself, not through Go's net/http2, which
            // (Go 1.26) resets the streams of 1.23's older gRPC client (RST_STREAM PROTOCOL_ERROR).
            format!("--listen-client-http-urls={}", self.etcd_http),
            format!("--listen-peer-urls=https://127.0.0.1:{etcd_peer}"),
            format!("--initial-advertise-peer-urls=https://127.0.0.1:{etcd_peer}"),
            format!("--initial-cluster=kubeproof=https://127.0.0.1:{etcd_peer}"),
            format!("--cert-file={}", p(pki::files::ETCD_SERVER_CERT)),
            format!("--key-file={}", p(pki::files::ETCD_SERVER_KEY)),
            format!("--trusted-ca-file={}", p(pki::files::ETCD_CA)),
            "--client-cert-auth=true".to_string(),
            format!("--peer-cert-file={}", p(pki::files::ETCD_SERVER_CERT)),
            format!("--peer-key-file={}", p(pki::files::ETCD_SERVER_KEY)),
            format!("--peer-trusted-ca-file={}", p(pki::files::ETCD_CA)),
            "--peer-client-cert-auth=true".to_string(),
            "--unsafe-no-fsync=true".to_string(),
            "--log-level=warn".to_string(),
        ];
        // kubeadm's flags (cmd/kubeadm/app/phases/controlplane/manifests.go, the same set from
        // 1.23 to 1.37); where ours differ, docs/control-plane.md says why.
        let apiserver_args = merge_flags(
            vec![
                format!("--advertise-address={}", self.apiserver_address()),
                format!("--bind-address={}", self.apiserver_address()),
                format!("--secure-port={apiserver}"),
                "--allow-privileged=true".into(),
                "--authorization-mode=Node,RBAC".into(),
                "--enable-admission-plugins=NodeRestriction".into(),
                "--enable-bootstrap-token-auth=true".into(),
                format!("--client-ca-file={}", p("ca.crt")),
                format!("--tls-cert-file={}", p("apiserver.crt")),
                format!("--tls-private-key-file={}", p("apiserver.key")),
                format!("--etcd-servers={}", self.etcd),
                format!("--etcd-cafile={}", p(pki::files::ETCD_CA)),
                format!("--etcd-certfile={}", p(pki::files::ETCD_CLIENT_CERT)),
                format!("--etcd-keyfile={}", p(pki::files::ETCD_CLIENT_KEY)),
                format!("--kubelet-client-certificate={}", p(pki::files::KUBELET_CLIENT_CERT)),
                format!("--kubelet-client-key={}", p(pki::files::KUBELET_CLIENT_KEY)),
                "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname".into(),
                format!("--proxy-client-cert-file={}", p(pki::files::FRONT_PROXY_CLIENT_CERT)),
                format!("--proxy-client-key-file={}", p(pki::files::FRONT_PROXY_CLIENT_KEY)),
                "--requestheader-allowed-names=front-proxy-client".into(),
                format!("--requestheader-client-ca-file={}", p(pki::files::FRONT_PROXY_CA)),
                "--requestheader-extra-headers-prefix=X-Remote-Extra-".into(),
                "--requestheader-group-headers=X-Remote-Group".into(),
                "--requestheader-username-headers=X-Remote-User".into(),
                format!("--service-account-issuer={}", self.issuer()),
                format!("--service-account-key-file={}", p("sa.pub")),
                format!("--service-account-signing-key-file={}", p("sa.key")),
                format!("--service-cluster-ip-range={}", pki::SERVICE_CIDR),
                // Not kubeadm's without a node: the loopback advertise address is not a valid
                // Endpoints IP. With a node, kubeadm's `lease`: the `kubernetes` Service routes.
                format!("--endpoint-reconciler-type={}", if self.node.is_some() { "lease" } else { "none" }),
                // Not kubeadm's: keeps the self-signed serving pair out of the cluster directory's root.
                format!("--cert-dir={}", pki_dir.display()),
            ]
            .into_iter()
            // Discovery's `jwks_uri` at the issuer's own address, not the advertise address.
            .chain(self.served_issuer.as_ref().map(|s| format!("--service-account-jwks-uri={}/openid/v1/jwks", s.door.url())))
            .chain(self.authentication.iter().cloned())
            .collect(),
            &self.user_flags(crate::profile::Component::ApiServer),
        );
        let kcm = kcm_kubeconfig.display().to_string();
        // kubeadm up to 1.22 closes the insecure port 1.22 still opens on 0.0.0.0 (10252 and
        // 10251): two clusters side by side, as flag profiles are, would fight over it.
        let insecure_port = (self.version().minor < 23).then(|| "--port=0".to_string());
        let kcm_args = merge_flags(
            vec![
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={kcm_port}"),
                // Not kubeadm's `true`: one instance gains nothing from it, and a lease renewal the
                // API server of a busy machine answers late makes kube-controller-manager exit.
                "--leader-elect=false".into(),
                format!("--kubeconfig={kcm}"),
                format!("--authentication-kubeconfig={kcm}"),
                format!("--authorization-kubeconfig={kcm}"),
                format!("--client-ca-file={}", p("ca.crt")),
                format!("--requestheader-client-ca-file={}", p(pki::files::FRONT_PROXY_CA)),
                format!("--root-ca-file={}", p("ca.crt")),
                format!("--service-account-private-key-file={}", p("sa.key")),
                format!("--cluster-signing-cert-file={}", p("ca.crt")),
                format!("--cluster-signing-key-file={}", p("ca.key")),
                "--use-service-account-credentials=true".into(),
                // Not kubeadm's 20 and 30: each controller's own ServiceAccount and token cost
                // ~200 requests at start, which that client-side limit spreads over 5 s.
                "--kube-api-qps=100".into(),
                "--kube-api-burst=200".into(),
                "--controllers=*,bootstrapsigner,tokencleaner".into(),
                "--cluster-name=kubernetes".into(),
            ]
            .into_iter()
            .chain(insecure_port.clone())
            // kubeadm's with a pod subnet (kind's): each node gets its /24 of the pod network.
            .chain(
                self.node.iter().flat_map(|_| ["--allocate-node-cidrs=true".to_string(), format!("--cluster-cidr={}", node::CLUSTER_CIDR)]),
            )
            .collect(),
            &self.user_flags(crate::profile::Component::ControllerManager),
        );
        let scheduler = scheduler_kubeconfig.display().to_string();
        let scheduler_args = vec![
            "--bind-address=127.0.0.1".into(),
            format!("--secure-port={scheduler_port}"),
            "--leader-elect=false".into(),
            format!("--kubeconfig={scheduler}"),
            format!("--authentication-kubeconfig={scheduler}"),
            format!("--authorization-kubeconfig={scheduler}"),
        ]
        .into_iter()
        .chain(insecure_port)
        .collect::<Vec<String>>();
        Flags { etcd: etcd_args, apiserver: apiserver_args, controller_manager: kcm_args, scheduler: scheduler_args }
    }

    /// Starts one component; it is recorded before the state is written, so a failure kills it.
    fn start_component(&mut self, name: &'static str, binary: PathBuf, args: Vec<String>) -> Result<(), BootError> {
        self.start_placed(name, binary, args, &process::Placement::default())
    }

    /// [`start_component`](Self::start_component) in the namespaces and cgroups `placement` names.
    fn start_placed(
        &mut self,
        name: &'static str,
        binary: PathBuf,
        args: Vec<String>,
        placement: &process::Placement,
    ) -> Result<(), BootError> {
        let log = log_file(&self.dir, name);
        let c = Component::start_in(name, &binary, &args, log, self.detached, placement);
        self.components.get_mut().map_err(|_| BootError::Fatal(StartError::Poisoned))?.push(c.map_err(|e| BootError::Fatal(e.into()))?);
        self.write_state().map_err(|e| {
            self.kill_all();
            BootError::Fatal(e)
        })
    }

    /// Waits until the cluster is usable: `/readyz`, then (kube-controller-manager gives up if
    /// the API server is not healthy within 10 s, as on a busy machine) the controllers start,
    /// then the `default` ServiceAccount and `kube-root-ca.crt` ConfigMap appear.
    async fn await_usable(&mut self, pki: &Pki, started: Instant, controllers: (Vec<String>, Vec<String>)) -> Result<(), BootError> {
        let fatal = BootError::Fatal;
        let mut controllers = Some(controllers);
        let client = admin_http_client(pki).map_err(|e| fatal(e.into()))?;
        self.admin = Some(client.clone());
        let deadline = started + Duration::from_secs(120);
        let mut waiting_for = "kube-apiserver /readyz";
        loop {
            if let Err(e) = self.health() {
                let taken = self.components.lock().map(|cs| cs.iter().any(|c| c.log_tail(40).contains("address already in use")));
                self.kill_all();
                return Err(if taken.unwrap_or(false) { BootError::PortTaken(e.into()) } else { fatal(e.into()) });
            }
            if Instant::now() > deadline {
                let tails = self.tails(15);
                self.kill_all();
                return Err(fatal(StartError::NotUsable { waiting_for, tails }));
            }
            let get = |path: &str| client.get(format!("{}{path}", self.server)).send();
            let ready = async {
                if !get("/readyz").await.is_ok_and(|r| r.status().is_success()) {
                    return Err("kube-apiserver /readyz");
                }
                Ok(())
            };
            let ready = match ready.await {
                Ok(()) => match controllers.take() {
                    Some((kcm_args, scheduler_args)) => {
                        self.start_component("kube-controller-manager", self.installation().binary("kube-controller-manager"), kcm_args)?;
                        self.start_component("kube-scheduler", self.installation().binary("kube-scheduler"), scheduler_args)?;
                        // The node registers while the controllers start.
                        self.launch_node(pki).await?;
                        Err("kube-controller-manager to start")
                    }
                    None => {
                        if !get("/api/v1/namespaces/default/serviceaccounts/default").await.is_ok_and(|r| r.status().is_success()) {
                            Err("the `default` ServiceAccount in namespace default (serviceaccount controller)")
                        } else if !get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt")
                            .await
                            .is_ok_and(|r| r.status().is_success())
                        {
                            Err("the `kube-root-ca.crt` ConfigMap in namespace default (root-ca-cert-publisher)")
                        } else {
                            Ok(())
                        }
                    }
                },
                Err(what) => Err(what),
            };
            match ready {
                Ok(()) => break,
                Err(what) => waiting_for = what,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Its ServiceAccount issuer: its door when another cluster trusts it, else kubeadm's.
    pub fn issuer(&self) -> String {
        self.served_issuer.as_ref().map_or_else(|| ISSUER.to_string(), |s| s.door.url().to_string())
    }

    /// Whether another cluster trusts it: its issuer is then served at a door of its own.
    pub fn serves_issuer(&self) -> bool {
        self.served_issuer.is_some()
    }

    /// Opens its issuer's door to its API server, once its discovery is open to the trusting
    /// clusters' anonymous fetch.
    pub fn open_issuer_door(&self) {
        let (Some(served), Some(ports)) = (&self.served_issuer, self.ports) else { return };
        if let Ok(ip) = self.apiserver_address().parse::<std::net::IpAddr>() {
            served.door.open(std::net::SocketAddr::new(ip, ports.apiserver));
        }
    }

    /// Waits for the clusters it trusts to serve their issuers, then writes the
    /// AuthenticationConfiguration naming them: the kube-apiserver flags that read it.
    async fn trust(&self, peers: &[TrustedPeer]) -> Result<Vec<String>, StartError> {
        if peers.is_empty() {
            return Ok(Vec::new());
        }
        let mut issuers = Vec::new();
        for peer in peers {
            let mut issuer = peer.issuer.clone();
            let served = issuer.wait_for(Option::is_some).await.map_err(|_| StartError::TrustedNotStarted(peer.trust.cluster.clone()))?;
            issuers.push(served.clone().ok_or(StartError::Poisoned)?);
        }
        let trusted: Vec<_> = peers.iter().map(|p| &p.trust).zip(&issuers).collect();
        let config = crate::federation::authentication_config(self.version(), &trusted).map_err(StartError::CannotTrust)?;
        let path = self.dir.join("authentication-config.json");
        let text = serde_json::to_string_pretty(&config).map_err(StartError::StateJson)?;
        std::fs::write(&path, text).map_err(FileError::at(&path))?;
        Ok(crate::federation::authentication_flags(self.version(), &path))
    }

    /// The loopback ports of the components, once started (a restarted component keeps its own).
    pub fn ports(&self) -> Option<Ports> {
        self.ports
    }

    /// The command line a component of the control plane runs with now.
    pub fn args(&self, component: &str) -> Option<Vec<String>> {
        let components = self.components.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        components.iter().find(|c| c.name == component).map(|c| c.args.clone())
    }

    /// Whether a component is being restarted on purpose: the API server may not answer meanwhile.
    pub fn restarting(&self) -> bool {
        self.restarting.load(std::sync::atomic::Ordering::SeqCst) > 0
    }

    /// Stops a control-plane component and starts it again on the same ports, with its command
    /// line and `extra_flags` on top (a flag of the same name replaces the one it had); they stay
    /// through later upgrades. Returns once it runs again, and for kube-apiserver once `/readyz`
    /// answers. Meanwhile `health` never sees it exited (it is replaced under the components'
    /// lock) and `restarting` is true.
    pub async fn restart(&self, component: &str, extra_flags: &[String]) -> Result<(), StartError> {
        if !RESTARTABLE.contains(&component) {
            return Err(StartError::NotRestartable(component.to_string()));
        }
        let _restarting = self.begin_restart();
        let args = {
            let components = self.components.lock().map_err(|_| StartError::Poisoned)?;
            let old = components.iter().find(|c| c.name == component).ok_or_else(|| StartError::NotRestartable(component.to_string()))?;
            merge_flags(old.args.clone(), extra_flags)
        };
        if let Some(c) = [crate::profile::Component::ApiServer, crate::profile::Component::ControllerManager]
            .into_iter()
            .find(|c| c.binary() == component)
        {
            let mut changed = self.changed.lock().map_err(|_| StartError::Poisoned)?;
            let merged = merge_flags(changed.of(c).to_vec(), extra_flags);
            *changed.of_mut(c) = merged;
        }
        let binary = self.installation().binary(component);
        self.replace(component, &binary, args, &process::Placement::default())?;
        if component == "kube-apiserver" {
            self.await_apiserver().await?;
        }
        Ok(())
    }

    /// Counts a restart under way until the guard is dropped (see [`restarting`](Self::restarting)).
    fn begin_restart(&self) -> impl Drop + '_ {
        struct Restarting<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Restarting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        self.restarting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Restarting(&self.restarting)
    }

    /// Kills a running component and starts `binary` with `args` in its place, under the
    /// components' lock (the death watch never sees it gone); the state file follows.
    fn replace(&self, name: &str, binary: &Path, args: Vec<String>, placement: &process::Placement) -> Result<(), StartError> {
        {
            let mut components = self.components.lock().map_err(|_| StartError::Poisoned)?;
            let old = components.iter_mut().find(|c| c.name == name).ok_or_else(|| StartError::NotRestartable(name.to_string()))?;
            old.kill();
            *old = Component::start_in(old.name, binary, &args, old.log.clone(), self.detached, placement)?;
        }
        self.write_state()
    }

    /// Until kube-apiserver answers `/readyz` again (2 minutes at most). A controller that exits
    /// meanwhile — kube-controller-manager gives up when the API server is not healthy within
    /// 10 s of its own start, as after a restart just before — is started again with the same
    /// command line, as the kubelet restarts a static pod; a few times at most.
    async fn await_apiserver(&self) -> Result<(), StartError> {
        let client = self.admin.clone().ok_or(StartError::Poisoned)?;
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut revived = 0;
        loop {
            revived += self.revive_controllers(MAX_REVIVALS - revived.min(MAX_REVIVALS))?;
            self.health()?;
            if client.get(format!("{}/readyz", self.server)).send().await.is_ok_and(|r| r.status().is_success()) {
                // One that gave up just as the API server came back.
                tokio::time::sleep(Duration::from_millis(200)).await;
                self.revive_controllers(MAX_REVIVALS - revived.min(MAX_REVIVALS))?;
                return self.health().map_err(StartError::from);
            }
            if Instant::now() > deadline {
                return Err(StartError::NotUsable { waiting_for: "kube-apiserver /readyz", tails: self.tails(15) });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts again, with the same command line, each controller (kube-controller-manager,
    /// kube-scheduler) that has exited, up to `allowed` of them; returns how many. Past that, the
    /// exit stands and `health` reports it.
    fn revive_controllers(&self, allowed: usize) -> Result<usize, StartError> {
        let mut revived = 0;
        {
            let mut components = self.components.lock().map_err(|_| StartError::Poisoned)?;
            for c in components.iter_mut().filter(|c| c.name == "kube-controller-manager" || c.name == "kube-scheduler") {
                if revived >= allowed || c.exited().is_none() {
                    continue;
                }
                crate::progress::say(&format!(
                    "cluster {}: {} exited while kube-apiserver restarted; starting it again",
                    self.name, c.name
                ));
                *c = Component::start(c.name, &c.binary.clone(), &c.args.clone(), c.log.clone(), self.detached)?;
                revived += 1;
            }
        }
        if revived > 0 {
            self.write_state()?;
        }
        Ok(revived)
    }

    /// The release the cluster runs now.
    pub fn version(&self) -> KubeVersion {
        self.installation().version
    }

    /// The binaries of the release the cluster runs now.
    pub fn installation(&self) -> Installation {
        self.release.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// A component's flags beyond kubeproof's own: those it was started for, then those changed since.
    fn user_flags(&self, component: crate::profile::Component) -> Vec<String> {
        let changed = self.changed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        merge_flags(self.flags.of(component).to_vec(), changed.of(component))
    }

    /// The kubeconfigs of the controllers, named as kubeadm names them in /etc/kubernetes.
    fn controller_kubeconfigs(&self) -> Kubeconfigs {
        Kubeconfigs { controller_manager: self.dir.join("controller-manager.conf"), scheduler: self.dir.join("scheduler.conf") }
    }

    /// `Err` naming the first component that has exited, with the end of its log.
    pub fn health(&self) -> Result<(), Exited> {
        let mut components = self.components.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for c in components.iter_mut() {
            if let Some(status) = c.exited() {
                return Err(Exited { component: c.name, status, log: c.log.clone(), tail: c.log_tail(20) });
            }
        }
        Ok(())
    }

    fn tails(&self, lines: usize) -> String {
        let components = self.components.lock().map(|c| c.iter().map(|c| (c.name, c.log_tail(lines))).collect::<Vec<_>>());
        components.unwrap_or_default().into_iter().map(|(name, tail)| format!("--- {name}:\n{tail}")).collect::<Vec<_>>().join("\n")
    }

    fn write_state(&self) -> Result<(), StartError> {
        let components = self.components.lock().map_err(|_| StartError::Poisoned)?.iter().map(|c| c.record.clone()).collect();
        let state = ClusterState {
            name: self.name.clone(),
            version: self.version().to_string(),
            server: self.server.clone(),
            kubeconfig: self.kubeconfig.clone(),
            flags: self.flags.clone(),
            detached: self.detached,
            owner: std::process::id(),
            components,
            node: self.node.clone(),
        };
        let text = serde_json::to_string_pretty(&state).map_err(StartError::StateJson)?;
        pki::write_private(&self.dir.join("state.json"), text.as_bytes()).map_err(StartError::State)
    }

    fn kill_all(&self) {
        if let Ok(mut components) = self.components.lock() {
            // Controllers first, then the API server, then its storage.
            for c in components.iter_mut().rev() {
                c.kill();
            }
            components.clear();
        }
    }

    /// Stops the processes and deletes the cluster's directory.
    pub fn stop(self) {
        drop(self)
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if self.detached && self.started {
            return;
        }
        if let Some(importing) = self.importing.take() {
            importing.abort();
        }
        self.kill_all();
        if let Some(node) = &self.node {
            if let Err(e) = node.sweep() {
                crate::progress::say(&format!("cluster {}: {e}", self.name));
            }
            if node::NodeState::mounted_under(&self.dir) {
                return;
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The loopback ports of one cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub etcd_client: u16,
    pub etcd_http: u16,
    pub etcd_peer: u16,
    pub apiserver: u16,
    pub controller_manager: u16,
    pub scheduler: u16,
}

impl Ports {
    fn pick() -> Result<Ports, BootError> {
        let port = || process::free_port().map_err(|e| BootError::Fatal(e.into()));
        Ok(Ports {
            etcd_client: port()?,
            etcd_http: port()?,
            etcd_peer: port()?,
            apiserver: port()?,
            controller_manager: port()?,
            scheduler: port()?,
        })
    }
}

/// The kubeconfigs of the controllers' own identities.
struct Kubeconfigs {
    controller_manager: PathBuf,
    scheduler: PathBuf,
}

/// Each component's command line.
struct Flags {
    etcd: Vec<String>,
    apiserver: Vec<String>,
    controller_manager: Vec<String>,
    scheduler: Vec<String>,
}

enum BootError {
    PortTaken(StartError),
    Fatal(StartError),
}

/// Defaults overridden by user flags of the same name; user flags without a default are added.
pub fn merge_flags(defaults: Vec<String>, user: &[String]) -> Vec<String> {
    let key = |f: &str| f.split('=').next().unwrap_or(f).to_string();
    let overridden: Vec<String> = user.iter().map(|f| key(f)).collect();
    defaults.into_iter().filter(|d| !overridden.contains(&key(d))).chain(user.iter().cloned()).collect()
}

/// A kubeconfig for one identity: `(user name, certificate, key)`.
fn write_kubeconfig(path: &Path, name: &str, server: &str, ca: &str, (user, cert, key): (&str, &str, &str)) -> std::io::Result<()> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let context = format!("kubeproof-{name}");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {context}\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: {context}\n  context:\n    cluster: {context}\n    user: {user}\n    namespace: default\ncurrent-context: {context}\n",
        b64(ca),
        b64(cert),
        b64(key)
    );
    pki::write_private(path, text.as_bytes())
}

fn admin_http_client(pki: &Pki) -> Result<reqwest::Client, HttpClientError> {
    crate::cluster::ensure_crypto_provider();
    let ca = reqwest::Certificate::from_pem(pki.ca_cert.as_bytes()).map_err(HttpClientError::Ca)?;
    let identity =
        reqwest::Identity::from_pem(format!("{}{}", pki.admin_cert, pki.admin_key).as_bytes()).map_err(HttpClientError::Identity)?;
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .identity(identity)
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(HttpClientError::Build)
}

fn read_state(dir: &Path) -> Option<ClusterState> {
    serde_json::from_slice(&std::fs::read(dir.join("state.json")).ok()?).ok()
}

/// What `kubeproof cluster list` says of a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    /// A `cluster up` is starting it right now.
    Starting,
    /// A component exited.
    Broken,
}

/// One line of `kubeproof cluster list`.
pub struct Listed {
    pub state: ClusterState,
    pub status: Status,
}

/// Local clusters on this machine. Leftovers of kubeproof processes that died (ephemeral
/// clusters without their owner, half-made directories) are removed; only processes that are
/// still the ones kubeproof started are signalled.
pub fn list() -> Vec<Listed> {
    let Ok(entries) = std::fs::read_dir(clusters_dir()) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        if !entry.file_type().is_ok_and(|t| t.is_dir()) || validate_name(&name).is_err() {
            continue;
        }
        let dir = entry.path();
        // The lock tells whether a live kubeproof is starting or owns the cluster; look, don't
        // wait. The state is read after it: a start may finish in between.
        let lock = ClusterLock::acquire_within(&name, Duration::ZERO);
        let state = read_state(&dir).filter(|s| s.name == name);
        let Ok(_lock) = lock else {
            if let Some(state) = state {
                let status = if state.detached { Status::Starting } else { status_of(&state) };
                out.push(Listed { state, status });
            }
            continue;
        };
        match state {
            Some(state) if state.detached => {
                let status = status_of(&state);
                out.push(Listed { state, status });
            }
            leftover => {
                // Its owner died; the parent-death signal took its processes, unless one was
                // not yet recorded as a child when it died, and its node's shims and containers.
                drop(leftover);
                clean_leftover(&dir);
            }
        }
    }
    out.sort_by(|a, b| a.state.name.cmp(&b.state.name));
    out
}

fn status_of(state: &ClusterState) -> Status {
    if state.components.iter().all(ProcessRecord::is_running) { Status::Running } else { Status::Broken }
}

/// Stops a cluster started with `kubeproof cluster up` and deletes its directory. The name is
/// checked before any file is read; recorded processes are signalled only if they are still
/// the ones kubeproof started.
pub fn down(name: &str) -> Result<ClusterState, DownError> {
    let dir = cluster_dir(name)?;
    let _lock = ClusterLock::acquire(name).map_err(DownError::Locked)?;
    let state = read_state(&dir)
        .filter(|s| s.name == name)
        .ok_or_else(|| DownError::NotRunning { name: name.to_string(), running: list().into_iter().map(|l| l.state.name).collect() })?;
    state.kill();
    // Wait (briefly) until they are gone so ports and files are free when we return.
    let deadline = Instant::now() + Duration::from_secs(5);
    while state.any_running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(node) = &state.node {
        node.sweep().map_err(|error| DownError::Sweep { name: name.to_string(), error })?;
    }
    std::fs::remove_dir_all(&dir).map_err(FileError::new("cannot remove", &dir))?;
    Ok(state)
}

/// A cluster name that could not name a directory under the clusters directory (the name, as
/// given), refused by [`validate_name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid cluster name: use up to 63 letters, digits, - and _, starting with a letter or digit")]
pub struct InvalidName(pub String);

/// Why the lock of a cluster's name was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ClusterLockError {
    #[error(transparent)]
    Name(#[from] InvalidName),
    /// The clusters directory cannot be created.
    #[error(transparent)]
    Directory(#[from] FileError),
    /// Another kubeproof starts, runs or cleans up a cluster of this name.
    #[error("a cluster named {name} is being started or running (pid {})", .pid.map_or_else(|| "unknown".to_string(), |p| p.to_string()))]
    Held { name: String, pid: Option<u32> },
    #[error("cannot lock cluster {name}: {error}")]
    Io { name: String, error: String },
}

/// Why a local control plane did not start. Each kind says what the user sees; the component
/// that failed, and the end of its log, when one did.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Lock(#[from] ClusterLockError),
    #[error(transparent)]
    Name(#[from] InvalidName),
    /// A detached cluster of this name runs (`cluster up`).
    #[error("a cluster named `{0}` is already running: `kubeproof cluster down --name {0}` first")]
    AlreadyRunning(String),
    /// What a dead kubeproof left in the cluster's directory could not be removed.
    #[error("cannot remove the leftover {}", .0.display())]
    Leftover(PathBuf),
    /// The cluster's directory, its logs or its kubeconfigs.
    #[error(transparent)]
    File(#[from] FileError),
    #[error("a local cluster has at most 1 node ({0} asked)")]
    Nodes(u32),
    #[error(transparent)]
    Node(#[from] node::NodeError),
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    #[error("cannot write certificates: {0}")]
    Certificates(std::io::Error),
    /// A blocking task of the start panicked or was cancelled.
    #[error("{0}")]
    Task(#[from] tokio::task::JoinError),
    /// A component's process could not be started.
    #[error(transparent)]
    Process(#[from] process::ProcessError),
    /// The release's cache entry lacks a component (made by an older kubeproof).
    #[error("{} is missing: `kubeproof cluster install --version {version}` adds it", .binary.display())]
    MissingBinary { binary: PathBuf, version: KubeVersion },
    /// A component exited while the cluster started.
    #[error(transparent)]
    Exited(#[from] Exited),
    /// Not usable in time: what it waited for, and the end of every component's log.
    #[error("the cluster did not become usable within 120s (waiting for {waiting_for})\n{tails}")]
    NotUsable { waiting_for: &'static str, tails: String },
    #[error("cannot write cluster state: {0}")]
    State(std::io::Error),
    #[error(transparent)]
    Upgrade(#[from] upgrade::PathError),
    #[error("{0}")]
    StateJson(serde_json::Error),
    /// The admin identity's HTTP client.
    #[error(transparent)]
    AdminClient(#[from] HttpClientError),
    /// Not a control-plane component this cluster runs and can restart.
    #[error("`{0}` is not a component kubeproof can restart (kube-apiserver, kube-controller-manager, kube-scheduler)")]
    NotRestartable(String),
    /// The cluster's own kubeconfig cannot be read back.
    #[error("{0}")]
    Kubeconfig(kube::config::KubeconfigError),
    /// A cluster it was to trust did not start (its own error is reported with it).
    #[error("cluster `{0}`, which this one trusts, did not start")]
    TrustedNotStarted(String),
    /// The loopback port its issuer is served at could not be bound.
    #[error("cannot open a port for the cluster's issuer: {0}")]
    IssuerDoor(std::io::Error),
    /// Its release cannot be configured to trust another cluster.
    #[error("{0}")]
    CannotTrust(crate::federation::TooOld),
    /// A lock of this process was poisoned by a panic.
    #[error("poisoned")]
    Poisoned,
}

/// A component of a local cluster that has exited: which, how, and the end of its log.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{component} exited ({status}); the end of {}:\n{tail}", .log.display())]
pub struct Exited {
    pub component: &'static str,
    pub status: String,
    pub log: PathBuf,
    pub tail: String,
}

/// Why `cluster down` did not stop a cluster.
#[derive(Debug, thiserror::Error)]
pub enum DownError {
    #[error(transparent)]
    Name(#[from] InvalidName),
    /// Another process holds the cluster: it is the one to stop.
    #[error("{0}: stop that process instead")]
    Locked(ClusterLockError),
    #[error("no local cluster named `{name}` (running: {})", if .running.is_empty() { "none".to_string() } else { .running.join(", ") })]
    NotRunning { name: String, running: Vec<String> },
    /// The node's network, cgroups or mounts could not all be undone.
    #[error("cluster {name}: {error}")]
    Sweep { name: String, error: node::NodeError },
    #[error(transparent)]
    File(#[from] FileError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_leave_the_clusters_directory() {
        for bad in ["", "/abs/path", "../x", "..", ".", "a/b", "-rf", ".hidden", "x.lock", "a b", &"x".repeat(64)] {
            let e = validate_name(bad).expect_err(bad).to_string();
            assert!(e.contains("not a valid cluster name"), "{e}");
            assert!(down(bad).is_err_and(|e| e.to_string().contains("not a valid cluster name")), "down({bad:?})");
            assert!(ClusterLock::acquire(bad).is_err(), "lock({bad:?})");
        }
        for good in ["v1-37-2", "old", "a_b-9", "1-23"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn user_flags_override_defaults() {
        let merged =
            merge_flags(vec!["--a=1".into(), "--b=2".into()], &["--b=3".into(), "--service-account-max-token-expiration=2h".into()]);
        assert_eq!(merged, vec!["--a=1", "--b=3", "--service-account-max-token-expiration=2h"]);
    }
}

//! A node beside the local control plane, without Docker: containerd (Debian's), runc, the
//! CNI plugins, and the release's own kubelet and kube-proxy, in a network namespace of their
//! own (see `network.rs`) and a cgroup subtree of their own (see `cgroups.rs`), running pods of
//! images kubeproof makes (see `images.rs`). Everything it makes is recorded in the cluster's
//! state ([`NodeState`]) and undone by [`NodeState::sweep`]; docs/control-plane.md ("A node").

mod cgroups;
mod config;
pub mod images;
mod janitor;
mod mounts;
mod network;
mod sysctls;

use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

pub use janitor::{janitor, spawn_janitor, this_program_is_the_cli};

use super::pki::{self, Pki};
use super::process::{MountNamespace, Placement};
use super::{BootError, FileError, LocalCluster, StartError, cache_root, write_kubeconfig};

/// The node's name (the kubelet registers it; its user is `system:node:kubeproof-node`).
pub const NODE_NAME: &str = "kubeproof-node";
/// The pod network of every cluster (kubeadm's `podSubnet` as kind sets it).
pub const CLUSTER_CIDR: &str = "10.244.0.0/16";
/// The node's share of it: the first /24, which kube-controller-manager allocates to the first node.
pub const POD_CIDR: &str = "10.244.0.0/24";

/// The daemons of a node, in the order they start (each logs to `logs/<name>.log`).
pub const DAEMONS: [&str; 3] = ["containerd", "kubelet", "kube-proxy"];

/// How long a node may take from containerd's start to Ready.
const READY_WITHIN: Duration = Duration::from_secs(90);

/// What a node made, recorded in the cluster's state so that anyone can undo it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// The network: namespace `kp-N`, host veth `kp-N`, 172.29.N.0/30.
    pub index: u8,
    /// The cluster's name: the cgroup subtree is `/kubeproof/<cluster>` in every hierarchy.
    pub cluster: String,
    /// Everything on disk (mounts under it are undone before it is removed).
    pub dir: PathBuf,
}

impl NodeState {
    pub fn netns(&self) -> String {
        network::name(self.index)
    }

    /// The API server's address, as the node reaches it.
    pub fn host_ip(&self) -> Ipv4Addr {
        network::host_ip(self.index)
    }

    pub fn node_ip(&self) -> Ipv4Addr {
        network::node_ip(self.index)
    }

    /// The CNI network's name: results libcni caches under /var/lib/cni carry it.
    fn cni_network(&self) -> String {
        format!("kubeproof-{}", self.index)
    }

    /// Undoes everything the node made, in an order that leaves nothing: every process of its
    /// cgroup subtree (daemons, shims, containers) killed, every mount under its directory
    /// unmounted, its network namespace deleted (its veth, bridge and iptables rules go with
    /// it), the subtree removed, libcni's cache and the shims' sockets outside the directory removed,
    /// the kernel settings put back when it was the last node. Idempotent; the cluster's
    /// directory itself is removed by the caller.
    pub fn sweep(&self) -> Result<(), NodeError> {
        let mut errors = Vec::new();
        if let Err(e) = cgroups::destroy(&self.cluster) {
            errors.push(e);
        }
        if let Err(e) = mounts::unmount_under(&self.dir) {
            errors.push(e);
        }
        network::delete(&self.netns());
        remove_outside(self);
        let others = std::fs::read_dir("/run/netns")
            .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("kp-")))
            .unwrap_or(false);
        sysctls::restore(&cache_root(), others);
        if !others {
            // The directories the runtime and the kubelet create outside ours, once empty.
            for dir in ["/run/containerd/s", "/run/containerd", "/var/lib/cni/results", "/var/lib/cni"] {
                let _ = std::fs::remove_dir(dir);
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(NodeError::Sweep(errors)) }
    }

    /// Whether anything is mounted at or below `dir` (then it must not be removed recursively:
    /// that would reach into the mounts).
    pub fn mounted_under(dir: &Path) -> bool {
        !mounts::under(dir).is_empty()
    }
}

/// Files a node leaves outside its directory: libcni's cached results and the shims' sockets.
/// (The pods' logs are in the node's own /var/log, see `start_runtime`.)
fn remove_outside(state: &NodeState) {
    let layout = NodeLayout::new(state.dir.clone());
    // The pod sandboxes containerd knows of, by ID.
    let sandboxes: Vec<String> = ["io.containerd.grpc.v1.cri/sandboxes", "io.containerd.runtime.v2.task/k8s.io"]
        .iter()
        .filter_map(|d| std::fs::read_dir(layout.containerd_state.join(d)).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect::<Vec<_>>())
        .collect();
    // containerd 1.6 puts each shim's socket at /run/containerd/s/sha256(<address>/<namespace>/<id>).
    for id in &sandboxes {
        let key = format!("{}/k8s.io/{id}", layout.containerd_socket.display());
        let _ = std::fs::remove_file(Path::new("/run/containerd/s").join(hex::encode(sha2::Sha256::digest(key.as_bytes()))));
    }
    // libcni's cache: `<network>-<sandbox>-<interface>`, the loopback network's `cni-loopback-<sandbox>-lo`.
    let prefix = format!("{}-", state.cni_network());
    if let Ok(entries) = std::fs::read_dir("/var/lib/cni/results") {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) || sandboxes.iter().any(|id| name == format!("cni-loopback-{id}-lo")) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Where a node's files are, under `<cluster dir>/node`.
pub struct NodeLayout {
    pub dir: PathBuf,
    pub containerd_root: PathBuf,
    pub containerd_state: PathBuf,
    pub containerd_socket: PathBuf,
    pub cni_conf_dir: PathBuf,
    pub kubelet_root: PathBuf,
}

impl NodeLayout {
    pub fn new(dir: PathBuf) -> NodeLayout {
        NodeLayout {
            containerd_root: dir.join("containerd"),
            containerd_state: dir.join("run"),
            containerd_socket: dir.join("run/containerd.sock"),
            cni_conf_dir: dir.join("cni/net.d"),
            kubelet_root: dir.join("kubelet"),
            dir,
        }
    }
}

/// The apt line that installs what a node needs (Debian, as root).
pub const APT_LINE: &str = "apt-get install -y containerd runc containernetworking-plugins iptables conntrack busybox-static";

/// Whether a scenario needing a node must fail when this machine cannot run one
/// (`KUBEPROOF_NODES_REQUIRED=1`, as CI sets it) rather than be not applicable.
pub fn required() -> bool {
    std::env::var_os("KUBEPROOF_NODES_REQUIRED").is_some_and(|v| v == "1")
}

/// Why this machine cannot run a node, if it cannot: not root, or a program missing.
pub fn preflight() -> Result<(), Unfit> {
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Unfit::NotRoot);
    }
    let on_path = |name: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).any(|d| d.join(name).is_file())
            || ["/usr/sbin", "/sbin", "/usr/bin"].iter().any(|d| Path::new(d).join(name).is_file())
    };
    let mut missing: Vec<String> = ["containerd", "containerd-shim-runc-v2", "ctr", "runc", "iptables", "ip"]
        .into_iter()
        .filter(|p| !on_path(p))
        .map(str::to_string)
        .collect();
    missing.extend(["bridge", "host-local", "loopback"].iter().map(|p| format!("/usr/lib/cni/{p}")).filter(|p| !Path::new(p).is_file()));
    if !Path::new(images::BUSYBOX).is_file() {
        missing.push(images::BUSYBOX.into());
    }
    if missing.is_empty() { Ok(()) } else { Err(Unfit::Missing(missing)) }
}

/// Why this machine cannot run a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfit {
    /// kubeproof does not run as root.
    NotRoot,
    /// Programs and files a node needs, by name or path, not found.
    Missing(Vec<String>),
    /// The node's binaries of a release cannot be built here: the Go module proxy refuses a
    /// module they need.
    Unobtainable { release: String, module: String },
}

impl std::fmt::Display for Unfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unfit::NotRoot => write!(
                f,
                "a node needs root (network namespaces, cgroups, mounts), and Debian's containerd, runc, CNI plugins, iptables and busybox-static ({APT_LINE})"
            ),
            Unfit::Missing(missing) => write!(f, "a node needs {} (not found); as root: {APT_LINE}", missing.join(", ")),
            Unfit::Unobtainable { release, module } => write!(
                f,
                "the node's binaries of {release} (kubelet, kube-proxy) cannot be built here: the Go module proxy refuses {module}, which they need"
            ),
        }
    }
}

impl std::error::Error for Unfit {}

/// Makes the node's network and cgroups before anything starts (the API server listens on the
/// host side of the network). On error, what was made is undone.
pub fn prepare(cluster: &str, cluster_dir: &Path) -> Result<NodeState, NodeError> {
    preflight().map_err(NodeError::Unfit)?;
    let dir = cluster_dir.join("node");
    let socket = NodeLayout::new(dir.clone()).containerd_socket;
    // A unix socket's path is at most 107 bytes.
    if socket.as_os_str().len() > 100 {
        return Err(NodeError::SocketPath(socket));
    }
    let index = network::create()?;
    let state = NodeState { index, cluster: cluster.to_string(), dir };
    if let Err(e) = cgroups::create(cluster) {
        let _ = state.sweep();
        return Err(e);
    }
    Ok(state)
}

/// A node daemon as it is started: its name, binary, flags, namespaces and cgroups.
type Daemon = (&'static str, PathBuf, Vec<String>, Placement);

impl LocalCluster {
    /// The node's first half, which needs nothing of the control plane and so runs while it
    /// starts: the configuration files, containerd in the node's namespace and cgroup, and the
    /// images' import (awaited by [`start_node`](Self::start_node)).
    pub(super) async fn start_runtime(&mut self, images: &[PathBuf]) -> Result<(), BootError> {
        let fatal = |e: NodeError| BootError::Fatal(e.into());
        let Some(state) = self.node.clone() else { return Ok(()) };
        let layout = NodeLayout::new(state.dir.clone());
        for d in [&layout.dir, &layout.containerd_state, &layout.dir.join("cni"), &layout.cni_conf_dir] {
            if !d.exists() {
                pki::private_dir(d).map_err(io(d))?;
            }
        }
        let files = [
            (layout.dir.join("containerd.toml"), config::containerd(&layout)),
            (layout.cni_conf_dir.join("10-kubeproof.conflist"), config::cni(&layout, &state.cni_network())),
        ];
        for (path, text) in &files {
            pki::write_private(path, text.as_bytes()).map_err(io(path))?;
        }
        let (version, kubectl) = (self.version(), self.installation().binary("kubectl"));
        let archive = tokio::task::spawn_blocking(move || images::archive(&cache_root(), version, &kubectl))
            .await
            .map_err(|e| fatal(NodeError::Task(e)))?
            .map_err(fatal)?;
        sysctls::save(&cache_root()).map_err(fatal)?;
        sysctls::raise().map_err(fatal)?;
        // containerd, and the kubelet beside it, see the node's own /var/log: two nodes' kubelets
        // would otherwise share /var/log/pods, and each one's garbage collection removes the
        // logs of pods it does not know — the other node's (podLogsDir exists only from 1.30).
        let var_log = layout.dir.join("var-log");
        // A start retried on other ports comes here again: the directory is already there.
        if !var_log.exists() {
            pki::private_dir(&var_log).map_err(io(&var_log))?;
        }
        let placement = Placement {
            mounts: Some(MountNamespace::New { binds: vec![(var_log, PathBuf::from("/var/log"))] }),
            ..self.node_placement(&state)?
        };
        let config = format!("--config={}", layout.dir.join("containerd.toml").display());
        self.start_placed("containerd", which(Path::new("containerd")), vec![config], &placement)?;
        self.await_socket(&layout.containerd_socket).await?;
        let mut archives = vec![archive];
        archives.extend(images.iter().cloned());
        let socket = layout.containerd_socket.clone();
        self.importing = Some(tokio::spawn(async move {
            for archive in archives {
                import(&socket, &archive).await?;
            }
            Ok(())
        }));
        Ok(())
    }

    /// The node's second half, once the API server is ready (the controllers start meanwhile):
    /// the kubelet and kube-proxy with their identities. [`await_node`](Self::await_node) waits
    /// for the result.
    pub(super) async fn launch_node(&mut self, pki: &Pki) -> Result<(), BootError> {
        let fatal = |e: NodeError| BootError::Fatal(e.into());
        let poisoned = || BootError::Fatal(StartError::Poisoned);
        let Some(state) = self.node.clone() else { return Ok(()) };
        let Some(identities) = &pki.node else { return Err(fatal(NodeError::NoCertificates)) };
        // A start retried on other ports has killed containerd with the rest.
        let runtime_up = self.components.get_mut().map_err(|_| poisoned())?.iter().any(|c| c.name == "containerd");
        if !runtime_up {
            let images = self.node_images.clone();
            self.start_runtime(&images).await?;
        }
        let ca = std::fs::read_to_string(self.dir.join("pki/ca.crt")).map_err(io(&self.dir.join("pki/ca.crt")))?;
        let kubelet_conf = self.dir.join("kubelet.conf");
        let proxy_conf = self.dir.join("kube-proxy.conf");
        for (path, user, cert, key) in [
            (&kubelet_conf, format!("system:node:{NODE_NAME}"), &identities.kubelet_cert, &identities.kubelet_key),
            (&proxy_conf, "system:kube-proxy".to_string(), &identities.proxy_cert, &identities.proxy_key),
        ] {
            write_kubeconfig(path, &self.name, &self.server, &ca, (&user, cert, key)).map_err(io(path))?;
        }
        for (name, binary, args, placement) in self.daemons(&state)? {
            self.start_placed(name, binary, args, &placement)?;
        }
        Ok(())
    }

    /// The kubelet and kube-proxy of the release the cluster runs: their configuration files
    /// written, and how each is started (binary, flags, namespaces and cgroups).
    fn daemons(&self, state: &NodeState) -> Result<Vec<Daemon>, BootError> {
        let fatal = |e: NodeError| BootError::Fatal(e.into());
        let installation = self.installation();
        for binary in ["kubelet", "kube-proxy"] {
            if !installation.binary(binary).exists() {
                return Err(fatal(NodeError::MissingBinary(installation.binary(binary))));
            }
        }
        let layout = NodeLayout::new(state.dir.clone());
        let files = [
            (
                layout.dir.join("kubelet.yaml"),
                config::kubelet(&layout, self.version(), &self.dir.join("pki/ca.crt"), &cgroups::root(&state.cluster)),
            ),
            (layout.dir.join("kube-proxy.yaml"), config::kube_proxy(&self.dir.join("kube-proxy.conf"))),
        ];
        for (path, text) in &files {
            pki::write_private(path, text.as_bytes()).map_err(io(path))?;
        }
        let containerd = self.components.lock().map_err(|_| BootError::Fatal(StartError::Poisoned))?;
        let containerd = containerd.iter().find(|c| c.name == "containerd").map(|c| c.record.pid);
        let containerd = containerd.ok_or_else(|| fatal(NodeError::NoRuntime))?;
        let mounts = MountNamespace::Join(PathBuf::from(format!("/proc/{containerd}/ns/mnt")));
        let placement = self.node_placement(state)?;
        let kubelet_placement = Placement { mounts: Some(mounts), ..placement.clone() };
        let kubelet_args = config::kubelet_args(
            &layout,
            self.version(),
            &layout.dir.join("kubelet.yaml"),
            &self.dir.join("kubelet.conf"),
            &state.node_ip().to_string(),
        );
        let proxy_args = vec![format!("--config={}", layout.dir.join("kube-proxy.yaml").display())];
        Ok(vec![
            ("kubelet", installation.binary("kubelet"), kubelet_args, kubelet_placement),
            ("kube-proxy", installation.binary("kube-proxy"), proxy_args, placement),
        ])
    }

    /// The node's kubelet and kube-proxy replaced by those of the release the cluster now runs
    /// (its pods keep running in containerd meanwhile), until the node is Ready on the new kubelet.
    pub(in crate::cluster::local) async fn upgrade_node(&self) -> Result<(), StartError> {
        let Some(state) = self.node.clone() else { return Ok(()) };
        let unboot = |e: BootError| match e {
            BootError::PortTaken(e) | BootError::Fatal(e) => e,
        };
        for (name, binary, args, placement) in self.daemons(&state).map_err(unboot)? {
            self.replace(name, &binary, args, &placement)?;
        }
        let client = self.admin.clone().ok_or(StartError::Poisoned)?;
        self.await_node_ready(&client, Instant::now(), Some(self.version().tag())).await.map_err(unboot)
    }

    /// Returns when the node is Ready and schedulable and its images are in.
    pub(super) async fn await_node(&mut self, pki: &Pki) -> Result<(), BootError> {
        if self.node.is_none() {
            return Ok(());
        }
        let client = super::admin_http_client(pki).map_err(|e| BootError::Fatal(e.into()))?;
        self.await_node_ready(&client, Instant::now(), None).await?;
        if let Some(importing) = self.importing.take() {
            importing.await.map_err(|e| BootError::Fatal(e.into()))?.map_err(|e| BootError::Fatal(e.into()))?;
        }
        Ok(())
    }

    /// The node's namespace and its daemons' cgroup in every hierarchy.
    fn node_placement(&self, state: &NodeState) -> Result<Placement, BootError> {
        Ok(Placement {
            netns: Some(network::netns_file(&state.netns())),
            cgroups: cgroups::create(&state.cluster).map_err(|e| BootError::Fatal(e.into()))?,
            mounts: None,
        })
    }

    async fn await_socket(&self, socket: &Path) -> Result<(), BootError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(socket).is_err() {
            self.health().map_err(|e| BootError::Fatal(e.into()))?;
            if Instant::now() > deadline {
                let tails = self.tails(15);
                return Err(BootError::Fatal(NodeError::NoSocket { socket: socket.to_path_buf(), tails }.into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Until the node is Ready and the node lifecycle controller has lifted its `not-ready`
    /// taint, so that a pod created next is scheduled at once.
    async fn await_node_ready(&self, client: &reqwest::Client, started: Instant, kubelet: Option<String>) -> Result<(), BootError> {
        let url = format!("{}/api/v1/nodes/{NODE_NAME}", self.server);
        let mut seen = String::from("not registered");
        loop {
            self.health().map_err(|e| BootError::Fatal(e.into()))?;
            if started.elapsed() > READY_WITHIN {
                return Err(BootError::Fatal(NodeError::NotReady { seen, tails: self.tails(15) }.into()));
            }
            let node = match client.get(&url).send().await {
                Ok(response) => response.json::<serde_json::Value>().await.ok(),
                Err(_) => None,
            };
            if let Some(node) = node {
                let ready = node
                    .pointer("/status/conditions")
                    .and_then(|c| c.as_array())
                    .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                    .is_some_and(|c| c["status"] == "True");
                let tainted = node
                    .pointer("/spec/taints")
                    .and_then(|t| t.as_array())
                    .is_some_and(|t| t.iter().any(|t| t["key"] == "node.kubernetes.io/not-ready"));
                let on_kubelet = kubelet.as_deref().is_none_or(|v| node.pointer("/status/nodeInfo/kubeletVersion") == Some(&v.into()));
                if ready && !tainted && on_kubelet {
                    return Ok(());
                }
                seen = if ready { "Ready, still tainted not-ready".into() } else { "registered, not Ready".into() };
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The program's path on PATH (so that the recorded executable is the real one).
fn which(program: &Path) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| program.to_path_buf())
}

/// `ctr images import` of an archive into the node's containerd (namespace `k8s.io`, the CRI's).
async fn import(socket: &Path, archive: &Path) -> Result<(), NodeError> {
    let mut cmd = std::process::Command::new(which(Path::new("ctr")));
    cmd.arg("--address").arg(socket).args(["-n", "k8s.io", "images", "import"]).arg(archive);
    super::process::die_with_parent(&mut cmd);
    let shown = archive.display().to_string();
    let out = tokio::task::spawn_blocking(move || cmd.output()).await.map_err(NodeError::Task)?.map_err(NodeError::Ctr)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NodeError::Import { archive: shown, stderr: String::from_utf8_lossy(&out.stderr).trim().to_string() })
    }
}

fn io(what: &Path) -> impl Fn(std::io::Error) -> BootError + '_ {
    move |e| BootError::Fatal(FileError::at(what)(e).into())
}

/// Why a node could not be made, started or cleaned up.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// This machine cannot run a node: what [`preflight`] says is missing.
    #[error(transparent)]
    Unfit(Unfit),
    #[error("the node's socket path {} is too long for a unix socket: use a shorter cluster name or KUBEPROOF_CACHE_DIR", .0.display())]
    SocketPath(PathBuf),
    #[error("no free node network: 172.29.1.0/30 to 172.29.254.0/30 are all taken (`ip netns list` shows kp-N)")]
    NoNetwork,
    #[error("cannot run `ip`: {0}")]
    IpRun(std::io::Error),
    #[error("`ip {args}` failed: {stderr}")]
    Ip { args: String, stderr: String },
    #[error("no cgroup hierarchy is mounted (/sys/fs/cgroup): a node needs cgroups")]
    NoCgroups,
    #[error("processes {pids:?} of the cgroup {cgroup} survived SIGKILL")]
    Survivors { pids: Vec<u32>, cgroup: String },
    #[error("mounts left under {}: {left:?}", .dir.display())]
    MountsLeft { dir: PathBuf, left: Vec<PathBuf> },
    /// Every part of a sweep that failed, in order.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Sweep(Vec<NodeError>),
    #[error("cannot raise /proc/sys/{setting} to {wanted}: {error}")]
    Sysctl { setting: &'static str, wanted: u64, error: std::io::Error },
    #[error("cannot find the kubeproof binary to start a node's janitor (which cleans up if kubeproof is killed): set KUBEPROOF_BIN")]
    NoJanitor,
    #[error("cannot make the janitor's pipe: {0}")]
    JanitorPipe(std::io::Error),
    #[error("cannot start the node's janitor ({}): {error}", .binary.display())]
    JanitorSpawn { binary: PathBuf, error: std::io::Error },
    #[error("{0}: the node images are made of busybox-static (apt-get install busybox-static)")]
    Busybox(FileError),
    #[error("cannot make the node images: {0}")]
    Images(images::ImageError),
    #[error("cannot run ctr: {0}")]
    Ctr(std::io::Error),
    #[error("cannot import the images of {archive}: {stderr}")]
    Import { archive: String, stderr: String },
    #[error("the node's certificates are missing")]
    NoCertificates,
    #[error("{} is missing: the release was installed without its node binaries", .0.display())]
    MissingBinary(PathBuf),
    #[error("containerd is not running")]
    NoRuntime,
    #[error("containerd did not open {} within 30s\n{tails}", .socket.display())]
    NoSocket { socket: PathBuf, tails: String },
    #[error("the node did not become Ready within {}s of the control plane ({seen})\n{tails}", READY_WITHIN.as_secs())]
    NotReady { seen: String, tails: String },
    #[error("{0}")]
    Task(tokio::task::JoinError),
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{0}")]
    Json(serde_json::Error),
}

/// Keeps a janitor alive for an ephemeral cluster's node: the write end of its pipe.
pub struct JanitorPipe(#[allow(dead_code)] pub OwnedFd);

//! `kubeproof cluster …`: install, start, stop and list local control planes.

use clap::Subcommand;

use kubeproof::cluster::Profile;
use kubeproof::cluster::local::{self, ClusterLock, ClusterOptions, InstallOptions, LocalCluster, Status, versions};
use kubeproof::interrupt;
use kubeproof::version::KubeVersion;

use super::ExitCode;

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Install (or verify) a release's binaries in the cache: the official release binaries,
    /// checksums verified, or built from the official Go modules.
    Install {
        /// A release: 1.24.17, 1.24 (newest patch), latest, a pre-release such as 1.38.0-beta.0,
        /// or next (the newest pre-release).
        #[arg(long, default_value = "latest")]
        version: String,
        /// Re-hash cached binaries against the manifest; install again on a mismatch.
        #[arg(long)]
        verify: bool,
        /// Install again even when cached.
        #[arg(long)]
        force: bool,
        /// download (official binaries only), build (from the Go modules only) or auto (download,
        /// building when the site is unreachable or lacks the release). Default: $KUBEPROOF_SOURCE, else auto.
        #[arg(long, value_name = "download|build|auto")]
        source: Option<local::download::Source>,
        /// A base URL holding release/vX.Y.Z/bin/linux/ARCH/NAME and etcd/vA.B.C/… (see
        /// docs/control-plane.md). Default: $KUBEPROOF_MIRROR, else dl.k8s.io and etcd's GitHub releases.
        #[arg(long, value_name = "URL")]
        mirror: Option<String>,
        /// Also a node's binaries, kubelet and kube-proxy (what `cluster up --nodes 1` needs).
        #[arg(long)]
        node: bool,
    },
    /// Start a local cluster that keeps running until `cluster down`.
    Up {
        /// As for install: 1.24.17, 1.24, latest, 1.38.0-beta.0 or next.
        #[arg(long, default_value = "latest")]
        version: String,
        /// Defaults to the version, e.g. v1-37-2.
        #[arg(long)]
        name: Option<String>,
        /// An extra kube-apiserver flag, e.g. --apiserver-arg=--service-account-max-token-expiration=2h.
        #[arg(long = "apiserver-arg", allow_hyphen_values = true)]
        apiserver_args: Vec<String>,
        /// An extra kube-controller-manager flag, e.g.
        /// --controller-manager-arg=--legacy-service-account-token-clean-up-period=48h.
        #[arg(long = "controller-manager-arg", allow_hyphen_values = true)]
        controller_manager_args: Vec<String>,
        /// Nodes beside the control plane: 0 or 1 (containerd, kubelet, kube-proxy in a network
        /// namespace of their own; needs root and Debian's containerd, runc, CNI plugins,
        /// iptables, busybox-static). See docs/control-plane.md, "A node".
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1))]
        nodes: u32,
        /// An image archive (`docker save`, or OCI) to import into the node's containerd; pods
        /// use it with `imagePullPolicy: Never`. Repeatable; needs --nodes 1.
        #[arg(long = "image-archive", value_name = "PATH", requires = "nodes")]
        image_archives: Vec<std::path::PathBuf>,
    },
    /// Stop a local cluster and delete its files.
    Down {
        /// Defaults to the only running cluster.
        #[arg(long)]
        name: Option<String>,
    },
    /// Local clusters on this machine.
    List,
    /// Stops a cluster shared by the processes of a test run once none of them is alive
    /// (started by the harness under cargo-nextest; not for direct use).
    #[command(hide = true)]
    Reap {
        #[arg(long)]
        name: String,
    },
    /// Cleans up a cluster's node once the kubeproof that started it has exited, however it
    /// exited (started with every ephemeral cluster that has a node; not for direct use).
    #[command(hide = true)]
    Janitor {
        #[arg(long)]
        name: String,
    },
    /// Releases and pre-releases the Go module proxy has, and which are installed (with the Go
    /// each was built with).
    Versions,
}

/// Bad input (exit 2): said before anything is read, locked or built.
fn bad_input(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::BadInput
}

/// The release a request names; one there is not (`1.99.0`, `next` with no pre-release) is bad
/// input, other failures (no Go, no network) are not.
fn resolve(request: &str) -> Result<Result<KubeVersion, ExitCode>, versions::ResolveError> {
    match versions::resolve(request) {
        Ok(v) => Ok(Ok(v)),
        Err(e) if e.is_bad_input() => Ok(Err(bad_input(e))),
        Err(e) => Err(e),
    }
}

pub async fn run(cmd: ClusterCommand) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match cmd {
        ClusterCommand::Install { version, verify, force, source, mirror, node } => {
            if let Err(e) = versions::check_request(&version) {
                return Ok(bad_input(e));
            }
            let v = match resolve(&version)? {
                Ok(v) => v,
                Err(code) => return Ok(code),
            };
            let opts = InstallOptions { verify, force, source, mirror, nodes: node };
            let inst = tokio::task::spawn_blocking(move || local::install(v, &opts)).await.map_err(|e| e.to_string())??;
            println!("Kubernetes {v} installed in {}", inst.bin_dir.display());
            println!("etcd: {}", inst.etcd.display());
            Ok(ExitCode::Ok)
        }
        ClusterCommand::Up { version, name, apiserver_args, controller_manager_args, nodes, image_archives } => {
            if let Some(Err(e)) = name.as_deref().map(local::validate_name) {
                return Ok(bad_input(e));
            }
            if let Err(e) = versions::check_request(&version) {
                return Ok(bad_input(e));
            }
            if let Some(missing) = image_archives.iter().find(|p| !p.is_file()) {
                return Ok(bad_input(format!("--image-archive {}: no such file", missing.display())));
            }
            // At once, before anything is built or started.
            if nodes > 0 {
                local::node::preflight()?;
            }
            let v = match resolve(&version)? {
                Ok(v) => v,
                Err(code) => return Ok(code),
            };
            let name = name.unwrap_or_else(|| v.tag().replace('.', "-"));
            // Before anything else, so that a second `up` of this name fails at once.
            let lock = ClusterLock::acquire(&name)?;
            let install_opts = InstallOptions { nodes: nodes > 0, ..Default::default() };
            let install = tokio::task::spawn_blocking(move || local::install(v, &install_opts));
            let inst = tokio::select! {
                inst = install => inst.map_err(|e| e.to_string())??,
                signal = interrupt::first() => return Ok(ExitCode::Signalled(signal)),
            };
            let flags = Profile { apiserver: apiserver_args, controller_manager: controller_manager_args, nodes };
            let opts = ClusterOptions { version: Some(v), flags, detached: true, image_archives, ..Default::default() };
            // Dropping the start (on a signal) kills what it started and removes the directory.
            let cluster = tokio::select! {
                cluster = LocalCluster::start_locked(inst, opts, lock) => cluster?,
                signal = interrupt::first() => {
                    eprintln!("{}: cluster `{name}` was not started; nothing of it is left", signal.name());
                    return Ok(ExitCode::Signalled(signal));
                }
            };
            println!("cluster `{}` (Kubernetes {v}) is ready in {:.1}s", cluster.name, cluster.startup.as_secs_f64());
            if let Some(node) = &cluster.node {
                println!(
                    "node `{}` is Ready at {} (network namespace {}); images: {}, {}",
                    local::node::NODE_NAME,
                    node.node_ip(),
                    node.netns(),
                    local::node::images::PAUSE_IMAGE,
                    local::node::images::tools_image(v)
                );
            }
            println!("kubeconfig: {}", cluster.kubeconfig.display());
            println!("  export KUBECONFIG={}", cluster.kubeconfig.display());
            println!("  kubeproof run scenarios/ --kubeconfig {} --context kubeproof-{}", cluster.kubeconfig.display(), cluster.name);
            println!("stop it with: kubeproof cluster down --name {}", cluster.name);
            Ok(ExitCode::Ok)
        }
        ClusterCommand::Down { name } => {
            let name = match name {
                Some(n) => match local::validate_name(&n) {
                    Ok(()) => n,
                    Err(e) => return Ok(bad_input(e)),
                },
                None => {
                    let running = local::list();
                    match running.as_slice() {
                        [one] => one.state.name.clone(),
                        [] => return Err("no local cluster is running".into()),
                        many => {
                            let names: Vec<&str> = many.iter().map(|l| l.state.name.as_str()).collect();
                            return Err(format!("several clusters run ({}): name one with --name", names.join(", ")).into());
                        }
                    }
                }
            };
            let state = local::down(&name)?;
            println!("cluster `{}` (Kubernetes {}) stopped", state.name, state.version);
            Ok(ExitCode::Ok)
        }
        ClusterCommand::Reap { name } => {
            if let Err(e) = local::validate_name(&name) {
                return Ok(bad_input(e));
            }
            tokio::task::spawn_blocking(move || local::shared::reap(&name)).await.map_err(|e| e.to_string())??;
            Ok(ExitCode::Ok)
        }
        ClusterCommand::Janitor { name } => {
            if let Err(e) = local::validate_name(&name) {
                return Ok(bad_input(e));
            }
            tokio::task::spawn_blocking(move || local::node::janitor(&name)).await.map_err(|e| e.to_string())??;
            Ok(ExitCode::Ok)
        }
        ClusterCommand::List => {
            let clusters = local::list();
            if clusters.is_empty() {
                println!("no local clusters");
            }
            for l in clusters {
                let s = &l.state;
                let status = match l.status {
                    Status::Running => "running",
                    Status::Starting => "starting",
                    Status::Broken => "broken (a component exited)",
                };
                let kind = if s.detached { "up" } else { "ephemeral" };
                let node = s.node.as_ref().map(|n| format!(" (node {})", n.netns())).unwrap_or_default();
                println!("{:<24} {:<9} {:<8} {:<10} {} {}{node}", s.name, s.version, kind, status, s.server, s.kubeconfig.display());
            }
            Ok(ExitCode::Ok)
        }
        ClusterCommand::Versions => {
            let installed = local::install::installed_versions();
            let go = local::go::Go::find()?;
            let listed = tokio::task::spawn_blocking(move || go.listed_kubernetes_versions()).await.map_err(|e| e.to_string())??;
            println!(
                "the Go module proxy's list, and what is installed (other patches may exist: `kubeproof cluster install --version 1.24` \
                 finds the newest; a pre-release is taken only by name or as `next`):"
            );
            let mut all: Vec<KubeVersion> = listed.iter().chain(&installed).copied().collect();
            all.sort();
            all.dedup();
            for v in all {
                let pre = if v.is_pre_release() { "  pre-release" } else { "" };
                let listed_or_not = if listed.contains(&v) { "" } else { "  (not listed)" };
                let how =
                    if installed.contains(&v) { format!("  (installed: {})", local::install::how_installed(v)) } else { String::new() };
                println!("  {v}{pre}{listed_or_not}{how}");
            }
            Ok(ExitCode::Ok)
        }
    }
}

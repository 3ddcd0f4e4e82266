//! A kind cluster, made ready for scenarios that run pods: kubeproof's workload image
//! (`kubeproof.local/tools:vX.Y.Z`, pulled `Never`) loaded onto its nodes by kind's own means,
//! `kind load image-archive`, from the same archive kubeproof's own nodes import.

use std::path::PathBuf;
use std::process::Command;

use super::local::{self, InstallOptions};
use super::{Cluster, Origin};
use crate::version::KubeVersion;

/// The kind cluster a context names (`kind-NAME` → `NAME`), for kind's own commands.
pub fn cluster_name(cluster: &Cluster) -> Option<&str> {
    match &cluster.origin {
        Origin::Context { context, .. } => context.strip_prefix("kind-"),
        Origin::Local(_) | Origin::Attached { .. } | Origin::Stub => None,
    }
}

/// The `kind` program: `$KIND`, else the one kind/install-kind.sh pins under kubeproof's cache,
/// else the one on PATH.
fn kind_binary() -> PathBuf {
    if let Some(kind) = std::env::var_os("KIND") {
        return PathBuf::from(kind);
    }
    let pinned = local::cache_root().join("kind/bin/kind");
    if pinned.is_file() { pinned } else { PathBuf::from("kind") }
}

/// kind talks to docker at `DOCKER_HOST`, else at the default socket. Where neither is set up
/// but kubeproof's own engine runs (kind/dockerd.sh: `$KP_DOCKER_RUN.sock`, by default
/// /run/kubeproof-docker.sock), that one holds the kind clusters.
fn own_docker_engine() -> Option<String> {
    if std::env::var_os("DOCKER_HOST").is_some() || std::path::Path::new("/var/run/docker.sock").exists() {
        return None;
    }
    let run = std::env::var("KP_DOCKER_RUN").unwrap_or_else(|_| "/run/kubeproof-docker".into());
    let socket = PathBuf::from(format!("{run}.sock"));
    socket.exists().then(|| format!("unix://{}", socket.display()))
}

/// Loads the workload image of the server's release onto every node of kind cluster `name`. The
/// archive needs that release's kubectl (installed, or built, and cached as any release).
/// Blocking. `Err` says what could not be done, for the scenarios that need pods to say.
pub fn load_workload_image(name: &str, version: KubeVersion) -> Result<(), KindError> {
    let installation = local::install(version, &InstallOptions::default()).map_err(|e| KindError::Kubectl(e.to_string()))?;
    let archive = local::node::images::archive(&local::cache_root(), version, &installation.binary("kubectl"))
        .map_err(|e| KindError::Archive(e.to_string()))?;
    let kind = kind_binary();
    let mut command = Command::new(&kind);
    if let Some(host) = own_docker_engine() {
        command.env("DOCKER_HOST", host);
    }
    let out = command
        .args(["load", "image-archive"])
        .arg(&archive)
        .args(["--name", name])
        .output()
        .map_err(|e| KindError::Run { kind: kind.clone(), error: e.to_string() })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(KindError::Load { name: name.to_string(), stderr });
    }
    crate::progress::say(&format!("kind: workload image {} loaded onto kind cluster {name}", local::node::images::tools_image(version)));
    Ok(())
}

/// Why the workload image is not on a kind cluster's nodes.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KindError {
    #[error("the workload image needs the server's release's kubectl: {0}")]
    Kubectl(String),
    #[error("cannot make the workload image: {0}")]
    Archive(String),
    #[error("cannot run {} (set KIND to kind's path): {error}", .kind.display())]
    Run { kind: PathBuf, error: String },
    #[error("`kind load image-archive --name {name}` failed: {stderr}")]
    Load { name: String, stderr: String },
}

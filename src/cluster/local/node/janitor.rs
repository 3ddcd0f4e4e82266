//! Leaving nothing when kubeproof is killed outright (SIGKILL): the node's daemons die by their
//! parent-death signal, but containerd's shims and the pods' containers are reparented and
//! live on, with mounts, a network namespace and cgroups. A janitor (`kubeproof cluster
//! janitor --name NAME`, in its own process group) is started with every ephemeral cluster that
//! has a node; it holds the read end of a pipe whose write end only kubeproof holds. When
//! kubeproof exits, however it exits, the janitor reads EOF, waits for the cluster's lock (the
//! owner holds it while it cleans up itself) and cleans up what is left.

use std::io::Read as _;
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use super::JanitorPipe;
use super::NodeError;
use crate::cluster::local::{ClusterLock, ClusterLockError, clean_leftover, cluster_dir};

/// This program, when it is the kubeproof command line under whatever name (set by its `main`).
static THE_CLI: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Called by kubeproof's `main`: this program, however it is named or copied, can be the janitor.
pub fn this_program_is_the_cli() {
    if let Ok(me) = std::env::current_exe() {
        let _ = THE_CLI.set(me);
    }
}

/// The kubeproof binary: `$KUBEPROOF_BIN`, this program if it is kubeproof, else the
/// `kubeproof` beside the directory of this program (a test binary in `target/*/deps/`).
fn kubeproof_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("KUBEPROOF_BIN") {
        return Some(PathBuf::from(bin));
    }
    if let Some(cli) = THE_CLI.get() {
        return Some(cli.clone());
    }
    let me = std::env::current_exe().ok()?;
    if me.file_name().is_some_and(|n| n == "kubeproof") {
        return Some(me);
    }
    let beside = me.parent()?.parent()?.join("kubeproof");
    beside.is_file().then_some(beside)
}

/// Starts the janitor of the cluster `name`; it acts once the returned pipe is closed.
pub fn spawn_janitor(name: &str) -> Result<JanitorPipe, NodeError> {
    use std::os::unix::process::CommandExt as _;
    let binary = kubeproof_binary().ok_or(NodeError::NoJanitor)?;
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own; close-on-exec, so no other child holds them.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(NodeError::JanitorPipe(std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created and are owned here only.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    std::process::Command::new(&binary)
        .args(["cluster", "janitor", "--name", name])
        .stdin(std::process::Stdio::from(read))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|error| NodeError::JanitorSpawn { binary: binary.clone(), error })?;
    Ok(JanitorPipe(write))
}

/// The janitor's work: wait for EOF on stdin, then for the cluster's lock, then clean up what
/// its owner left (nothing, if it stopped the cluster itself).
pub fn janitor(name: &str) -> Result<(), ClusterLockError> {
    let mut sink = [0u8; 64];
    let mut stdin = std::io::stdin();
    while stdin.read(&mut sink).map(|n| n > 0).unwrap_or(false) {}
    let dir = cluster_dir(name)?;
    let _lock = ClusterLock::acquire_within(name, Duration::from_secs(600))?;
    if dir.exists() {
        clean_leftover(&dir);
    }
    Ok(())
}

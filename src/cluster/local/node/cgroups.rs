//! The node's cgroup subtree, `/kubeproof/<cluster>` in every mounted hierarchy: the kubelet's
//! `cgroupRoot` (it puts pods under `kubepods` there) and, in `node`, the node's daemons —
//! containerd, and so every shim it starts. Killing every process of the subtree kills all
//! the node ever ran, wherever it was reparented.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::NodeError;
use crate::cluster::local::FileError;

/// Where the daemons go, below the subtree.
const DAEMONS: &str = "node";

/// The subtree of a cluster, as the kubelet's `cgroupRoot`.
pub fn root(cluster: &str) -> String {
    format!("/kubeproof/{cluster}")
}

/// Every mounted cgroup hierarchy (v1 controllers, named ones, v2).
fn hierarchies() -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else { return Vec::new() };
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split_whitespace().next()?;
            let mount_point = left.split_whitespace().nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(super::mounts::unescape(mount_point)))
        })
        .collect()
}

/// Creates the subtree and its daemons' cgroup in every hierarchy; the `cgroup.procs` files a
/// daemon writes itself into.
pub fn create(cluster: &str) -> Result<Vec<PathBuf>, NodeError> {
    let mut procs = Vec::new();
    for hierarchy in hierarchies() {
        let mut dir = hierarchy.clone();
        for part in ["kubeproof", cluster, DAEMONS] {
            dir.push(part);
            if !dir.exists() {
                match std::fs::create_dir(&dir) {
                    // Another node starting beside this one made the shared `kubeproof` cgroup a
                    // moment ago (make stress saw it): set it up all the same, which is idempotent.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    other => other.map_err(FileError::new("cannot create the cgroup", &dir))?,
                }
                inherit_cpuset(&dir);
                enable_controllers(&dir);
            }
        }
        procs.push(dir.join("cgroup.procs"));
    }
    if procs.is_empty() {
        return Err(NodeError::NoCgroups);
    }
    Ok(procs)
}

/// cgroup v1's cpuset starts empty, and a cgroup without CPUs or memory nodes takes no process.
fn inherit_cpuset(dir: &Path) {
    let Some(parent) = dir.parent() else { return };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if let Ok(value) = std::fs::read_to_string(parent.join(file)) {
            let _ = std::fs::write(dir.join(file), value.trim());
        }
    }
}

/// cgroup v2: the parent's controllers made available to the new cgroup's children.
fn enable_controllers(dir: &Path) {
    let Some(parent) = dir.parent() else { return };
    if let Ok(controllers) = std::fs::read_to_string(parent.join("cgroup.controllers")) {
        // One at a time: a controller that cannot be enabled must not keep the others off.
        for controller in controllers.split_whitespace() {
            let _ = std::fs::write(parent.join("cgroup.subtree_control"), format!("+{controller}"));
        }
    }
}

/// Every directory of the subtree in every hierarchy, deepest first.
fn subtree(cluster: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for hierarchy in hierarchies() {
        let top = hierarchy.join("kubeproof").join(cluster);
        let mut stack = vec![top];
        while let Some(dir) = stack.pop() {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                stack.extend(entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()));
                out.push(dir);
            }
        }
    }
    out.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    out
}

/// The processes in the subtree now.
pub fn processes(cluster: &str) -> Vec<u32> {
    let mut pids: Vec<u32> = subtree(cluster)
        .iter()
        .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
        .flat_map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect::<Vec<u32>>())
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// SIGKILL to every process of the subtree until none is left (a process may fork while we
/// kill), then removes the subtree. What could not be done is returned, said.
pub fn destroy(cluster: &str) -> Result<(), NodeError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = processes(cluster);
        if pids.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            return Err(NodeError::Survivors { pids, cgroup: root(cluster) });
        }
        for pid in pids {
            // SAFETY: plain syscall; these pids are in our cgroup right now.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // A cgroup empties a moment after its last process is reaped: retry briefly.
    let deadline = Instant::now() + Duration::from_secs(5);
    for dir in subtree(cluster) {
        while let Err(e) = std::fs::remove_dir(&dir) {
            if e.kind() == std::io::ErrorKind::NotFound {
                break;
            }
            if Instant::now() > deadline {
                return Err(FileError::new("cannot remove the cgroup", &dir)(e).into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // The shared parent, once no cluster uses it.
    for hierarchy in hierarchies() {
        let _ = std::fs::remove_dir(hierarchy.join("kubeproof"));
    }
    Ok(())
}

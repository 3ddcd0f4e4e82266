//! What the trials of a node share (tests/control_plane.rs, tests/faults.rs): the release with
//! its node binaries, and what a node may have left — looked for on the machine itself, not
//! through kubeproof's own records.

use std::path::Path;
use std::time::{Duration, Instant};

use kubeproof::cluster::local::{self, InstallOptions};
use libtest_mimic::{Completion, Failed};

use super::release::version_request;

/// Runs `test` with the requested release and its node binaries installed; ignored when no
/// release is requested, or (unless `KUBEPROOF_NODES_REQUIRED=1`) when this machine cannot
/// run a node, with the reason.
pub fn with_node_version(test: fn(local::Installation) -> Result<(), Failed>) -> Result<Completion, Failed> {
    let Some(request) = version_request() else {
        return Ok(Completion::ignored_with("no release: set KUBEPROOF_VERSION=latest to build and start one"));
    };
    if let Err(why) = local::node::preflight() {
        if local::node::required() {
            return Err(why.into());
        }
        return Ok(Completion::ignored_with(why));
    }
    let v = local::versions::resolve(&request)?;
    let installation = local::install(v, &InstallOptions { nodes: true, ..Default::default() })?;
    test(installation)?;
    Ok(Completion::Completed)
}

/// What is left of the node of cluster `name` (directory `dir`, network `netns`): the network
/// namespace, the host's veth, mounts under the directory, the cgroup subtree in any
/// hierarchy, live processes in it or naming the directory, the directory itself.
pub fn leftovers(name: &str, dir: &Path, netns: &str) -> Vec<String> {
    let mut left = Vec::new();
    if Path::new("/run/netns").join(netns).exists() {
        left.push(format!("network namespace {netns}"));
    }
    if Path::new("/sys/class/net").join(netns).exists() {
        left.push(format!("interface {netns}"));
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let marker = dir.display().to_string();
    let mounts: Vec<&str> = mountinfo.lines().filter(|l| l.contains(&marker)).collect();
    if !mounts.is_empty() {
        left.push(format!("{} mounts under {marker}, e.g. {}", mounts.len(), mounts[0]));
    }
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
        let subtree = hierarchy.path().join("kubeproof").join(name);
        if subtree.exists() {
            left.push(format!("cgroup {}", subtree.display()));
        }
    }
    let cgroup = format!("/kubeproof/{name}/");
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        let cgroups = std::fs::read_to_string(entry.path().join("cgroup")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&std::fs::read(entry.path().join("cmdline")).unwrap_or_default()).replace('\0', " ");
        if !zombie && (cgroups.contains(&cgroup) || cmdline.contains(&marker)) {
            left.push(format!("process {pid}: {cmdline}"));
        }
    }
    if dir.exists() {
        left.push(format!("directory {marker}"));
    }
    left
}

/// Waits up to `limit` for nothing of the node to be left; what is left then, otherwise.
pub fn nothing_left_within(name: &str, dir: &Path, netns: &str, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let left = leftovers(name, dir, netns);
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("left after {limit:?}:\n  {}", left.join("\n  ")));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

//! The kernel settings the kubelet changes on start (`vm.overcommit_memory=1`, `kernel.panic=10`,
//! `kernel.panic_on_oops=1`, …, as on every kubeadm node; it offers no way to leave them, only
//! to fail), and the inotify limits kubeproof raises as kind's documentation advises (every
//! kubelet, kube-proxy and containerd holds inotify instances; at Debian's 128 per user, a few
//! clusters with nodes beside each other's control planes exhausted them: kube-proxy exited
//! with `fsnotify watcher init: too many open files`). They are global, not per namespace:
//! kubeproof records the values found before its first node and puts them back when its last
//! node stops.

use std::path::{Path, PathBuf};

use super::NodeError;
use crate::cluster::local::FileError;

/// The settings of `setupKernelTunables` (pkg/kubelet/cm/container_manager_linux.go), 1.23–1.37.
const SETTINGS: [&str; 8] = [
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "fs/inotify/max_user_instances",
    "fs/inotify/max_user_watches",
];

/// The lowest inotify limits a node runs with (kind's advice).
const RAISED: [(&str, u64); 2] = [("fs/inotify/max_user_instances", 512), ("fs/inotify/max_user_watches", 524288)];

fn saved_file(cache: &Path) -> PathBuf {
    cache.join("clusters").join("node-sysctls.json")
}

fn read(setting: &str) -> Option<String> {
    std::fs::read_to_string(Path::new("/proc/sys").join(setting)).ok().map(|v| v.trim().to_string())
}

/// Records the current values, keeping those a running node's record has already.
pub fn save(cache: &Path) -> Result<(), NodeError> {
    let file = saved_file(cache);
    let mut values: std::collections::BTreeMap<String, String> =
        std::fs::read(&file).ok().and_then(|t| serde_json::from_slice(&t).ok()).unwrap_or_default();
    let before = values.len();
    for setting in SETTINGS {
        if let (false, Some(value)) = (values.contains_key(setting), read(setting)) {
            values.insert(setting.to_string(), value);
        }
    }
    if file.exists() && values.len() == before {
        return Ok(());
    }
    let text = serde_json::to_vec_pretty(&values).map_err(NodeError::Json)?;
    super::super::pki::write_private(&file, &text).map_err(|e| FileError::new("cannot record the kernel settings in", &file)(e).into())
}

/// Raises the inotify limits that are lower than a node needs (after [`save`]).
pub fn raise() -> Result<(), NodeError> {
    for (setting, wanted) in RAISED {
        let now: u64 = read(setting).and_then(|v| v.parse().ok()).unwrap_or(0);
        if now < wanted {
            std::fs::write(Path::new("/proc/sys").join(setting), wanted.to_string()).map_err(|error| NodeError::Sysctl {
                setting,
                wanted,
                error,
            })?;
        }
    }
    Ok(())
}

/// Puts the recorded values back once no node network is left (`other_nodes` false).
pub fn restore(cache: &Path, other_nodes: bool) {
    let file = saved_file(cache);
    if other_nodes {
        return;
    }
    let Ok(text) = std::fs::read(&file) else { return };
    let values: std::collections::BTreeMap<String, String> = serde_json::from_slice(&text).unwrap_or_default();
    for (setting, value) in values {
        if SETTINGS.contains(&setting.as_str()) && read(&setting).as_deref() != Some(value.as_str()) {
            let _ = std::fs::write(Path::new("/proc/sys").join(&setting), &value);
        }
    }
    let _ = std::fs::remove_file(&file);
}

//! The kernel settings the kubelet changes on start (`vm.overcommit_memory=1`, `kernel.panic=10`,
//! `kernel.panic_on_oops=1`, …, as on every kubeadm node; it offers no way to leave them, only
//! to fail). They are global, not per namespace: kubeproof records the values found before its
//! first node and puts them back when its last node stops.

use std::path::{Path, PathBuf};

/// The settings of `setupKernelTunables` (pkg/kubelet/cm/container_manager_linux.go), 1.23–1.37.
const SETTINGS: [&str; 6] =
    ["vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"];

fn saved_file(cache: &Path) -> PathBuf {
    cache.join("clusters").join("node-sysctls.json")
}

fn read(setting: &str) -> Option<String> {
    std::fs::read_to_string(Path::new("/proc/sys").join(setting)).ok().map(|v| v.trim().to_string())
}

/// Records the current values unless a running node's record is there already.
pub fn save(cache: &Path) -> Result<(), String> {
    let file = saved_file(cache);
    if file.exists() {
        return Ok(());
    }
    let values: std::collections::BTreeMap<&str, String> = SETTINGS.iter().filter_map(|s| Some((*s, read(s)?))).collect();
    let text = serde_json::to_vec_pretty(&values).map_err(|e| e.to_string())?;
    super::super::pki::write_private(&file, &text).map_err(|e| format!("cannot record the kernel settings in {}: {e}", file.display()))
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

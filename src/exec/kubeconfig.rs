//! The kubeconfig `kubectl` runs with for `as: <token>`: the cluster's server and CA and one user
//! holding the token, in a file only kubeproof's user can read, removed when the step ends.
//!
//! A token on kubectl's command line (`--token`) is readable by every user of the machine
//! (`/proc/<pid>/cmdline`), and one in its environment by anything that inherits or inspects it;
//! a file of mode 0600 in a directory of mode 0700 is readable by kubeproof's user only. The file
//! lives under kubeproof's runtime directory: the step's guard removes it on every way out of the
//! step (a pass, a failure, a timeout, a run cut short by a signal), and what a process killed
//! outright (SIGKILL) left is removed by the next kubectl step of any kubeproof process.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;

use crate::cluster::Cluster;
use crate::cluster::local::install::cache_root;
use crate::cluster::local::process::PidLock;

/// Files of steps in flight are `kubectl-<pid>-<random>/kubeconfig`, each directory with its
/// lock `kubectl-<pid>-<random>.lock`, held while the step runs.
const PREFIX: &str = "kubectl-";

/// A step's kubeconfig; dropping it removes the file and its directory.
pub(crate) struct StepKubeconfig {
    dir: PathBuf,
    /// Held while the file exists: a lock nobody holds marks a leftover.
    _lock: PidLock,
}

impl StepKubeconfig {
    /// Writes a kubeconfig for `cluster` whose one user is `user` with `token`.
    pub fn write(cluster: &Cluster, user: &str, token: &str) -> Result<StepKubeconfig, String> {
        let root = runtime_dir()?;
        sweep(&root);
        let name = format!("{PREFIX}{}-{}", std::process::id(), crate::random::suffix(8));
        let lock = PidLock::acquire(&root.join(format!("{name}.lock")), Duration::ZERO)
            .map_err(|e| format!("cannot lock {}: {e:?}", root.join(&name).display()))?;
        let dir = root.join(&name);
        // Not recursive: the directory is new, or this fails.
        DirBuilder::new().mode(0o700).create(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let guard = StepKubeconfig { dir, _lock: lock };
        let path = guard.path();
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        file.write_all(document(&cluster.config, cluster.insecure, user, token).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(guard)
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }
}

impl Drop for StepKubeconfig {
    fn drop(&mut self) {
        // The directory goes first, then the lock (dropped after this): a lock file without its
        // directory is swept away harmlessly.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The kubeconfig's text (JSON, which kubectl reads as YAML): the server, its CA (or none when
/// the cluster was opened skipping verification: kubectl will not combine the two), the TLS
/// server name and proxy the cluster was opened with, and the user.
fn document(config: &kube::Config, insecure: bool, user: &str, token: &str) -> String {
    let mut server = json!({"server": config.cluster_url.to_string().trim_end_matches('/')});
    if insecure {
        server["insecure-skip-tls-verify"] = json!(true);
    } else if let Some(roots) = &config.root_cert {
        let pem: String = roots.iter().map(|der| pem_certificate(der)).collect();
        server["certificate-authority-data"] = json!(base64::engine::general_purpose::STANDARD.encode(pem));
    }
    if let Some(name) = &config.tls_server_name {
        server["tls-server-name"] = json!(name);
    }
    if let Some(proxy) = &config.proxy_url {
        server["proxy-url"] = json!(proxy.to_string());
    }
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubeproof", "cluster": server}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "kubeproof", "context": {"cluster": "kubeproof", "user": user}}],
        "current-context": "kubeproof",
    })
    .to_string()
}

fn pem_certificate(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

/// kubeproof's runtime directory, private to its user: `$XDG_RUNTIME_DIR/kubeproof` (memory,
/// per user) when the session has one, else `run` in kubeproof's cache. One owned by another
/// user, or a symlink, is refused.
pub fn runtime_dir() -> Result<PathBuf, String> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(base) if base.is_absolute() => base.join("kubeproof"),
        _ => cache_root().join("run"),
    };
    DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != me {
        return Err(format!("{} is not a directory of this user: kubeproof keeps step credentials there", dir.display()));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make {} private: {e}", dir.display()))?;
    }
    Ok(dir)
}

/// Removes what steps of processes that are gone left behind: each lock nobody holds, and its
/// directory.
fn sweep(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(lock_name) = file_name.to_str() else { continue };
        let Some(name) = lock_name.strip_prefix(PREFIX).and_then(|n| n.strip_suffix(".lock")) else { continue };
        if let Ok(lock) = PidLock::acquire(&entry.path(), Duration::ZERO) {
            let _ = std::fs::remove_dir_all(root.join(format!("{PREFIX}{name}")));
            drop(lock);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfig_holds_the_server_its_ca_and_the_token_only() {
        let mut config = kube::Config::new("https://127.0.0.1:6443/".parse().unwrap());
        config.root_cert = Some(vec![vec![1u8; 40], vec![2u8; 40]]);
        config.tls_server_name = Some("kubernetes".into());
        let doc: serde_json::Value = serde_json::from_str(&document(&config, false, "t", "secret")).unwrap();
        let cluster = &doc["clusters"][0]["cluster"];
        assert_eq!(cluster["server"], "https://127.0.0.1:6443");
        assert_eq!(cluster["tls-server-name"], "kubernetes");
        assert!(cluster["insecure-skip-tls-verify"].is_null());
        let pem = base64::engine::general_purpose::STANDARD.decode(cluster["certificate-authority-data"].as_str().unwrap()).unwrap();
        assert_eq!(String::from_utf8(pem).unwrap().matches("-----BEGIN CERTIFICATE-----").count(), 2, "every CA certificate");
        assert_eq!(doc["users"], json!([{"name": "t", "user": {"token": "secret"}}]));
        assert_eq!((&doc["current-context"], &doc["contexts"][0]["context"]["user"]), (&json!("kubeproof"), &json!("t")));
        let insecure: serde_json::Value = serde_json::from_str(&document(&config, true, "t", "secret")).unwrap();
        let cluster = &insecure["clusters"][0]["cluster"];
        assert_eq!(cluster["insecure-skip-tls-verify"], true, "only when the cluster was opened so");
        assert!(cluster["certificate-authority-data"].is_null(), "kubectl refuses a CA beside insecure-skip-tls-verify");
    }

    #[test]
    fn certificates_are_pem_with_64_character_lines() {
        let pem = pem_certificate(&[7u8; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN CERTIFICATE-----"));
        assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
        assert_eq!(lines[1].len(), 64);
        let body: String = lines[1..lines.len() - 1].concat();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(body).unwrap(), vec![7u8; 100]);
    }

    #[test]
    fn a_leftover_whose_lock_nobody_holds_is_swept_and_a_held_one_is_kept() {
        let root = std::env::temp_dir().join(format!("kubeproof-sweep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let (dead, live) = (format!("{PREFIX}1-dead"), format!("{PREFIX}2-live"));
        for name in [&dead, &live] {
            std::fs::create_dir(root.join(name)).unwrap();
            std::fs::write(root.join(name).join("kubeconfig"), "x").unwrap();
        }
        std::fs::write(root.join(format!("{dead}.lock")), "1").unwrap();
        let held = PidLock::acquire(&root.join(format!("{live}.lock")), Duration::ZERO).unwrap();
        sweep(&root);
        assert!(!root.join(&dead).exists() && !root.join(format!("{dead}.lock")).exists(), "the dead step's files are gone");
        assert!(root.join(&live).join("kubeconfig").exists(), "a step in flight keeps its file");
        drop(held);
        let _ = std::fs::remove_dir_all(&root);
    }
}

//! An ephemeral control plane of the real, official binaries: etcd, kube-apiserver and
//! kube-controller-manager, built from the Go modules and started by kubeproof — no Docker.

pub mod download;
pub mod go;
pub mod install;
pub mod pki;
pub mod process;
pub mod versions;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

pub use install::{Installation, InstallOptions, cache_root, install};
use pki::Pki;
use process::Component;

use crate::version::KubeVersion;

/// The service-account issuer kind and kubeadm clusters use, so `iss` and `aud` match theirs.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// How to start a cluster.
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    pub version: Option<KubeVersion>,
    /// Defaults to a name made from the version and a random suffix.
    pub name: Option<String>,
    /// Extra kube-apiserver flags (`--flag=value`); they override kubeproof's defaults.
    pub apiserver_args: Vec<String>,
    /// Leave the processes running after kubeproof exits (`kubeproof cluster up`).
    pub detached: bool,
}

/// What `kubeproof cluster list` and `down` read back.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ClusterState {
    pub name: String,
    pub version: String,
    pub server: String,
    pub kubeconfig: PathBuf,
    pub apiserver_args: Vec<String>,
    pub detached: bool,
    /// The kubeproof process that owns a non-detached cluster.
    pub owner: u32,
    pub pids: Vec<(String, u32)>,
}

/// A running local cluster. Dropping it stops every process and deletes its directory.
pub struct LocalCluster {
    pub name: String,
    pub version: KubeVersion,
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub server: String,
    pub apiserver_args: Vec<String>,
    pub installation: Installation,
    /// How long the start took, from the first process to usable.
    pub startup: Duration,
    components: Mutex<Vec<Component>>,
    detached: bool,
}

fn clusters_dir() -> PathBuf {
    cache_root().join("clusters")
}

impl LocalCluster {
    /// Starts a cluster of an installed release and returns once it is usable: `/readyz` ok and
    /// the `default` ServiceAccount and `kube-root-ca.crt` ConfigMap present in `default`.
    pub async fn start(installation: Installation, opts: ClusterOptions) -> Result<LocalCluster, String> {
        let version = installation.version;
        let name = opts.name.clone().unwrap_or_else(|| format!("{}-{}", version.tag().replace('.', "-"), suffix()));
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(format!("`{name}` is not a valid cluster name (letters, digits, - and _)"));
        }
        let dir = clusters_dir().join(&name);
        if dir.exists() {
            match read_state(&dir) {
                Some(state) if state_alive(&state) => {
                    return Err(format!("a cluster named `{name}` is already running: `kubeproof cluster down --name {name}` first"));
                }
                _ => {
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
        }
        std::fs::create_dir_all(dir.join("logs")).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let pki = tokio::task::spawn_blocking(Pki::generate).await.map_err(|e| e.to_string())??;
        pki.write(&dir.join("pki")).map_err(|e| format!("cannot write certificates: {e}"))?;

        let mut last_error = String::new();
        // A port picked as free can be taken before the component binds it: try again.
        for _attempt in 0..3 {
            let cluster = LocalCluster {
                name: name.clone(),
                version,
                kubeconfig: dir.join("kubeconfig"),
                dir: dir.clone(),
                server: String::new(),
                apiserver_args: opts.apiserver_args.clone(),
                installation: installation.clone(),
                startup: Duration::ZERO,
                components: Mutex::new(Vec::new()),
                detached: opts.detached,
            };
            match cluster.boot(&pki).await {
                Ok(cluster) => return Ok(cluster),
                Err(BootError::PortTaken(e)) => last_error = e,
                Err(BootError::Fatal(e)) => return Err(e),
            }
        }
        Err(last_error)
    }

    async fn boot(mut self, pki: &Pki) -> Result<LocalCluster, BootError> {
        let fatal = BootError::Fatal;
        let (etcd_client, etcd_peer, apiserver) =
            (process::free_port().map_err(fatal)?, process::free_port().map_err(fatal)?, process::free_port().map_err(fatal)?);
        self.server = format!("https://127.0.0.1:{apiserver}");
        write_kubeconfig(&self.kubeconfig, &self.name, &self.server, pki).map_err(|e| fatal(format!("kubeconfig: {e}")))?;
        let pki_dir = self.dir.join("pki");
        let p = |f: &str| pki_dir.join(f).display().to_string();
        let etcd_data = self.dir.join("etcd");
        let _ = std::fs::remove_dir_all(&etcd_data);

        let etcd_args = vec![
            "--name=kubeproof".to_string(),
            format!("--data-dir={}", etcd_data.display()),
            format!("--listen-client-urls=http://127.0.0.1:{etcd_client}"),
            format!("--advertise-client-urls=http://127.0.0.1:{etcd_client}"),
            format!("--listen-peer-urls=http://127.0.0.1:{etcd_peer}"),
            format!("--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}"),
            format!("--initial-cluster=kubeproof=http://127.0.0.1:{etcd_peer}"),
            "--unsafe-no-fsync=true".to_string(),
            "--log-level=warn".to_string(),
        ];
        let apiserver_args = merge_flags(
            vec![
                format!("--etcd-servers=http://127.0.0.1:{etcd_client}"),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                format!("--secure-port={apiserver}"),
                format!("--cert-dir={}", pki_dir.display()),
                format!("--tls-cert-file={}", p("apiserver.crt")),
                format!("--tls-private-key-file={}", p("apiserver.key")),
                format!("--client-ca-file={}", p("ca.crt")),
                format!("--service-account-issuer={ISSUER}"),
                format!("--service-account-key-file={}", p("sa.pub")),
                format!("--service-account-signing-key-file={}", p("sa.key")),
                "--service-cluster-ip-range=10.0.0.0/24".into(),
                "--authorization-mode=Node,RBAC".into(),
                "--allow-privileged=true".into(),
                // The loopback advertise address is not a valid Endpoints IP; nothing here needs it.
                "--endpoint-reconciler-type=none".into(),
            ],
            &self.apiserver_args,
        );
        let mut controllers =
            "serviceaccount-token,serviceaccount,garbagecollector,namespace,root-ca-cert-publisher".to_string();
        if (self.version.major, self.version.minor) >= (1, 28) {
            controllers.push_str(",legacy-service-account-token-cleaner");
        }
        let kcm_args = vec![
            format!("--kubeconfig={}", self.kubeconfig.display()),
            format!("--controllers={controllers}"),
            format!("--service-account-private-key-file={}", p("sa.key")),
            format!("--root-ca-file={}", p("ca.crt")),
            "--use-service-account-credentials=true".into(),
            "--leader-elect=false".into(),
            "--bind-address=127.0.0.1".into(),
            "--secure-port=0".into(),
        ];

        let started = Instant::now();
        let logs = self.dir.join("logs");
        let inst = self.installation.clone();
        let start = |this: &mut Self, name: &'static str, binary: PathBuf, args: Vec<String>| -> Result<(), BootError> {
            let c = Component::start(name, &binary, &args, logs.join(format!("{name}.log")), this.detached).map_err(fatal)?;
            this.components.get_mut().map_err(|_| fatal("poisoned".into()))?.push(c);
            this.write_state().map_err(fatal)
        };
        start(&mut self, "etcd", inst.etcd.clone(), etcd_args)?;
        start(&mut self, "kube-apiserver", inst.binary("kube-apiserver"), apiserver_args)?;
        // kube-controller-manager gives up if the API server is not healthy within 10 s (as
        // on a busy machine), so it starts once /readyz is ok.
        let mut kcm_args = Some(kcm_args);

        let client = admin_http_client(pki).map_err(fatal)?;
        let deadline = started + Duration::from_secs(120);
        let mut waiting_for = "kube-apiserver /readyz";
        loop {
            if let Err(e) = self.health() {
                let taken = self.components.lock().map(|cs| {
                    cs.iter().any(|c| c.log_tail(40).contains("address already in use"))
                });
                self.kill_all();
                return Err(if taken.unwrap_or(false) { BootError::PortTaken(e) } else { fatal(e) });
            }
            if Instant::now() > deadline {
                let tails = self.tails(15);
                self.kill_all();
                return Err(fatal(format!("the cluster did not become usable within 120s (waiting for {waiting_for})\n{tails}")));
            }
            let get = |path: &str| client.get(format!("{}{path}", self.server)).send();
            let ready = async {
                if !get("/readyz").await.is_ok_and(|r| r.status().is_success()) {
                    return Err("kube-apiserver /readyz");
                }
                Ok(())
            };
            let ready = match ready.await {
                Ok(()) => match kcm_args.take() {
                    Some(args) => {
                        start(&mut self, "kube-controller-manager", inst.binary("kube-controller-manager"), args)?;
                        Err("kube-controller-manager to start")
                    }
                    None => {
                        if !get("/api/v1/namespaces/default/serviceaccounts/default").await.is_ok_and(|r| r.status().is_success()) {
                            Err("the `default` ServiceAccount in namespace default (serviceaccount controller)")
                        } else if !get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt").await.is_ok_and(|r| r.status().is_success()) {
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
        self.startup = started.elapsed();
        Ok(self)
    }

    /// `Err` naming the first component that has exited, with the end of its log.
    pub fn health(&self) -> Result<(), String> {
        let mut components = self.components.lock().map_err(|_| "poisoned".to_string())?;
        for c in components.iter_mut() {
            if let Some(status) = c.exited() {
                return Err(format!(
                    "{} exited ({status}); the end of {}:\n{}",
                    c.name,
                    c.log.display(),
                    c.log_tail(20)
                ));
            }
        }
        Ok(())
    }

    fn tails(&self, lines: usize) -> String {
        let components = self.components.lock().map(|c| c.iter().map(|c| (c.name, c.log_tail(lines))).collect::<Vec<_>>());
        components
            .unwrap_or_default()
            .into_iter()
            .map(|(name, tail)| format!("--- {name}:\n{tail}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn write_state(&self) -> Result<(), String> {
        let pids = self.components.lock().map_err(|_| "poisoned")?.iter().map(|c| (c.name.to_string(), c.child.id())).collect();
        let state = ClusterState {
            name: self.name.clone(),
            version: self.version.to_string(),
            server: self.server.clone(),
            kubeconfig: self.kubeconfig.clone(),
            apiserver_args: self.apiserver_args.clone(),
            detached: self.detached,
            owner: std::process::id(),
            pids,
        };
        let text = serde_json::to_string_pretty(&state).map_err(|e| e.to_string())?;
        std::fs::write(self.dir.join("state.json"), text).map_err(|e| format!("cannot write cluster state: {e}"))
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
        if self.detached {
            return;
        }
        self.kill_all();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

enum BootError {
    PortTaken(String),
    Fatal(String),
}

/// Defaults overridden by user flags of the same name; user flags without a default are added.
pub fn merge_flags(defaults: Vec<String>, user: &[String]) -> Vec<String> {
    let key = |f: &str| f.split('=').next().unwrap_or(f).to_string();
    let overridden: Vec<String> = user.iter().map(|f| key(f)).collect();
    defaults.into_iter().filter(|d| !overridden.contains(&key(d))).chain(user.iter().cloned()).collect()
}

fn suffix() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..5).map(|_| (b'a' + rng.gen_range(0..26)) as char).collect()
}

fn write_kubeconfig(path: &Path, name: &str, server: &str, pki: &Pki) -> std::io::Result<()> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let context = format!("kubeproof-{name}");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {context}\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\nusers:\n- name: kubeproof-admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: {context}\n  context:\n    cluster: {context}\n    user: kubeproof-admin\n    namespace: default\ncurrent-context: {context}\n",
        b64(&pki.ca_cert),
        b64(&pki.admin_cert),
        b64(&pki.admin_key)
    );
    std::fs::write(path, text)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

fn admin_http_client(pki: &Pki) -> Result<reqwest::Client, String> {
    crate::cluster::ensure_crypto_provider();
    let ca = reqwest::Certificate::from_pem(pki.ca_cert.as_bytes()).map_err(|e| e.to_string())?;
    let identity = reqwest::Identity::from_pem(format!("{}{}", pki.admin_cert, pki.admin_key).as_bytes())
        .map_err(|e| format!("admin identity: {e}"))?;
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .identity(identity)
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

fn read_state(dir: &Path) -> Option<ClusterState> {
    serde_json::from_slice(&std::fs::read(dir.join("state.json")).ok()?).ok()
}

fn state_alive(state: &ClusterState) -> bool {
    state.pids.iter().any(|(_, pid)| process::alive(*pid))
}

/// One line of `kubeproof cluster list`.
pub struct Listed {
    pub state: ClusterState,
    pub running: bool,
}

/// Local clusters on this machine; leftovers of dead kubeproof processes are removed.
pub fn list() -> Vec<Listed> {
    let Ok(entries) = std::fs::read_dir(clusters_dir()) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(state) = read_state(&entry.path()) else { continue };
        if !state.detached && !process::alive(state.owner) {
            // Its owner died; the parent-death signal took its processes.
            for (_, pid) in &state.pids {
                process::kill_group(*pid);
            }
            let _ = std::fs::remove_dir_all(entry.path());
            continue;
        }
        let running = state.pids.iter().all(|(_, pid)| process::alive(*pid));
        out.push(Listed { state, running });
    }
    out.sort_by(|a, b| a.state.name.cmp(&b.state.name));
    out
}

/// Stops a cluster started with `kubeproof cluster up` (or any by name) and deletes its directory.
pub fn down(name: &str) -> Result<ClusterState, String> {
    let dir = clusters_dir().join(name);
    let state = read_state(&dir).ok_or_else(|| {
        let names: Vec<String> = list().into_iter().map(|l| l.state.name).collect();
        format!(
            "no local cluster named `{name}` (running: {})",
            if names.is_empty() { "none".into() } else { names.join(", ") }
        )
    })?;
    for (_, pid) in state.pids.iter().rev() {
        process::kill_group(*pid);
    }
    // Wait (briefly) until they are gone so ports and files are free when we return.
    let deadline = Instant::now() + Duration::from_secs(5);
    while state.pids.iter().any(|(_, pid)| process::alive(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::remove_dir_all(&dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_flags_override_defaults() {
        let merged = merge_flags(
            vec!["--a=1".into(), "--b=2".into()],
            &["--b=3".into(), "--service-account-max-token-expiration=2h".into()],
        );
        assert_eq!(merged, vec!["--a=1", "--b=3", "--service-account-max-token-expiration=2h"]);
    }
}

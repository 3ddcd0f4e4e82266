//! The local control plane against the real binaries: start, use, stop, leave nothing behind.
//! Runs when `KUBEPROOF_VERSION` (or the last of `KUBEPROOF_VERSIONS`) names a release;
//! otherwise its trials are reported ignored with the reason.

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::{Api, PostParams};
use libtest_mimic::{Arguments, Failed, Trial};

use kubeproof::cluster::local::process::{self, ProcessRecord};
use kubeproof::cluster::local::{self, ClusterOptions, ClusterState, LocalCluster};
use kubeproof::cluster::{Cluster, Profile};

// The other helpers there serve the parse-only tests.
#[allow(dead_code)]
mod common;
use common::node::{nothing_left_within, with_node_version};
use common::release::{rt, with_version};

fn main() {
    kubeproof::cluster::ensure_crypto_provider();
    kubeproof::progress::to_stderr();
    let args = Arguments::from_args();
    let trials = vec![
        Trial::ignorable_test("control_plane::lifecycle", || with_version(lifecycle)),
        Trial::ignorable_test("control_plane::apiserver_flags", || with_version(apiserver_flags)),
        Trial::ignorable_test("control_plane::flags_are_kubeadms", || with_version(flags_are_kubeadms)),
        Trial::ignorable_test("control_plane::component_death_is_reported", || with_version(component_death)),
        Trial::ignorable_test("control_plane::restart_keeps_ports_and_takes_flags", || with_version(restart)),
        Trial::ignorable_test("control_plane::an_upgrade_that_does_not_come_up_names_the_component", || with_version(upgrade_fails)),
        Trial::ignorable_test("control_plane::a_controller_that_exits_during_an_apiserver_restart_starts_again", || {
            with_version(controller_revived)
        }),
        Trial::ignorable_test("pool::a_profile_cluster_stops_after_its_last_scenario", || with_version(profile_cluster_retired)),
        Trial::ignorable_test("cli::no_token_in_any_output", || with_version(no_token_in_output)),
        Trial::ignorable_test("control_plane::etcd_requires_client_certificates", || with_version(etcd_requires_certificates)),
        Trial::ignorable_test("cli::signal_during_up_leaves_nothing", || with_version(signal_during_up)),
        Trial::ignorable_test("cli::concurrent_up_one_wins", || with_version(concurrent_up)),
        Trial::test("cli::down_refuses_paths_and_reused_pids", down_refuses_paths_and_reused_pids),
        Trial::ignorable_test("node::runs_pods_and_leaves_nothing", || with_node_version(node_runs_pods)),
        Trial::ignorable_test("harness::consumer_crate", || with_version(consumer_crate)),
    ];
    libtest_mimic::run(&args, trials).exit();
}

/// Start; `/version` is the release; a namespace gets its ServiceAccount and CA ConfigMap;
/// a token is minted; stop; no process is left and the API server's port is free.
fn lifecycle(installation: local::Installation) -> Result<(), Failed> {
    // What a kubeproof killed with its whole process tree leaves: a directory nobody locks.
    let leftover = local::cache_root().join("clusters").join(format!("lifecycle-leftover-{}", std::process::id()));
    std::fs::create_dir_all(leftover.join("pki")).map_err(|e| e.to_string())?;
    std::fs::write(leftover.join("state.json"), format!(r#"{{"name":"{}","version":"1.37.2","server":"https://127.0.0.1:1","kubeconfig":"/nonexistent","detached":false,"owner":1,"components":[]}}"#, leftover.file_name().and_then(|n| n.to_str()).unwrap_or_default())).map_err(|e| e.to_string())?;
    rt().block_on(async {
        let version = installation.version;
        let local = Arc::new(LocalCluster::start(installation, ClusterOptions::default()).await?);
        assert!(!leftover.exists(), "a start removes what a dead kubeproof left: {}", leftover.display());
        let cluster = Cluster::from_local(local.clone()).await?;
        assert_eq!(cluster.git_version, version.tag(), "/version must report the requested release");

        let ns_name = "lifecycle-check";
        let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
        let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": ns_name}})).unwrap();
        namespaces.create(&PostParams::default(), &ns).await.map_err(|e| e.to_string())?;
        let sas: Api<ServiceAccount> = Api::namespaced(cluster.client.clone(), ns_name);
        let cms: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), ns_name);
        let appeared = async {
            loop {
                if sas.get_opt("default").await.ok().flatten().is_some() && cms.get_opt("kube-root-ca.crt").await.ok().flatten().is_some() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), appeared)
            .await
            .map_err(|_| "the default ServiceAccount and kube-root-ca.crt did not appear in a new namespace")?;

        let request: TokenRequest = serde_json::from_value(serde_json::json!({"spec": {"audiences": []}})).unwrap();
        let minted = sas.create_token_request("default", &PostParams::default(), &request).await.map_err(|e| e.to_string())?;
        let token = minted.status.and_then(|s| s.token).unwrap_or_default();
        assert_eq!(token.split('.').count(), 3, "a JWT has three segments");

        let server_port: u16 = local.server.rsplit(':').next().and_then(|p| p.parse().ok()).ok_or("server port")?;
        let dir = local.dir.clone();
        assert_eq!(mode(&dir), 0o700, "the cluster directory is private");
        for file in
            ["kubeconfig", "state.json", "pki/ca.key", "pki/sa.key", "pki/etcd/ca.key", "pki/apiserver-etcd-client.key", "logs/etcd.log"]
        {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file} is private");
        }
        let components = read_state(&dir).map(|s| s.components).unwrap_or_default();
        assert_eq!(components.len(), 4, "etcd, kube-apiserver, kube-controller-manager and kube-scheduler");
        assert!(components.iter().all(ProcessRecord::is_running), "each recorded process is recognised: {components:?}");
        drop(cluster);
        let local = Arc::try_unwrap(local).map_err(|_| "the cluster is still shared")?;
        local.stop();
        for c in components {
            assert!(!c.is_running(), "{} ({}) outlived its cluster", c.name, c.pid);
        }
        assert!(!dir.exists(), "the cluster directory was not removed");
        std::net::TcpListener::bind(("127.0.0.1", server_port)).map_err(|e| format!("port {server_port} still taken: {e}"))?;
        Ok(())
    })
}

/// A pool opened for its scenarios starts a flag profile's cluster behind the main one and stops
/// it once the last scenario needing it has run, while the main cluster stays.
fn profile_cluster_retired(installation: local::Installation) -> Result<(), Failed> {
    use kubeproof::cluster::pool::{Pool, Target};
    use kubeproof::exec::{self, ExecOptions};
    let scenarios = kubeproof::scenario::load_all(
        &[PathBuf::from("scenarios/token-default-expiration.yaml"), PathBuf::from("scenarios/max-token-expiration.yaml")],
        false,
    )
    .map_err(|e| format!("{e:?}"))?;
    rt().block_on(async {
        let needs: Vec<_> = scenarios.iter().map(kubeproof::scenario::Scenario::requirement).collect();
        let pool = Pool::open_for(&Target::Local(installation.version.to_string()), &needs).await?;
        let profiled = scenarios.iter().find(|s| !s.spec.requires.profile().is_empty()).ok_or("a scenario with a profile")?;
        let dir = {
            let cluster = pool.cluster_for(&profiled.requirement()).await?;
            cluster.kubeconfig().and_then(|k| k.parent()).map(Path::to_path_buf).ok_or("a local cluster's directory")?
        };
        assert!(dir.is_dir(), "the profile's cluster runs in {}", dir.display());
        let outcome = exec::run_all(&pool, &scenarios, &ExecOptions::default(), scenarios.len()).await;
        for report in &outcome.reports {
            assert_eq!(report.verdict, kubeproof::report::Verdict::Passed, "{}: {:?}", report.scenario, report.reason);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while dir.exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(!dir.exists(), "the profile's cluster outlived its last scenario: {}", dir.display());
        assert_eq!(pool.clusters().len(), 1, "the main cluster stays");
        pool.confirm_alive().await?;
        Ok(())
    })
}

/// A flag given by the user reaches kube-apiserver: a token request longer than the maximum is shortened.
fn apiserver_flags(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let flags = Profile { apiserver: vec!["--service-account-max-token-expiration=2h".into()], ..Default::default() };
        let opts = ClusterOptions { flags, ..Default::default() };
        let local = Arc::new(LocalCluster::start(installation, opts).await?);
        let cluster = Cluster::from_local(local.clone()).await?;
        let sas: Api<ServiceAccount> = Api::namespaced(cluster.client.clone(), "default");
        let request: TokenRequest =
            serde_json::from_value(serde_json::json!({"spec": {"audiences": [], "expirationSeconds": 36000}})).unwrap();
        let minted = sas.create_token_request("default", &PostParams::default(), &request).await.map_err(|e| e.to_string())?;
        assert_eq!(minted.spec.and_then(|s| s.expiration_seconds), Some(7200));
        Ok(())
    })
}

/// kube-apiserver restarted with a flag added serves with it on the same port, and the death
/// watch does not call the cluster dead meanwhile; kube-controller-manager restarted with the
/// same flags still makes a namespace's ServiceAccount.
fn restart(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let local = Arc::new(LocalCluster::start(installation, ClusterOptions::default()).await?);
        let cluster = Cluster::from_local(local.clone()).await?;
        let ports = local.ports().ok_or("no ports after the start")?;
        let mint = |cluster: &Cluster| {
            let sas: Api<ServiceAccount> = Api::namespaced(cluster.client.clone(), "default");
            async move {
                let request: TokenRequest =
                    serde_json::from_value(serde_json::json!({"spec": {"audiences": [], "expirationSeconds": 36000}})).unwrap();
                let minted = sas.create_token_request("default", &PostParams::default(), &request).await.map_err(|e| e.to_string())?;
                Ok::<_, String>(minted.spec.and_then(|s| s.expiration_seconds))
            }
        };
        assert_eq!(mint(&cluster).await?, Some(36000), "no maximum before the restart");
        let apiserver_pid = state_pids(&local.dir)[1];

        let flag = "--service-account-max-token-expiration=2h".to_string();
        let watch = cluster.died();
        tokio::select! {
            restarted = local.restart("kube-apiserver", std::slice::from_ref(&flag)) => restarted?,
            dead = watch => return Err(format!("the restart was taken for a death: {dead}").into()),
        }
        assert!(local.health().is_ok());
        assert_eq!(local.ports(), Some(ports), "the ports are kept");
        assert!(local.args("kube-apiserver").is_some_and(|a| a.contains(&flag)), "the flag is on the command line");
        assert_ne!(state_pids(&local.dir)[1], apiserver_pid, "state.json records the new process");
        assert!(local.server.ends_with(&format!(":{}", ports.apiserver)));
        assert_eq!(mint(&cluster).await?, Some(7200), "the restarted API server caps tokens at 2h");
        // Nor does the watch fire once it is back.
        if let Ok(dead) = tokio::time::timeout(Duration::from_secs(4), cluster.died()).await {
            return Err(format!("the cluster was called dead after the restart: {dead}").into());
        }

        let kcm_args = local.args("kube-controller-manager");
        local.restart("kube-controller-manager", &[]).await?;
        assert_eq!(local.args("kube-controller-manager"), kcm_args, "the same flags");
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client.clone());
        let ns: k8s_openapi::api::core::v1::Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "after-restart"}})).unwrap();
        namespaces.create(&PostParams::default(), &ns).await.map_err(|e| e.to_string())?;
        let sas: Api<ServiceAccount> = Api::namespaced(cluster.client.clone(), "after-restart");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while sas.get_opt("default").await.map_err(|e| e.to_string())?.is_none() {
            assert!(std::time::Instant::now() < deadline, "no default ServiceAccount: the restarted controller manager does not work");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(local.health().is_ok());
        assert!(matches!(local.restart("etcd", &[]).await, Err(local::StartError::NotRestartable(_))));
        Ok(())
    })
}

/// When a component dies, `health()` names it instead of letting callers hang.
fn component_death(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let local = LocalCluster::start(installation, ClusterOptions::default()).await?;
        assert!(local.health().is_ok());
        let pids = state_pids(&local.dir);
        assert_eq!(pids.len(), 4, "etcd, kube-apiserver, kube-controller-manager and kube-scheduler");
        process::kill_group(pids[2]);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Err(e) = local.health() {
                assert_eq!(e.component, "kube-controller-manager", "{e}");
                assert!(e.to_string().contains("kube-controller-manager exited"), "{e}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the death of kube-controller-manager went unnoticed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    })
}

/// kube-controller-manager dies while kube-apiserver restarts (as it does when the API server is
/// not healthy within 10 s of its own start): the restart starts it again, as the kubelet would a
/// static pod, and the cluster is healthy.
fn controller_revived(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let local = LocalCluster::start(installation, ClusterOptions::default()).await?;
        let kcm = state_pids(&local.dir)[2];
        // SAFETY: plain kill(2) to our own cluster's controller manager.
        unsafe { libc::kill(kcm as i32, libc::SIGKILL) };
        local.restart("kube-apiserver", &[]).await?;
        local.health().map_err(|e| format!("not healthy after the restart: {e}"))?;
        let now = state_pids(&local.dir)[2];
        assert_ne!(now, kcm, "kube-controller-manager runs again, as a new process");
        assert!(Path::new(&format!("/proc/{now}")).exists(), "and it is running");
        Ok::<(), Failed>(())
    })
}

/// An upgrade to a release whose kube-apiserver does not start (a fault put in its place): the
/// error names kube-apiserver and the end of its log; the cluster, dropped, leaves no process
/// and no directory.
fn upgrade_fails(installation: local::Installation) -> Result<(), Failed> {
    let bin = std::env::temp_dir().join(format!("kp-broken-release-{}", std::process::id()));
    std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
    for binary in ["kube-controller-manager", "kube-scheduler", "kubectl"] {
        let _ = std::fs::remove_file(bin.join(binary));
        std::os::unix::fs::symlink(installation.binary(binary), bin.join(binary)).map_err(|e| e.to_string())?;
    }
    let apiserver = bin.join("kube-apiserver");
    std::fs::write(&apiserver, "#!/bin/sh\necho 'E0000 injected fault: this kube-apiserver does not start' >&2\nexit 1\n")
        .map_err(|e| e.to_string())?;
    std::fs::set_permissions(&apiserver, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    let from = installation.version;
    let next = local::Installation {
        version: kubeproof::version::KubeVersion::new(1, from.minor + 1, 0),
        bin_dir: bin.clone(),
        etcd: installation.etcd.clone(),
    };
    let outcome = rt().block_on(async {
        let local = LocalCluster::start(installation, ClusterOptions::default()).await?;
        let (dir, pids) = (local.dir.clone(), state_pids(&local.dir));
        let error = match local.upgrade(next).await {
            Ok(()) => return Err("an upgrade to a kube-apiserver that exits succeeded".into()),
            Err(e) => e.to_string(),
        };
        assert!(error.contains("kube-apiserver exited"), "names the component: {error}");
        assert!(error.contains("injected fault: this kube-apiserver does not start"), "shows the end of its log: {error}");
        drop(local);
        assert!(!dir.exists(), "the cluster's directory is removed");
        let running: Vec<u32> = pids.into_iter().filter(|pid| Path::new(&format!("/proc/{pid}")).exists()).collect();
        assert!(running.is_empty(), "no component outlives the cluster: {running:?}");
        Ok::<(), Failed>(())
    });
    let _ = std::fs::remove_dir_all(&bin);
    outcome
}

fn state_pids(dir: &Path) -> Vec<u32> {
    read_state(dir).map(|s| s.components.iter().map(|c| c.pid).collect()).unwrap_or_default()
}

fn read_state(dir: &Path) -> Option<ClusterState> {
    serde_json::from_slice(&std::fs::read(dir.join("state.json")).ok()?).ok()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0)
}

/// `kubeproof run`, passing and failing, verbose, with a JSON report: no token anywhere.
fn no_token_in_output(installation: local::Installation) -> Result<(), Failed> {
    let dir = std::env::temp_dir().join(format!("kubeproof-redaction-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("fails.yaml"),
        "description: fails on purpose with a token in the observed document\nsteps:\n  - service-account: sa\n  - token:\n      service-account: sa\n      save: t\n      expect:\n        - {path: $.body.status.token, equals: not-this}\n",
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("passes.yaml"),
        "description: prints tokens everywhere it could\nsteps:\n  - service-account: sa\n  - token: {service-account: sa, save: t}\n  - kubectl: {args: [create, token, sa], save: k}\n  - jwt: {token: k}\n  - secret-token-free: {}\n",
    )
    .map_err(|e| e.to_string())?;
    // (the last step above is a typo on purpose: lint must reject the file before any cluster call)
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_kubeproof"))
        .args(["run", dir.to_str().unwrap_or_default(), "--local", &installation.version.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    assert_eq!(bad.status.code(), Some(2), "an unknown step is bad input (exit 2)");
    // `kubectl create token` came with 1.24; before, the minted token is decoded instead.
    let v = installation.version;
    let minted_by_kubectl = if (v.major, v.minor) >= (1, 24) {
        "  - kubectl: {args: [create, token, sa], save: k}\n  - jwt: {token: k}\n"
    } else {
        "  - jwt: {token: t}\n"
    };
    std::fs::write(
        dir.join("passes.yaml"),
        format!("description: prints tokens everywhere it could\nsteps:\n  - service-account: sa\n  - token: {{service-account: sa, save: t}}\n{minted_by_kubectl}"),
    )
    .map_err(|e| e.to_string())?;
    let json = dir.join("report.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeproof"))
        .args(["run", dir.to_str().unwrap_or_default(), "--verbose", "--local", &installation.version.to_string(), "--json"])
        .arg(&json)
        .output()
        .map_err(|e| e.to_string())?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let report = std::fs::read_to_string(&json).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1), "one scenario fails on purpose:\n{text}");
    assert!(text.contains("1 passed, 1 failed"), "{text}");
    assert!(text.contains("sha256:"), "tokens are shown as fingerprints:\n{text}");
    assert!(!kubeproof::redact::contains_jwt(&text), "the output contains a token:\n{text}");
    assert!(report.contains("\"verdict\""), "the JSON report was written");
    assert!(!kubeproof::redact::contains_jwt(&report), "the JSON report contains a token");
    Ok(())
}

/// etcd serves TLS only and wants a client certificate of its own CA, on both its client
/// ports (gRPC, which kube-apiserver uses, and HTTP): plain HTTP, no certificate, or the
/// cluster CA's admin certificate are refused; kube-apiserver's etcd client certificate is let
/// in (so the refusals are not a broken etcd).
fn etcd_requires_certificates(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let local = LocalCluster::start(installation, ClusterOptions::default()).await?;
        let pki = local.dir.join("pki");
        let read = |f: &str| std::fs::read(pki.join(f)).map_err(|e| format!("{f}: {e}"));
        let etcd_ca = reqwest::Certificate::from_pem(&read("etcd/ca.crt")?).map_err(|e| e.to_string())?;
        // gRPC speaks HTTP/2 only: ask it so, or the refusal could be a protocol mismatch.
        let client = |identity: Option<(&str, &str)>, h2: bool| -> Result<reqwest::Client, String> {
            let mut b = reqwest::Client::builder().tls_certs_only([etcd_ca.clone()]).timeout(Duration::from_secs(5));
            if h2 {
                b = b.http2_prior_knowledge();
            }
            if let Some((cert, key)) = identity {
                let pem = [read(cert)?, read(key)?].concat();
                b = b.identity(reqwest::Identity::from_pem(&pem).map_err(|e| e.to_string())?);
            }
            b.build().map_err(|e| e.to_string())
        };
        let etcd_client = Some(("apiserver-etcd-client.crt", "apiserver-etcd-client.key"));

        for (port_name, base, h2) in [("gRPC", &local.etcd, true), ("HTTP", &local.etcd_http, false)] {
            let url = format!("{base}/version");
            // Plain HTTP: Go's TLS server answers 400, or etcd's multiplexer hangs up.
            let plain = reqwest::Client::new().get(url.replacen("https://", "http://", 1)).send().await;
            let plain_body = match plain {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            assert!(!plain_body.contains("etcdserver"), "etcd's {port_name} port answered plain HTTP: {plain_body}");
            for (what, identity) in [("no certificate", None), ("the cluster CA's admin certificate", Some(("admin.crt", "admin.key")))] {
                let answer = client(identity, h2)?.get(&url).send().await;
                assert!(answer.is_err(), "etcd's {port_name} port let a client with {what} in: {answer:?}");
            }
            let allowed = client(etcd_client, h2)?
                .get(&url)
                .send()
                .await
                .map_err(|e| format!("etcd's {port_name} port refused kube-apiserver's etcd certificate: {e:?}"))?;
            if port_name == "HTTP" {
                let status = allowed.status();
                let body = allowed.text().await.map_err(|e| e.to_string())?;
                assert!(body.contains("etcdserver"), "etcd /version: {status} {body}");
            }
        }

        // The cluster works through the authenticated etcd: an object is stored and read back.
        let local = Arc::new(local);
        let cluster = Cluster::from_local(local.clone()).await?;
        let cms: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
        let cm: ConfigMap = serde_json::from_value(serde_json::json!({"metadata": {"name": "stored"}, "data": {"k": "v"}})).unwrap();
        cms.create(&PostParams::default(), &cm).await.map_err(|e| e.to_string())?;
        let back = cms.get("stored").await.map_err(|e| e.to_string())?;
        assert_eq!(back.data.and_then(|d| d.get("k").cloned()).as_deref(), Some("v"));
        Ok(())
    })
}

/// A `kubeproof cluster up --name NAME` process, its output read when it ends.
fn up(version: &str, name: &str) -> Result<std::process::Child, String> {
    Command::new(env!("CARGO_BIN_EXE_kubeproof"))
        .args(["cluster", "up", "--version", version, "--name", name])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run kubeproof: {e}"))
}

/// Waits for a child to exit within `limit`; kills it if it does not.
fn finish(mut child: std::process::Child, limit: Duration) -> Result<(Option<i32>, String), String> {
    let deadline = Instant::now() + limit;
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().map_err(|e| e.to_string())?;
            return Err(format!("kubeproof did not exit within {limit:?}: {}", String::from_utf8_lossy(&out.stderr)));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok((out.status.code(), text))
}

/// Processes running one of the cache's binaries with the cluster directory in their
/// arguments: every component names its directory there.
fn processes_of(dir: &Path) -> Vec<String> {
    let cache = local::cache_root();
    let marker = format!("{}/", dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else { return vec!["/proc is unreadable".into()] };
    entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter_map(|e| {
            let exe = std::fs::read_link(e.path().join("exe")).ok()?;
            let cmdline = String::from_utf8_lossy(&std::fs::read(e.path().join("cmdline")).ok()?).replace('\0', " ");
            (exe.starts_with(&cache) && cmdline.contains(&marker)).then(|| format!("{}: {cmdline}", e.file_name().to_string_lossy()))
        })
        .collect()
}

/// SIGINT as soon as the cluster directory exists (certificates being made), SIGTERM once
/// kube-apiserver runs: `cluster up` exits 128+N, and no component, directory or lock is left.
fn signal_during_up(installation: local::Installation) -> Result<(), Failed> {
    let version = installation.version.to_string();
    /// A signal, the stage it is sent at, and how to tell the stage was reached.
    type Case = (libc::c_int, &'static str, fn(&Path) -> bool);
    let cases: [Case; 2] = [
        (libc::SIGINT, "the directory exists", |dir| dir.exists()),
        (libc::SIGTERM, "kube-apiserver was started", |dir| state_pids(dir).len() >= 2),
    ];
    for (n, (signal, stage, reached)) in cases.into_iter().enumerate() {
        let name = format!("kp-signal-{}-{n}", std::process::id());
        let dir = local::cache_root().join("clusters").join(&name);
        let mut child = up(&version, &name)?;
        let deadline = Instant::now() + Duration::from_secs(120);
        while !reached(&dir) {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("cluster up exited ({status}) before {stage}").into());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!("{stage}: not within 120s").into());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(child.id() as libc::pid_t, signal);
        }
        let (code, text) = finish(child, Duration::from_secs(20))?;
        assert_eq!(code, Some(128 + signal), "signal {signal} once {stage}:\n{text}");
        assert!(!dir.exists(), "signal {signal} once {stage}: {} is left", dir.display());
        assert!(!dir.with_extension("lock").exists(), "signal {signal} once {stage}: the lock file is left");
        let left = processes_of(&dir);
        assert!(left.is_empty(), "signal {signal} once {stage}: processes left: {left:?}");
    }
    Ok(())
}

/// Two `cluster up` of one name at once: one starts the cluster, the other says who is
/// starting it, within seconds; `cluster down` then stops the winner's cluster.
fn concurrent_up(installation: local::Installation) -> Result<(), Failed> {
    let version = installation.version.to_string();
    let name = format!("kp-race-{}", std::process::id());
    let dir = local::cache_root().join("clusters").join(&name);
    let began = Instant::now();
    let (a, b) = (up(&version, &name)?, up(&version, &name)?);
    // Whichever exits first is the loser; it must not wait for the winner's start.
    let (mut first, mut second) = (Some(a), Some(b));
    let mut loser = None;
    while loser.is_none() {
        for slot in [&mut first, &mut second] {
            if loser.is_none() && slot.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(Some(_)))) {
                loser = slot.take();
            }
        }
        if began.elapsed() > Duration::from_secs(180) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let loser_after = began.elapsed();
    let winner = first.or(second).ok_or("both exited at once")?;
    let (loser_code, loser_text) = finish(loser.ok_or("neither exited within 180s")?, Duration::ZERO)?;
    let (winner_code, winner_text) = finish(winner, Duration::from_secs(180))?;
    let down = Command::new(env!("CARGO_BIN_EXE_kubeproof")).args(["cluster", "down", "--name", &name]).output();

    assert_eq!(winner_code, Some(0), "the winner starts the cluster:\n{winner_text}\nloser:\n{loser_text}");
    assert!(winner_text.contains("is ready"), "{winner_text}");
    assert_ne!(loser_code, Some(0), "both started a cluster:\n{loser_text}");
    let expected = format!("a cluster named {name} is being started or running (pid ");
    assert!(loser_text.contains(&expected), "the loser says who holds the name:\n{loser_text}");
    assert!(loser_after < Duration::from_secs(10), "the loser took {loser_after:?}");
    let down = down.map_err(|e| e.to_string())?;
    assert!(down.status.success(), "cluster down: {}", String::from_utf8_lossy(&down.stderr));
    assert!(!dir.exists(), "cluster down removes the directory");
    let left = processes_of(&dir);
    assert!(left.is_empty(), "processes left after down: {left:?}");
    Ok(())
}

/// `cluster down --name` with a path is refused before any file is read, and recorded pids
/// that now belong to another process (same pid, other start time) are never signalled.
/// Runs on a private cache directory with a `sleep` standing in for a component.
fn down_refuses_paths_and_reused_pids() -> Result<(), Failed> {
    let root = std::env::temp_dir().join(format!("kubeproof-planted-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let clusters = root.join("kubeproof/clusters");
    std::fs::create_dir_all(&clusters).map_err(|e| e.to_string())?;
    let mut sleeper = Command::new("sleep").arg("120").process_group(0).spawn().map_err(|e| e.to_string())?;
    let result = planted_states(&root, &clusters, &mut sleeper);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let _ = std::fs::remove_dir_all(&root);
    result
}

fn planted_states(root: &Path, clusters: &Path, sleeper: &mut std::process::Child) -> Result<(), Failed> {
    let genuine = ProcessRecord::of("etcd", sleeper.id(), Path::new("/bin/sleep"))?;
    let reused = ProcessRecord { start_time: genuine.start_time + 1, ..genuine.clone() };
    let plant = |dir: &Path, record: &ProcessRecord, detached: bool| -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let state = ClusterState {
            name,
            version: "1.37.2".into(),
            server: "https://127.0.0.1:1".into(),
            kubeconfig: dir.join("kubeconfig"),
            flags: Profile::default(),
            detached,
            owner: 1,
            components: vec![record.clone()],
            node: None,
        };
        std::fs::write(dir.join("state.json"), serde_json::to_vec(&state).map_err(|e| e.to_string())?).map_err(|e| e.to_string())
    };
    let kubeproof = |args: &[&str]| -> Result<(Option<i32>, String), String> {
        let out = Command::new(env!("CARGO_BIN_EXE_kubeproof"))
            .args(args)
            .env("KUBEPROOF_CACHE_DIR", root.join("kubeproof"))
            .output()
            .map_err(|e| e.to_string())?;
        Ok((out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))))
    };
    let alive = |s: &mut std::process::Child| matches!(s.try_wait(), Ok(None));

    // Paths in place of names, each pointing at a state file that names the live sleeper.
    let outside = root.join("outside");
    plant(&outside, &genuine, true)?;
    plant(&root.join("kubeproof/x"), &genuine, true)?;
    for name in [outside.to_str().unwrap_or_default(), "../x", "../../outside", "a/../../x"] {
        let (code, text) = kubeproof(&["cluster", "down", "--name", name])?;
        assert_eq!(code, Some(2), "down --name {name} is bad input:\n{text}");
        assert!(text.contains("not a valid cluster name"), "{text}");
        let (code, text) = kubeproof(&["cluster", "up", "--name", name, "--version", "1.37.2"])?;
        assert_eq!(code, Some(2), "up --name {name} is bad input:\n{text}");
        assert!(text.contains("not a valid cluster name"), "{text}");
    }
    // A node: at most one, and image archives that exist — said before anything starts.
    let (code, text) = kubeproof(&["cluster", "up", "--name", "n", "--version", "1.37.2", "--nodes", "2"])?;
    assert_eq!(code, Some(2), "up --nodes 2 is bad input:\n{text}");
    assert!(text.contains("--nodes") && text.contains("0..=1"), "{text}");
    let (code, text) =
        kubeproof(&["cluster", "up", "--name", "n", "--version", "1.37.2", "--nodes", "1", "--image-archive", "/nonexistent/x.tar"])?;
    assert_eq!(code, Some(2), "a missing image archive is bad input:\n{text}");
    assert!(text.contains("--image-archive /nonexistent/x.tar: no such file"), "{text}");
    assert!(!clusters.join("n").exists(), "nothing was started");
    assert!(alive(sleeper), "a path given as a name reached a planted state file");
    assert!(outside.join("state.json").exists(), "nothing outside the clusters directory is touched");

    // Stale state whose pid now belongs to another process: list clears the ephemeral
    // leftover, down stops the detached one — neither signals the process.
    plant(&clusters.join("stale-ephemeral"), &reused, false)?;
    plant(&clusters.join("stale-detached"), &reused, true)?;
    let (code, text) = kubeproof(&["cluster", "list"])?;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("stale-detached") && text.contains("broken"), "a detached cluster whose process is gone is broken:\n{text}");
    assert!(!clusters.join("stale-ephemeral").exists(), "list removes the leftover of a dead owner");
    let (code, text) = kubeproof(&["cluster", "down", "--name", "stale-detached"])?;
    assert_eq!(code, Some(0), "{text}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(alive(sleeper), "a reused pid was signalled");

    // The genuine record is signalled: the checks above could have failed.
    plant(&clusters.join("genuine"), &genuine, true)?;
    let (code, text) = kubeproof(&["cluster", "down", "--name", "genuine"])?;
    assert_eq!(code, Some(0), "{text}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(sleeper) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!alive(sleeper), "down stops the process it started");
    assert!(!clusters.join("genuine").exists());
    let left: Vec<PathBuf> = std::fs::read_dir(clusters).map_err(|e| e.to_string())?.flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "left in the clusters directory: {left:?}");
    Ok(())
}

/// What kubeadm passes for one flag, and what the running process must therefore have.
enum Kubeadm {
    /// This exact value.
    Is(&'static str),
    /// A file kubeadm names so (under /etc/kubernetes or its pki/): ours is a file of the same
    /// name inside the cluster's directory.
    File(&'static str),
    /// Differs by design (docs/control-plane.md says why): ours is this value.
    Ours(&'static str),
    /// Differs by design: ours is a loopback port or URL, whatever the number.
    Port,
}

/// kubeadm's flags for the control plane, copied from
/// cmd/kubeadm/app/phases/controlplane/manifests.go at v1.23.17 and v1.37.2 (the same set in
/// both), for a default `kubeadm init` (no pod subnet, local etcd). Written out here, not taken
/// from kubeproof, so a flag kubeproof drops or changes fails this test.
fn kubeadm_flags(component: &str) -> Vec<(&'static str, Kubeadm)> {
    use Kubeadm::*;
    match component {
        "kube-apiserver" => vec![
            ("advertise-address", Ours("127.0.0.1")),
            ("allow-privileged", Is("true")),
            ("authorization-mode", Is("Node,RBAC")),
            ("client-ca-file", File("pki/ca.crt")),
            ("enable-admission-plugins", Is("NodeRestriction")),
            ("enable-bootstrap-token-auth", Is("true")),
            ("etcd-cafile", File("pki/etcd/ca.crt")),
            ("etcd-certfile", File("pki/apiserver-etcd-client.crt")),
            ("etcd-keyfile", File("pki/apiserver-etcd-client.key")),
            ("etcd-servers", Port),
            ("kubelet-client-certificate", File("pki/apiserver-kubelet-client.crt")),
            ("kubelet-client-key", File("pki/apiserver-kubelet-client.key")),
            ("kubelet-preferred-address-types", Is("InternalIP,ExternalIP,Hostname")),
            ("proxy-client-cert-file", File("pki/front-proxy-client.crt")),
            ("proxy-client-key-file", File("pki/front-proxy-client.key")),
            ("requestheader-allowed-names", Is("front-proxy-client")),
            ("requestheader-client-ca-file", File("pki/front-proxy-ca.crt")),
            ("requestheader-extra-headers-prefix", Is("X-Remote-Extra-")),
            ("requestheader-group-headers", Is("X-Remote-Group")),
            ("requestheader-username-headers", Is("X-Remote-User")),
            ("secure-port", Port),
            ("service-account-issuer", Is("https://kubernetes.default.svc.cluster.local")),
            ("service-account-key-file", File("pki/sa.pub")),
            ("service-account-signing-key-file", File("pki/sa.key")),
            ("service-cluster-ip-range", Is("10.96.0.0/12")),
            ("tls-cert-file", File("pki/apiserver.crt")),
            ("tls-private-key-file", File("pki/apiserver.key")),
        ],
        "kube-controller-manager" => vec![
            ("authentication-kubeconfig", File("controller-manager.conf")),
            ("authorization-kubeconfig", File("controller-manager.conf")),
            ("bind-address", Is("127.0.0.1")),
            ("client-ca-file", File("pki/ca.crt")),
            ("cluster-name", Is("kubernetes")),
            ("cluster-signing-cert-file", File("pki/ca.crt")),
            ("cluster-signing-key-file", File("pki/ca.key")),
            ("controllers", Is("*,bootstrapsigner,tokencleaner")),
            ("kubeconfig", File("controller-manager.conf")),
            ("leader-elect", Ours("false")),
            ("requestheader-client-ca-file", File("pki/front-proxy-ca.crt")),
            ("root-ca-file", File("pki/ca.crt")),
            ("service-account-private-key-file", File("pki/sa.key")),
            ("use-service-account-credentials", Is("true")),
        ],
        "kube-scheduler" => vec![
            ("authentication-kubeconfig", File("scheduler.conf")),
            ("authorization-kubeconfig", File("scheduler.conf")),
            ("bind-address", Is("127.0.0.1")),
            ("kubeconfig", File("scheduler.conf")),
            ("leader-elect", Ours("false")),
        ],
        _ => Vec::new(),
    }
}

/// Flags kubeproof adds that kubeadm does not pass (docs/control-plane.md says why).
fn added_flags(component: &str) -> &'static [&'static str] {
    match component {
        "kube-apiserver" => &["bind-address", "cert-dir", "endpoint-reconciler-type"],
        "kube-controller-manager" => &["secure-port", "kube-api-qps", "kube-api-burst"],
        "kube-scheduler" => &["secure-port"],
        _ => &[],
    }
}

/// The running kube-apiserver, kube-controller-manager and kube-scheduler have kubeadm's flags
/// (read from /proc/PID/cmdline), and no flag kubeadm lacks beyond the documented ones.
fn flags_are_kubeadms(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let local = LocalCluster::start(installation, ClusterOptions::default()).await?;
        let dir = local.dir.clone();
        let components = read_state(&dir).map(|s| s.components).unwrap_or_default();
        let mut problems = Vec::new();
        for component in ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] {
            let record = components.iter().find(|c| c.name == component).ok_or(format!("{component} is not running"))?;
            let cmdline = std::fs::read(format!("/proc/{}/cmdline", record.pid)).map_err(|e| format!("{component}: {e}"))?;
            let running: Vec<(String, String)> = cmdline
                .split(|b| *b == 0)
                .filter_map(|a| std::str::from_utf8(a).ok()?.strip_prefix("--").map(str::to_string))
                .map(|a| match a.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (a, String::new()),
                })
                .collect();
            let value = |flag: &str| running.iter().find(|(k, _)| k == flag).map(|(_, v)| v.as_str());
            let expected = kubeadm_flags(component);
            for (flag, want) in &expected {
                let Some(got) = value(flag) else {
                    problems.push(format!("{component} lacks kubeadm's --{flag}"));
                    continue;
                };
                let ok = match want {
                    Kubeadm::Is(v) | Kubeadm::Ours(v) => got == *v,
                    Kubeadm::File(name) => Path::new(got) == dir.join(name) && Path::new(got).is_file(),
                    Kubeadm::Port => got.trim_start_matches("https://127.0.0.1:").parse::<u16>().is_ok_and(|p| p > 0),
                };
                if !ok {
                    problems.push(format!(
                        "{component} --{flag}={got}: expected {}",
                        match want {
                            Kubeadm::Is(v) => format!("kubeadm's {v}"),
                            Kubeadm::Ours(v) => format!("{v} (a documented difference)"),
                            Kubeadm::File(name) => format!("the file {name} of the cluster directory"),
                            Kubeadm::Port => "a loopback port".to_string(),
                        }
                    ));
                }
            }
            for (flag, _) in &running {
                if !expected.iter().any(|(f, _)| f == flag) && !added_flags(component).contains(&flag.as_str()) {
                    problems
                        .push(format!("{component} has --{flag}, which kubeadm does not pass and docs/control-plane.md does not explain"));
                }
            }
        }
        assert!(problems.is_empty(), "the running flags differ from kubeadm's:\n{}", problems.join("\n"));
        Ok(())
    })
}

/// A cluster with a node: the node registers Ready with its release's kubelet and its own
/// address; a pod of `kubeproof.local/tools:vX.Y.Z` runs, has its ServiceAccount token mounted,
/// and reaches the API server through the `kubernetes` Service (kubectl in the pod prints
/// `/version`); the Service's endpoint is the API server's address. Stopped, nothing of the
/// node is left: no network namespace, veth, mount, cgroup, process or directory.
fn node_runs_pods(installation: local::Installation) -> Result<(), Failed> {
    use k8s_openapi::api::core::v1::{Endpoints, Node, Pod};
    rt().block_on(async {
        let version = installation.version;
        let opts = ClusterOptions { flags: Profile { nodes: 1, ..Default::default() }, ..Default::default() };
        let local = Arc::new(LocalCluster::start(installation, opts).await?);
        let node = local.node.clone().ok_or("a cluster started with a node records it")?;
        let (name, dir, netns) = (local.name.clone(), local.dir.clone(), node.netns());
        let cluster = Cluster::from_local(local.clone()).await?;

        let nodes: Api<Node> = Api::all(cluster.client.clone());
        let registered = nodes.get(local::node::NODE_NAME).await.map_err(|e| e.to_string())?;
        let status = registered.status.clone().unwrap_or_default();
        let ready = status.conditions.unwrap_or_default().iter().any(|c| c.type_ == "Ready" && c.status == "True");
        assert!(ready, "the node is Ready once the cluster is started");
        assert_eq!(status.node_info.map(|i| i.kubelet_version).unwrap_or_default(), version.tag(), "the kubelet is the release's");
        let addresses: Vec<String> = status.addresses.unwrap_or_default().into_iter().map(|a| format!("{}={}", a.type_, a.address)).collect();
        assert!(addresses.contains(&format!("InternalIP={}", node.node_ip())), "{addresses:?}");

        let endpoints: Api<Endpoints> = Api::namespaced(cluster.client.clone(), "default");
        let kubernetes = endpoints.get("kubernetes").await.map_err(|e| e.to_string())?;
        let ips: Vec<String> = kubernetes.subsets.unwrap_or_default().into_iter().flat_map(|s| s.addresses.unwrap_or_default()).map(|a| a.ip).collect();
        assert_eq!(ips, vec![node.host_ip().to_string()], "the kubernetes Service's endpoint is the API server's address");

        let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
        let image = local::node::images::tools_image(version);
        // File names and a size only: the token itself never reaches the log.
        let script = "ls /var/run/secrets/kubernetes.io/serviceaccount; echo token-bytes=$(wc -c < /var/run/secrets/kubernetes.io/serviceaccount/token); kubectl get --raw /version; sleep 3600";
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "node-check"},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "tools", "image": image, "imagePullPolicy": "Never", "command": ["sh", "-c", script]}],
            },
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.map_err(|e| e.to_string())?;
        let want = format!("\"gitVersion\": \"{}\"", version.tag());
        let deadline = Instant::now() + Duration::from_secs(60);
        let logs = loop {
            let phase = pods.get("node-check").await.ok().and_then(|p| p.status).and_then(|s| s.phase).unwrap_or_default();
            let logs = if phase == "Running" { pods.logs("node-check", &Default::default()).await.unwrap_or_default() } else { String::new() };
            if logs.contains(&want) {
                break logs;
            }
            if Instant::now() > deadline {
                return Err(format!("the pod did not print the API server's /version within 60s (phase {phase:?}):\n{logs}\n{}", local.health().err().map(|e| e.to_string()).unwrap_or_default()).into());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        for file in ["ca.crt", "namespace", "token"] {
            assert!(logs.lines().any(|l| l == file), "{file} is mounted: {logs}");
        }
        let bytes: usize = logs.lines().find_map(|l| l.strip_prefix("token-bytes=")).and_then(|n| n.trim().parse().ok()).unwrap_or(0);
        assert!(bytes > 100, "the token file holds a JWT ({bytes} bytes)");

        drop(cluster);
        let local = Arc::try_unwrap(local).map_err(|_| "the cluster is still shared")?;
        local.stop();
        nothing_left_within(&name, &dir, &netns, Duration::from_secs(10))?;
        Ok(())
    })
}

/// Someone else's repository (tests/consumer: its own Cargo.toml, kubeproof by path, its own
/// `checks/`) runs its scenarios under its own `cargo test` through `kubeproof::harness`, on a
/// real control plane: each check a trial named for the release, each file a lint trial, all
/// passing.
fn consumer_crate(installation: local::Installation) -> Result<(), Failed> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let release = installation.version.to_string();
    // Its own target directory (the outer `cargo test` holds this one's), kept in kubeproof's
    // cache so that the next clone's run builds only kubeproof again, not every dependency.
    let target = local::cache_root().join("consumer-target");
    let out = Command::new(cargo)
        .args(["test", "--offline", "--message-format=json-render-diagnostics", "--manifest-path"])
        .arg(root.join("tests/consumer/Cargo.toml"))
        .args(["--test", "platform"])
        .env("CARGO_TARGET_DIR", &target)
        // Built once per clone: incremental state would only pile up (~400 MB a clone).
        .env("CARGO_INCREMENTAL", "0")
        .env("KUBEPROOF_VERSION", &release)
        .env_remove("KUBEPROOF_VERSIONS")
        .env_remove("KUBEPROOF_CONTEXT")
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    // Cargo's JSON messages on stdout, one a line, between the test binary's own lines.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = stdout.lines().filter(|l| !l.starts_with('{')).collect::<Vec<_>>().join("\n");
    let said = format!("{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the consumer's cargo test failed:\n{said}");
    prune_other_clones(&target.join("debug"), &stdout)?;
    for trial in [
        format!("{release}::default-sa-cannot-list-secrets"),
        format!("{release}::token-per-release"),
        "lint::default-sa-cannot-list-secrets".to_string(),
        "lint::token-per-release".to_string(),
    ] {
        let passed =
            said.lines().any(|l| l.strip_prefix("test ").and_then(|l| l.strip_suffix(" ... ok")).is_some_and(|n| n.trim() == trial));
        assert!(passed, "no passing trial `{trial}`:\n{said}");
    }
    assert!(said.contains("test result: ok. 4 passed; 0 failed"), "{said}");
    Ok(())
}

/// Each clone builds kubeproof (a path dependency) and the consumer's test anew in the shared
/// target directory, and cargo kept every such build (nine, 9.6 GB, after a day of CI runs).
/// Keeps the artifacts this build reported (cargo's `compiler-artifact` messages, fresh ones too)
/// and removes the other builds of those two crates, and any incremental state.
fn prune_other_clones(debug: &Path, messages: &str) -> Result<(), Failed> {
    const OURS: [&str; 3] = ["kubeproof-", "libkubeproof-", "platform-"];
    let kept: Vec<String> = messages
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| matches!(m["target"]["name"].as_str(), Some("kubeproof" | "platform")))
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| Some(Path::new(f.as_str()?).file_stem()?.to_str()?.rsplit_once('-')?.1.to_string()))
        .collect();
    assert!(kept.len() >= 2, "cargo reported no artifact of kubeproof and the consumer's test:\n{messages}");
    let entries = std::fs::read_dir(debug.join("deps")).map_err(|e| format!("{}: {e}", debug.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stem = name.split('.').next().unwrap_or_default();
        let hash = stem.rsplit_once('-').map_or("", |(_, h)| h);
        if OURS.iter().any(|p| stem.starts_with(p)) && !kept.iter().any(|k| k == hash) {
            gone(std::fs::remove_file(entry.path()), &name)?;
        }
    }
    gone(std::fs::remove_dir_all(debug.join("incremental")), "incremental")
}

/// A removal that found nothing to remove did what it was for.
fn gone(removed: std::io::Result<()>, what: &str) -> Result<(), Failed> {
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("cannot remove {what}: {e}").into()),
        _ => Ok(()),
    }
}

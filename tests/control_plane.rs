//! The local control plane against the real binaries: start, use, stop, leave nothing behind.
//! Runs when `KUBEPROOF_VERSION` (or the last of `KUBEPROOF_VERSIONS`) names a release;
//! otherwise its trials are reported ignored with the reason.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::api::authentication::v1::TokenRequest;
use kube::api::{Api, PostParams};
use libtest_mimic::{Arguments, Completion, Failed, Trial};

use kubeproof::cluster::Cluster;
use kubeproof::cluster::local::{self, ClusterOptions, InstallOptions, LocalCluster, process};

fn version_request() -> Option<String> {
    std::env::var("KUBEPROOF_VERSION")
        .ok()
        .or_else(|| std::env::var("KUBEPROOF_VERSIONS").ok().and_then(|v| v.split(',').next_back().map(str::to_string)))
        .filter(|v| !v.trim().is_empty())
}

fn main() {
    kubeproof::cluster::ensure_crypto_provider();
    let args = Arguments::from_args();
    let trials = vec![
        Trial::ignorable_test("control_plane::lifecycle", || with_version(lifecycle)),
        Trial::ignorable_test("control_plane::apiserver_flags", || with_version(apiserver_flags)),
        Trial::ignorable_test("control_plane::component_death_is_reported", || with_version(component_death)),
        Trial::ignorable_test("cli::no_token_in_any_output", || with_version(no_token_in_output)),
    ];
    libtest_mimic::run(&args, trials).exit();
}

fn with_version(test: fn(local::Installation) -> Result<(), Failed>) -> Result<Completion, Failed> {
    let Some(request) = version_request() else {
        return Ok(Completion::ignored_with("no release: set KUBEPROOF_VERSION=latest to build and start one"));
    };
    let v = local::versions::resolve(&request)?;
    let installation = local::install(v, &InstallOptions::default())?;
    test(installation)?;
    Ok(Completion::Completed)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

/// Start; `/version` is the release; a namespace gets its ServiceAccount and CA ConfigMap;
/// a token is minted; stop; no process is left and the API server's port is free.
fn lifecycle(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let version = installation.version;
        let local = Arc::new(LocalCluster::start(installation, ClusterOptions::default()).await?);
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
        let pids: Vec<u32> = state_pids(&dir);
        assert_eq!(pids.len(), 3, "etcd, kube-apiserver and kube-controller-manager");
        drop(cluster);
        let local = Arc::try_unwrap(local).map_err(|_| "the cluster is still shared")?;
        local.stop();
        for pid in pids {
            assert!(!process::alive(pid), "process {pid} outlived its cluster");
        }
        assert!(!dir.exists(), "the cluster directory was not removed");
        std::net::TcpListener::bind(("127.0.0.1", server_port)).map_err(|e| format!("port {server_port} still taken: {e}"))?;
        Ok(())
    })
}

/// A flag given by the user reaches kube-apiserver: a token request longer than the maximum is shortened.
fn apiserver_flags(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let opts = ClusterOptions { apiserver_args: vec!["--service-account-max-token-expiration=2h".into()], ..Default::default() };
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

/// When a component dies, `health()` names it instead of letting callers hang.
fn component_death(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let local = LocalCluster::start(installation, ClusterOptions::default()).await?;
        assert!(local.health().is_ok());
        let pids = state_pids(&local.dir);
        process::kill_group(pids[2]);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Err(e) = local.health() {
                assert!(e.contains("kube-controller-manager exited"), "{e}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the death of kube-controller-manager went unnoticed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    })
}

fn state_pids(dir: &std::path::Path) -> Vec<u32> {
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap_or_default()).unwrap_or_default();
    state["pids"].as_array().map(|a| a.iter().filter_map(|p| p[1].as_u64().map(|n| n as u32)).collect()).unwrap_or_default()
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
    std::fs::write(
        dir.join("passes.yaml"),
        "description: prints tokens everywhere it could\nsteps:\n  - service-account: sa\n  - token: {service-account: sa, save: t}\n  - kubectl: {args: [create, token, sa], save: k}\n  - jwt: {token: k}\n",
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
    assert!(!kubeproof::exec::redact::contains_jwt(&text), "the output contains a token:\n{text}");
    assert!(report.contains("\"verdict\""), "the JSON report was written");
    assert!(!kubeproof::exec::redact::contains_jwt(&report), "the JSON report contains a token");
    Ok(())
}

//! The promises kubeproof makes when things go wrong, checked against the real binaries:
//! tokens stay secret in every encoding, signals and dead clusters leave nothing behind, and
//! exit codes mean what docs/cli.md says.
//!
//! Runs when `KUBEPROOF_VERSION` (or the last of `KUBEPROOF_VERSIONS`) names a release;
//! otherwise its trials are reported ignored with the reason. Each trial starts its own local
//! cluster in this process and runs the `kubeproof` binary against it as a kubeconfig context,
//! so that it can reach under the binary: stop or kill a component, send signals.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, ListParams, PostParams};
use libtest_mimic::{Arguments, Failed, Trial};

use kubeproof::cluster::local::{self, ClusterOptions, LocalCluster};
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
        Trial::ignorable_test("secrets::no_token_in_any_encoding", || with_version(no_token_in_any_encoding)),
        Trial::ignorable_test("secrets::kubectl_as_a_token_only_through_a_private_file", || with_version(kubectl_as_token)),
        Trial::ignorable_test("secrets::no_token_from_a_pod", || with_node_version(no_token_from_a_pod)),
        Trial::ignorable_test("diagnostics::finally_and_diagnostics_on_failure", || with_version(finally_and_diagnostics)),
        Trial::ignorable_test("signals::sigterm_sighup_sigint_clean_up", || with_version(signals_clean_up)),
        Trial::ignorable_test("signals::hung_api_server_and_a_second_signal", || with_version(hung_api_server)),
        Trial::ignorable_test("signals::sigterm_during_an_upgrade_leaves_nothing", sigterm_during_upgrade),
        Trial::ignorable_test("faults::etcd_killed_mid_run", || with_version(etcd_killed)),
        Trial::ignorable_test("faults::sigkill_with_a_node_leaves_nothing", || with_node_version(sigkill_with_node)),
        Trial::ignorable_test("faults::context_api_server_killed", || with_version(context_api_server_killed)),
        Trial::ignorable_test("faults::second_cluster_killed", || with_version(second_cluster_killed)),
        Trial::ignorable_test("cli::exit_codes", || with_version(exit_codes)),
        Trial::ignorable_test("cli::matrix_from_reports_of_separate_runs", || with_version(matrix_from_reports)),
    ];
    libtest_mimic::run(&args, trials).exit();
}

/// A local cluster owned by this test process, and a scratch directory for scenario files,
/// reports and kubeproof's temporary files.
struct Fixture {
    local: Arc<LocalCluster>,
    cluster: Cluster,
    dir: PathBuf,
}

impl Fixture {
    async fn start(installation: local::Installation, tag: &str) -> Result<Fixture, Failed> {
        Self::start_with(installation, tag, Profile::default()).await
    }

    /// A fixture whose cluster has `profile`'s flags and nodes.
    async fn start_with(installation: local::Installation, tag: &str, profile: Profile) -> Result<Fixture, Failed> {
        let name = format!("faults-{tag}-{}", std::process::id());
        let opts = ClusterOptions { name: Some(name), flags: profile, ..Default::default() };
        let local = Arc::new(LocalCluster::start(installation, opts).await?);
        let cluster = Cluster::from_local(local.clone()).await?;
        let dir = std::env::temp_dir().join(format!("kubeproof-faults-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tmp")).map_err(|e| e.to_string())?;
        Ok(Fixture { local, cluster, dir })
    }

    /// This fixture's kube-apiserver (trials run in parallel: there are several).
    fn apiserver_pid(&self) -> Option<i32> {
        let port = self.local.server.rsplit(':').next().unwrap_or_default();
        child_running(std::process::id(), &self.local.installation().binary("kube-apiserver"), &format!("--secure-port={port}"))
    }

    fn context(&self) -> String {
        format!("kubeproof-{}", self.local.name)
    }

    fn write(&self, file: &str, text: &str) -> Result<PathBuf, Failed> {
        let path = self.dir.join("scenarios").join(file);
        std::fs::create_dir_all(path.parent().unwrap_or(&self.dir)).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        Ok(path)
    }

    /// `kubeproof run <scenarios> --context … <extra>`, as a child with its own TMPDIR.
    fn kubeproof(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubeproof"));
        cmd.arg("run")
            .arg(self.dir.join("scenarios"))
            .args(["--kubeconfig", &self.local.kubeconfig.display().to_string(), "--context", &self.context()])
            .args(extra)
            .env("TMPDIR", self.dir.join("tmp"))
            .env("KUBEPROOF_KUBECTL", self.local.installation().binary("kubectl"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs the fixture's scenarios with all kubeproof can write — `--verbose` output, the JSON
    /// and JUnit reports — for [`written`](Self::written) to search: (exit code, output).
    fn run_writing_everything(&self) -> Result<(Option<i32>, String), Failed> {
        let (json, junit) = (self.dir.join("report.json"), self.dir.join("junit.xml"));
        let out = self
            .kubeproof(&["--verbose", "--json", &json.display().to_string(), "--junit", &junit.display().to_string()])
            .output()
            .map_err(|e| e.to_string())?;
        Ok((out.status.code(), all_output(&out)))
    }

    /// What a run showed (`text`) and every file it wrote under the fixture's directory, each
    /// of mode 0600 (it holds what kubeproof saw), the JSON and JUnit reports among them:
    /// `(where, contents)`.
    fn written(&self, text: &str) -> Vec<(String, String)> {
        use std::os::unix::fs::MetadataExt as _;
        let mut written = vec![("stdout+stderr".to_string(), text.to_string())];
        for file in walk(&self.dir) {
            if file.starts_with(self.dir.join("scenarios")) {
                continue;
            }
            let contents = String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
            let mode = std::fs::metadata(&file).map(|m| m.mode() & 0o777).unwrap_or(0);
            assert_eq!(mode, 0o600, "{} holds what kubeproof saw and must be private", file.display());
            written.push((file.display().to_string(), contents));
        }
        for report in ["report.json", "junit.xml"] {
            assert!(written.iter().any(|(name, _)| name.ends_with(report)), "{report} was written");
        }
        written
    }

    /// Objects kubeproof labelled as its own, cluster-wide: namespaces (not yet terminating),
    /// ClusterRoles, ClusterRoleBindings.
    async fn labelled_leftovers(&self) -> Vec<String> {
        let lp = ListParams::default().labels("kubeproof.dev/run");
        let mut out = Vec::new();
        let namespaces: Api<Namespace> = Api::all(self.cluster.client.clone());
        if let Ok(list) = namespaces.list(&ListParams::default()).await {
            for ns in list.items {
                let name = ns.metadata.name.unwrap_or_default();
                if name.starts_with("kp-") && ns.metadata.deletion_timestamp.is_none() {
                    out.push(format!("Namespace/{name}"));
                }
            }
        }
        let roles: Api<ClusterRole> = Api::all(self.cluster.client.clone());
        for r in roles.list(&lp).await.map(|l| l.items).unwrap_or_default() {
            out.push(format!("ClusterRole/{}", r.metadata.name.unwrap_or_default()));
        }
        let bindings: Api<ClusterRoleBinding> = Api::all(self.cluster.client.clone());
        for b in bindings.list(&lp).await.map(|l| l.items).unwrap_or_default() {
            out.push(format!("ClusterRoleBinding/{}", b.metadata.name.unwrap_or_default()));
        }
        out
    }

    async fn labelled_cluster_roles(&self) -> usize {
        let roles: Api<ClusterRole> = Api::all(self.cluster.client.clone());
        roles.list(&ListParams::default().labels("kubeproof.dev/run")).await.map(|l| l.items.len()).unwrap_or(0)
    }

    /// Waits until the running scenario has created its cluster-scoped objects: more labelled
    /// ClusterRoles than `before`.
    async fn wait_for_objects(&self, child: &mut Child, before: usize) -> Result<(), Failed> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.labelled_cluster_roles().await > before {
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("kubeproof exited ({status}) before creating its objects").into());
            }
            if Instant::now() > deadline {
                return Err("the scenario did not create its ClusterRole within 60s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A scenario that creates a namespace, a ClusterRole and a ClusterRoleBinding, then waits
/// for something that never comes: the moment to interrupt it.
const SLOW: &str = "description: creates cluster-scoped objects, then waits a long time
steps:
  - service-account: waiter
  - apply:
      manifest:
        - {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: 'kp-fault-${namespace}'}, rules: []}
        - apiVersion: rbac.authorization.k8s.io/v1
          kind: ClusterRoleBinding
          metadata: {name: 'kp-fault-${namespace}'}
          roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: 'kp-fault-${namespace}'}
          subjects: [{kind: ServiceAccount, name: waiter, namespace: '${namespace}'}]
  - wait:
      kind: ServiceAccount
      name: waiter
      timeout: 5m
      expect:
        - {path: '$.metadata.labels.never', equals: 'set'}
";

fn signal(child: &Child, signal: i32) {
    // SAFETY: a plain kill(2) to our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
}

/// Waits for a child with a deadline, reading its output all along (a full pipe must not stall
/// it); kills it if the deadline passes.
fn finish(mut child: Child, within: Duration) -> Result<(Output, Duration), Failed> {
    use std::io::Read as _;
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut all = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut all);
            }
            all
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let started = Instant::now();
    let (status, took) = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break (status, started.elapsed());
        }
        if started.elapsed() > within {
            let _ = child.kill();
            break (child.wait().map_err(|e| e.to_string())?, started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = Output { status, stdout: stdout.join().unwrap_or_default(), stderr: stderr.join().unwrap_or_default() };
    if took > within {
        return Err(format!("kubeproof did not exit within {within:?}:\n{}", all_output(&out)).into());
    }
    Ok((out, took))
}

/// Everything the child printed, and how it ended when a signal ended it.
fn all_output(out: &Output) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    let ended = out.status.signal().map(|s| format!("\n[killed by signal {s}]")).unwrap_or_default();
    format!("{}{}{ended}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Every encoding a person could meet a secret in, and every 32-character window of it (and
/// 8-byte window in hex): none may appear anywhere kubeproof writes.
fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        out.push(engine.encode(secret));
    }
    let chars: Vec<char> = secret.chars().collect();
    out.extend(chars.windows(32).step_by(8).map(|w| w.iter().collect()));
    // As a hex dump shows it (kubectl -v=9 on a protobuf body): 8 bytes in a row, spaced.
    out.extend(secret.as_bytes().windows(8).step_by(4).map(|w| w.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")));
    out
}

/// No form of any of these secrets (raw, base64 …), and no JWT at all, in what kubeproof wrote.
fn assert_kept_secret(written: &[(String, String)], secrets: &[(&str, String)]) {
    for (secret, what) in secrets {
        for form in forms(secret) {
            for (place, contents) in written {
                assert!(!contents.contains(&form), "{what} appears in {place} as `{}…`", &form[..12.min(form.len())]);
            }
        }
    }
    for (place, contents) in written {
        assert!(!kubeproof::redact::contains_jwt(contents), "a JWT appears in {place}");
    }
}

/// Scenarios that try every way to show a token — reading a Secret through `get`, `wait`,
/// `call as: admin` and `kubectl`, capturing it and observing the capture, failing on purpose
/// with the token in the observed document, a kubeconfig holding a token inside a Secret —
/// and not one form of any token appears on stdout, stderr, the JSON report or any file
/// kubeproof wrote, which are all 0600.
fn no_token_in_any_encoding(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let f = Fixture::start(installation, "leaks").await?;
        let client = f.cluster.client.clone();
        let ns = "leak-fixture";
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let pp = PostParams::default();
        namespaces.create(&pp, &serde_json::from_value(serde_json::json!({"metadata": {"name": ns}}))?).await.map_err(|e| e.to_string())?;
        let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
        sas.create(&pp, &serde_json::from_value(serde_json::json!({"metadata": {"name": "holder"}}))?).await.map_err(|e| e.to_string())?;
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        let legacy = serde_json::json!({
            "metadata": {"name": "legacy", "annotations": {"kubernetes.io/service-account.name": "holder"}},
            "type": "kubernetes.io/service-account-token"
        });
        secrets.create(&pp, &serde_json::from_value(legacy)?).await.map_err(|e| e.to_string())?;
        let legacy_token = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Ok(s) = secrets.get("legacy").await
                    && let Some(t) = s.data.and_then(|d| d.get("token").cloned()) {
                        return String::from_utf8_lossy(&t.0).into_owned();
                    }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .map_err(|_| "the token controller did not fill the legacy Secret")?;
        let request: TokenRequest = serde_json::from_value(serde_json::json!({"spec": {"audiences": []}}))?;
        let minted = sas.create_token_request("holder", &pp, &request).await.map_err(|e| e.to_string())?;
        let minted = minted.status.and_then(|s| s.token).ok_or("no token minted")?;
        // A kubeconfig with the minted token, kept in an Opaque Secret: the token sits at some
        // offset inside a larger base64 text.
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: leak\n  user:\n    token: {minted}\nclusters: []\ncontexts: []\n"
        );
        let doc = serde_json::json!({"metadata": {"name": "kubeconfig"}, "type": "Opaque", "stringData": {"config": kubeconfig}});
        secrets.create(&pp, &serde_json::from_value(doc)?).await.map_err(|e| e.to_string())?;

        let get = |name: &str, expect: &str| {
            format!("  - get: {{kind: Secret, name: {name}, namespace: {ns}, expect: [{expect}]}}\n")
        };
        f.write("get-fails.yaml", &format!("description: a Secret read with get, failing on its data\nsteps:\n{}", get("legacy", "{path: $.data, equals: {}}")))?;
        f.write("get-kubeconfig-fails.yaml", &format!("description: a kubeconfig inside a Secret\nsteps:\n{}", get("kubeconfig", "{path: $.data.config, equals: x}")))?;
        f.write(
            "wait-times-out.yaml",
            &format!("description: a Secret watched until a timeout\nsteps:\n  - wait: {{kind: Secret, name: legacy, namespace: {ns}, timeout: 2s, expect: [{{path: $.data.token, equals: never}}]}}\n"),
        )?;
        f.write(
            "call-admin-fails.yaml",
            &format!("description: a Secret fetched by call as admin\nsteps:\n  - call: {{as: admin, path: /api/v1/namespaces/{ns}/secrets/legacy, status: 200, expect: [{{path: $.body, equals: {{}}}}]}}\n"),
        )?;
        f.write(
            "call-list-passes.yaml",
            &format!("description: every Secret of the namespace, listed\nsteps:\n  - call: {{as: admin, path: /api/v1/namespaces/{ns}/secrets, status: 200}}\n"),
        )?;
        f.write(
            "kubectl-fails.yaml",
            &format!("description: kubectl printing the token and the whole Secret\nsteps:\n  - kubectl: {{args: [get, secret, legacy, -n, {ns}, -o, 'jsonpath={{.data.token}}'], expect: [{{path: $.stdout, equals: x}}]}}\n"),
        )?;
        f.write(
            "kubectl-yaml-passes.yaml",
            &format!("description: kubectl -o yaml of both Secrets, and a token printed by kubectl\nsteps:\n  - kubectl: {{args: [get, secret, legacy, kubeconfig, -n, {ns}, -o, yaml]}}\n  - kubectl: {{args: [create, token, holder, -n, {ns}]}}\n"),
        )?;
        f.write(
            "capture-observed.yaml",
            &format!(
                "description: a token captured and shown through observe\nobserve: 'token ${{t}} config ${{c}}'\nsteps:\n  - get: {{kind: Secret, name: legacy, namespace: {ns}, capture: {{t: $.data.token}}}}\n  - get: {{kind: Secret, name: kubeconfig, namespace: {ns}, capture: {{c: $.data.config}}}}\n"
            ),
        )?;
        // kubectl's request dumps: `create token -v=8` cuts the JSON response inside the token
        // (kubectl up to 1.30), `-v=9` shows it whole, in JSON or (kubectl 1.31 on, protobuf) as
        // a hex dump; `observe` shows both outputs in full.
        f.write(
            "kubectl-verbose-passes.yaml",
            &format!(
                "description: kubectl printing its token requests and responses\nobserve: 'v8 ${{v8}} v9 ${{v9}}'\nsteps:\n  - kubectl: {{versions: '>=1.24', args: [create, token, holder, -n, {ns}, -v=8], capture: {{v8: $.stderr}}}}\n  - kubectl: {{versions: '>=1.24', args: [create, token, holder, -n, {ns}, -v=9], capture: {{v9: $.stderr}}}}\n"
            ),
        )?;
        // `call`'s own forms: the minted token as a hand-written `Authorization` (as anonymous)
        // and in custom headers, the legacy one in a raw body; the API server echoes them back
        // in the response body (a SelfSubjectAccessReview's resource name) and in a `Warning`
        // header (an unknown field named after the token), and the failing step shows both.
        f.write(
            "call-headers-fails.yaml",
            &format!(
                r#"description: tokens sent in headers and raw bodies, echoed in the body and a Warning header
steps:
  - call:
      as: anonymous
      method: POST
      path: /apis/authorization.k8s.io/v1/selfsubjectaccessreviews
      headers: {{Authorization: 'Bearer {minted}', X-Token: '{minted}', X-Legacy: '{legacy_token}'}}
      body-text: '{{"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {{"resourceAttributes": {{"verb": "get", "resource": "secrets", "name": "{legacy_token}"}}}}}}'
      status: 201
      expect:
        - {{path: $.body.spec.resourceAttributes.name, matches: '^<token sha256:[0-9a-f]{{12}}>$'}}
  - call:
      as: admin
      method: POST
      path: /api/v1/namespaces/${{namespace}}/configmaps?fieldValidation=Warn&dryRun=All
      body-text: '{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "echo"}}, "data": {{"token": "{minted}"}}, "{minted}": 1}}'
      expect:
        - {{path: $.headers.warning, equals: x}}
        - {{path: $.body.data, equals: x}}
"#
            ),
        )?;
        // `body-token`: the legacy token (saved from kubectl's stdout) put into a TokenReview,
        // whose answer echoes it in `spec.token`; the failing assertion shows that answer.
        f.write(
            "call-body-token-fails.yaml",
            &format!(
                r#"description: a saved token sent in a body, echoed in the answer
steps:
  - kubectl: {{args: [get, secret, legacy, -n, {ns}, -o, 'go-template={{{{.data.token | base64decode}}}}'], save: legacy}}
  - call:
      as: admin
      method: POST
      path: /apis/authentication.k8s.io/v1/tokenreviews
      body: {{apiVersion: authentication.k8s.io/v1, kind: TokenReview, spec: {{}}}}
      body-token: {{pointer: /spec/token, token: legacy}}
      status: 201
      expect:
        - {{path: $.body.status.authenticated, equals: true}}
        - {{path: $.body.spec.token, equals: x}}
"#
            ),
        )?;
        // Diagnostics of a failure: an event whose message holds both tokens, a ConfigMap holding
        // the minted one and the kubeconfig, and (failing `finally` steps) both Secrets as the
        // server has them.
        f.write(
            "diagnostics-fail.yaml",
            &format!(
                "description: a failure whose diagnostics meet tokens in an event, an object and Secrets
steps:
  - apply:
      manifest:
        - apiVersion: v1
          kind: ConfigMap
          metadata: {{name: leaky}}
          data: {{token: '{minted}', kubeconfig: {kubeconfig:?}}}
        - apiVersion: v1
          kind: Event
          metadata: {{name: leaky}}
          involvedObject: {{kind: ConfigMap, name: leaky, namespace: '${{namespace}}'}}
          reason: Leak
          type: Warning
          message: 'minted {minted} legacy {legacy_token}'
  - get: {{kind: ConfigMap, name: leaky, expect: [{{path: $.data.never, equals: x}}]}}
finally:
  - get: {{kind: Secret, name: legacy, namespace: {ns}, expect: [{{path: $.type, equals: x}}]}}
  - get: {{kind: Secret, name: kubeconfig, namespace: {ns}, expect: [{{path: $.type, equals: x}}]}}
"
            ),
        )?;
        // Tokens as the values of a table of cases, shown by `observe` (the case that passes) and
        // passed to a step file as a parameter: in the include's summary, and as an expected
        // value in the included step's failure (the case that fails).
        f.write(
            "steps/show.yaml",
            "params: [v, kind]\nsteps:\n  - call: {as: admin, path: /api, expect: [{path: $.body.kind, equals: '${kind}'}]}\n",
        )?;
        f.write(
            "cases-include.yaml",
            &format!(
                "description: tokens as case values and include parameters\nobserve: 'case ${{t}}'\ncases:\n  - {{name: passes, t: '{minted}', kind: APIVersions}}\n  - {{name: fails, t: '{legacy_token}', kind: '{legacy_token}'}}\nsteps:\n  - include: {{file: steps/show.yaml, with: {{v: '${{t}}', kind: '${{kind}}'}}}}\n"
            ),
        )?;
        // A Secret holding the minted token in stringData and as a label value, which is too long
        // for a label: the API server refuses it with 422 and repeats the value in its message.
        // Once expected (`status: 422`, an assertion failing on the Status), once not.
        let refused = format!(
            "apiVersion: v1\n        kind: Secret\n        metadata: {{name: refused, labels: {{leak: '{minted}'}}}}\n        stringData: {{token: '{minted}'}}"
        );
        f.write(
            "apply-refused-expected-fails.yaml",
            &format!("description: a refusal that echoes a token, expected\nsteps:\n  - apply:\n      status: 422\n      manifest:\n        {refused}\n      expect:\n        - {{path: $.body.message, equals: x}}\n"),
        )?;
        f.write(
            "apply-refused-fails.yaml",
            &format!("description: a refusal that echoes a token, not expected\nsteps:\n  - apply:\n      manifest:\n        {refused}\n"),
        )?;
        let (code, text) = f.run_writing_everything()?;
        assert_eq!(code, Some(1), "the failing scenarios fail, nothing else goes wrong:\n{text}");
        assert!(text.contains("5 passed, 11 failed"), "every scenario ran:\n{text}");
        // The request dumps were there to leak from, and are shown.
        let minor = f.local.version().minor;
        if minor >= 24 {
            assert!(text.contains("PASS  kubectl-verbose-passes") && text.contains("Response Body"), "kubectl's dumps are observed:\n{text}");
        }
        if minor >= 31 {
            assert!(text.contains("<hex dump of ") && text.contains("bytes not shown: they hold <token sha256:"), "the protobuf response is hidden:\n{text}");
        }
        assert!(text.contains("Invalid value: \"<token sha256:"), "the refusals' messages are shown:\n{text}");
        for shown in ["PASS  cases-include::passes", "observed: case <token sha256:", "steps/show.yaml with kind=<token sha256:"] {
            assert!(text.contains(shown), "the case table and the include show `{shown}`:\n{text}");
        }
        // The tokens went out and came back: echoed in the body, and (where the API server warns
        // about unknown fields, 1.25 on) in a `Warning` header — each shown as a fingerprint.
        assert!(text.contains("call-headers-fails") && text.contains("$.body.data: expected \"x\", observed {\"token\":\"<token sha256:"), "{text}");
        assert!(text.contains("$.body.spec.token: expected \"x\", observed \"<token sha256:"), "the token went out in the body and came back:\n{text}");
        if f.local.version().minor >= 25 {
            assert!(text.contains(r#"unknown field \\\"<token sha256:"#), "the Warning header echoes the token, redacted:\n{text}");
        }
        // The diagnostics were there to leak from: the event, the objects, the Secrets' keys.
        for shown in ["Warning Leak ConfigMap/leaky: minted <token sha256:", "ConfigMap leaky in kp-", "Secret legacy in leak-fixture:", "token: (not shown)", "config: (not shown)"] {
            assert!(text.contains(shown), "the diagnostics show `{shown}`:\n{text}");
        }

        let written = f.written(&text);
        assert_kept_secret(&written, &[(&legacy_token, "the legacy Secret's token".into()), (&minted, "the minted token".into())]);
        assert!(text.contains("sha256:"), "tokens are shown as fingerprints:\n{text}");
        let config_b64 = STANDARD.encode(&kubeconfig);
        for (place, contents) in &written {
            assert!(!contents.contains(&config_b64[40..120]), "the kubeconfig Secret's data appears in {place}");
        }
        Ok(())
    })
}

/// Where a pod's token is mounted.
const MOUNTED_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Tokens that only a pod holds, read from inside it: `exec` printing its mounted token on stdout
/// (a failing assertion, an `eventually` that runs out), on stderr (a failing exit code), in
/// base64, captured and observed, saved and used; `logs` of a pod that prints its own token as it
/// starts, failing on it and observed. Not one form of either token appears on stdout, stderr,
/// the reports or any file kubeproof wrote. The run is on a context, whose one Ready node makes
/// `requires: {nodes: 1}` apply.
fn no_token_from_a_pod(installation: local::Installation) -> Result<(), Failed> {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::AttachParams;
    use tokio::io::AsyncReadExt as _;
    rt().block_on(async {
        let f = Fixture::start_with(installation, "pod-leaks", Profile { nodes: 1, ..Default::default() }).await?;
        let client = f.cluster.client.clone();
        let ns = "leak-pods";
        let pp = PostParams::default();
        let namespaces: Api<Namespace> = Api::all(client.clone());
        namespaces.create(&pp, &serde_json::from_value(serde_json::json!({"metadata": {"name": ns}}))?).await.map_err(|e| e.to_string())?;
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let image = format!("kubeproof.local/tools:{}", f.local.version().tag());
        for (name, command) in [("holder", "exec sleep 3600".to_string()), ("printer", format!("cat {MOUNTED_TOKEN}; echo; exec sleep 3600"))] {
            let pod = serde_json::json!({
                "metadata": {"name": name},
                "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                    {"name": "tools", "image": image, "imagePullPolicy": "Never", "command": ["sh", "-c", command]}
                ]}
            });
            pods.create(&pp, &serde_json::from_value(pod)?).await.map_err(|e| e.to_string())?;
        }
        // Each pod's token, read here as the scenarios will: the secrets that must not appear.
        let mut tokens = Vec::new();
        for name in ["holder", "printer"] {
            let token = tokio::time::timeout(Duration::from_secs(120), async {
                loop {
                    let running = pods.get(name).await.ok().and_then(|p| p.status?.phase).is_some_and(|p| p == "Running");
                    if running {
                        let params = AttachParams::default().stdout(true).stderr(false);
                        if let Ok(mut process) = pods.exec(name, ["cat", MOUNTED_TOKEN], &params).await {
                            let mut out = String::new();
                            if let Some(mut stdout) = process.stdout() {
                                let _ = stdout.read_to_string(&mut out).await;
                            }
                            if out.split('.').count() == 3 {
                                return out;
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            })
            .await
            .map_err(|_| format!("pod {name} did not run, or its token could not be read, within 120s"))?;
            tokens.push((name, token));
        }

        let exec = |rest: &str| format!("  - exec: {{namespace: {ns}, pod: holder, {rest}}}\n");
        f.write(
            "exec-stdout-fails.yaml",
            &format!("description: a token on stdout, failing\nrequires: {{nodes: 1}}\nsteps:\n{}", exec(&format!("command: [cat, {MOUNTED_TOKEN}], expect: [{{path: $.stdout, equals: x}}]"))),
        )?;
        f.write(
            "exec-stderr-fails.yaml",
            &format!("description: a token on stderr, a wrong exit code\nsteps:\n{}", exec(&format!("command: [sh, -c, 'cat {MOUNTED_TOKEN} >&2; exit 3']"))),
        )?;
        f.write(
            "exec-eventually-fails.yaml",
            &format!(
                "description: a token on stdout, until the time runs out\nsteps:\n{}",
                exec(&format!("command: [cat, {MOUNTED_TOKEN}], eventually: true, timeout: 2s, expect: [{{path: $.stdout, equals: x}}]"))
            ),
        )?;
        f.write(
            "exec-saved-passes.yaml",
            &format!(
                "description: a token saved, in base64 and on stderr, observed\nrequires: {{nodes: 1}}\nobserve: 'b64 ${{b}} err ${{e}} out ${{o}}'\nsteps:\n{}{}{}  - jwt: {{token: t}}\n  - call: {{as: t, path: /api, status: 200}}\n",
                exec(&format!("command: [cat, {MOUNTED_TOKEN}], save: t, capture: {{o: $.stdout}}")),
                exec(&format!("command: [base64, -w, '0', {MOUNTED_TOKEN}], capture: {{b: $.stdout}}")),
                exec(&format!("command: [sh, -c, 'cat {MOUNTED_TOKEN} >&2'], capture: {{e: $.stderr}}")),
            ),
        )?;
        f.write(
            "logs-fails.yaml",
            &format!("description: a log holding a token, failing\nsteps:\n  - logs: {{namespace: {ns}, pod: printer, expect: [{{path: $.text, equals: x}}]}}\n"),
        )?;
        f.write(
            "logs-observed-passes.yaml",
            &format!("description: a log holding a token, observed\nobserve: 'log ${{l}}'\nsteps:\n  - logs: {{namespace: {ns}, pod: printer, capture: {{l: $.text}}}}\n"),
        )?;
        let (code, text) = f.run_writing_everything()?;
        assert_eq!(code, Some(1), "the failing scenarios fail, nothing else goes wrong:\n{text}");
        assert!(text.contains("2 passed, 4 failed"), "every scenario ran, on a context with a Ready node:\n{text}");
        // The tokens were there to leak from, and are shown as fingerprints.
        for shown in [
            "$.stdout: expected \"x\", observed \"<token sha256:",
            "exit 3: <token sha256:",
            "$.text: expected \"x\", observed \"<token sha256:",
            "observed: b64 <token sha256:",
            "observed: log <token sha256:",
        ] {
            assert!(text.contains(shown), "the run shows `{shown}`:\n{text}");
        }
        let written = f.written(&text);
        let secrets: Vec<(&str, String)> = tokens.iter().map(|(pod, token)| (token.as_str(), format!("pod {pod}'s token"))).collect();
        assert_kept_secret(&written, &secrets);
        Ok(())
    })
}

/// Stands in for kubectl (`KUBEPROOF_KUBECTL`): records, per invocation, its arguments, its
/// environment, the mode and owner of the kubeconfig it was given and of its directory, that
/// kubeconfig with its token cut out, and the token itself (so the test knows what must not
/// appear); then runs the real kubectl in its place.
const KUBECTL_PROBE: &str = r#"#!/bin/sh
n="$KUBECTL_PROBE_DIR/$$"
kc=""
for a in "$@"; do case "$a" in --kubeconfig=*) kc="${a#--kubeconfig=}";; esac; done
printf '%s\n' "$@" > "$n.args"
env > "$n.env"
case "$kc" in
  "$KUBECTL_PROBE_RUNTIME"/*)
    printf '%s\n' "$kc" > "$n.path"
    stat -c '%a %u' "$kc" > "$n.mode"
    stat -c '%a %u' "$(dirname "$kc")" > "$n.dirmode"
    sed 's/"token":"[^"]*"/"token":"CUT"/' "$kc" > "$n.kubeconfig"
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p' "$kc" > "$n.token"
    ;;
esac
exec "$KUBECTL_PROBE_REAL" "$@"
"#;

/// `kubectl` with `as: <token>`: the token reaches kubectl only through a kubeconfig of mode 0600
/// in a directory of mode 0700 under kubeproof's runtime directory, holding the cluster and the
/// token and nothing of the admin's; never kubectl's arguments or environment, never any output,
/// report or file kubeproof wrote (`kubectl config view --raw` printing it, `-v=8` printing the
/// request headers); and the file is gone after the step — a passing, a failing and a
/// timed-out one (a `kubectl proxy`, killed) — with nothing left in the runtime directory.
fn kubectl_as_token(installation: local::Installation) -> Result<(), Failed> {
    use std::os::unix::fs::PermissionsExt as _;
    rt().block_on(async {
        let f = Fixture::start(installation, "kubectl-as").await?;
        let (probe, runtime) = (f.dir.join("probe"), f.dir.join("runtime"));
        std::fs::create_dir_all(&probe).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&runtime).map_err(|e| e.to_string())?;
        let wrapper = f.dir.join("kubectl-probe.sh");
        std::fs::write(&wrapper, KUBECTL_PROBE).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o700)).map_err(|e| e.to_string())?;
        f.write(
            "kubectl-as-passes.yaml",
            "description: kubectl as a minted token, its request headers printed, its kubeconfig printed raw
steps:
  - token: {service-account: default, save: t}
  - kubectl: {as: t, args: [auth, can-i, list, pods], exit: 1, expect: [{path: $.stdout, equals: \"no\\n\"}]}
  - kubectl: {as: t, args: [get, --raw, /api, -v=8], expect: [{path: $.stderr, contains: 'Authorization: Bearer <masked>'}]}
  - kubectl:
      as: t
      args: [config, view, --raw, -o, 'jsonpath={.users[0].user.token}']
      expect: [{path: $.stdout, matches: '^<token sha256:[0-9a-f]{12}>$'}]
",
        )?;
        f.write(
            "kubectl-as-fails.yaml",
            "description: kubectl as a token printing its kubeconfig, failing on it
steps:
  - token: {service-account: default, save: t}
  - kubectl: {as: t, args: [config, view, --raw], expect: [{path: $.stdout, equals: x}]}
",
        )?;
        f.write(
            "kubectl-as-times-out.yaml",
            "description: kubectl as a token serving a proxy until its step times out
steps:
  - token: {service-account: default, save: t}
  - kubectl: {as: t, args: [proxy, --port=0], timeout: 2s}
",
        )?;
        let json = f.dir.join("report.json");
        let out = f
            .kubeproof(&["--verbose", "--json", &json.display().to_string()])
            .env("KUBEPROOF_KUBECTL", &wrapper)
            .env("KUBECTL_PROBE_REAL", f.local.installation().binary("kubectl"))
            .env("KUBECTL_PROBE_DIR", &probe)
            .env("KUBECTL_PROBE_RUNTIME", &runtime)
            .env("XDG_RUNTIME_DIR", &runtime)
            .output()
            .map_err(|e| e.to_string())?;
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(1), "two scenarios fail on purpose:\n{text}");
        assert!(text.contains("1 passed, 2 failed"), "every scenario ran:\n{text}");
        assert!(text.contains("timed out after 2s while running kubectl proxy --port=0"), "{text}");

        // What kubectl was given, invocation by invocation.
        let read = |path: PathBuf| std::fs::read_to_string(path).unwrap_or_default();
        let mut tokens = Vec::new();
        let mut seen = Vec::new();
        for path in walk(&probe).into_iter().filter(|p| p.extension().is_some_and(|e| e == "path")) {
            let base = |ext: &str| path.with_extension(ext);
            let (args, env) = (read(base("args")), read(base("env")));
            let kubeconfig = PathBuf::from(read(path.clone()).trim());
            let given = format!("--kubeconfig={}", kubeconfig.display());
            assert_eq!(args.lines().next(), Some(given.as_str()), "the step's own kubeconfig:\n{args}");
            assert!(!args.contains("--context") && !args.contains("--token"), "no context, no token flag:\n{args}");
            // SAFETY: geteuid has no preconditions.
            let uid = unsafe { libc::geteuid() };
            assert_eq!(read(base("mode")).trim(), format!("600 {uid}"), "{} is private", kubeconfig.display());
            assert_eq!(read(base("dirmode")).trim(), format!("700 {uid}"), "its directory is private");
            assert!(kubeconfig.starts_with(runtime.join("kubeproof")), "under the runtime directory: {}", kubeconfig.display());
            assert!(
                !kubeconfig.exists() && !kubeconfig.parent().is_some_and(Path::exists),
                "{} is gone after its step",
                kubeconfig.display()
            );
            let config: serde_json::Value = serde_json::from_str(&read(base("kubeconfig"))).map_err(|e| e.to_string())?;
            let users = config["users"].as_array().cloned().unwrap_or_default();
            assert_eq!(users.len(), 1, "one user: {config}");
            assert_eq!(users[0]["user"], serde_json::json!({"token": "CUT"}), "the token and nothing of the admin's: {config}");
            let cluster = &config["clusters"][0]["cluster"];
            assert!(cluster["server"].as_str().is_some_and(|s| s == f.local.server), "the context's server: {config}");
            assert!(
                cluster["certificate-authority-data"].is_string() && cluster["insecure-skip-tls-verify"].is_null(),
                "its CA, verified: {config}"
            );
            let token = read(base("token")).trim().to_string();
            assert!(token.len() > 100, "a token was in the file");
            tokens.push(token);
            seen.push((args, env));
        }
        assert_eq!(seen.len(), 5, "five kubectl steps ran as a token (one timed out)");
        let left: Vec<PathBuf> =
            std::fs::read_dir(runtime.join("kubeproof")).map_err(|e| e.to_string())?.flatten().map(|e| e.path()).collect();
        assert!(left.is_empty(), "nothing is left in the runtime directory: {left:?}");

        let mut written = vec![("stdout+stderr".to_string(), text.clone())];
        for (args, env) in seen {
            written.push(("kubectl's arguments".into(), args));
            written.push(("kubectl's environment".into(), env));
        }
        for file in walk(&f.dir) {
            if file.starts_with(f.dir.join("scenarios")) || file.starts_with(&probe) || file == wrapper {
                continue;
            }
            written.push((file.display().to_string(), String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned()));
        }
        assert!(written.iter().any(|(name, _)| name.ends_with("report.json")), "the report was written");
        let secrets: Vec<(&str, String)> = tokens.iter().map(|t| (t.as_str(), "a token kubectl ran as".to_string())).collect();
        assert_kept_secret(&written, &secrets);
        Ok(())
    })
}

/// Scenarios that fail on purpose on a local cluster, run in this process so that the report
/// can be read as data: `finally` steps run after a timeout (one passing, one whose variable
/// the failed steps never captured, one failing its assertion), after a failing step, and
/// fail a scenario whose steps passed; every failure carries diagnostics — the namespace's
/// events (a real FailedScheduling), the failing step's object, the last lines of the four
/// components' logs — with every token redacted: a JWT in an event and an object, a bearer
/// credential and a bootstrap token in kube-apiserver's log.
fn finally_and_diagnostics(installation: local::Installation) -> Result<(), Failed> {
    use kubeproof::exec::{self, ExecOptions, StepError};
    use kubeproof::report::{Phase, Verdict, text};
    use kubeproof::scenario::Scenario;

    rt().block_on(async {
        let f = Fixture::start(installation, "diagnostics").await?;
        let client = f.cluster.client.clone();
        let request: TokenRequest = serde_json::from_value(serde_json::json!({"spec": {"audiences": []}}))?;
        let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
        let minted = sas.create_token_request("default", &PostParams::default(), &request).await.map_err(|e| e.to_string())?;
        let minted = minted.status.and_then(|s| s.token).ok_or("no token minted")?;
        // What a kube-apiserver at high verbosity, or a bootstrap, writes into the log.
        let suffix = kubeproof::random::suffix(12);
        let bearer = format!("static0token1file2credential3{suffix}");
        let bootstrap = format!("{}.{}", &suffix[..6], "0123456789qrstuv");
        let logs = local::component_logs(&f.local.dir);
        let apiserver_log = &logs.iter().find(|(c, _)| *c == "kube-apiserver").ok_or("no kube-apiserver log")?.1;
        let mut log = std::fs::OpenOptions::new().append(true).open(apiserver_log).map_err(|e| e.to_string())?;
        use std::io::Write as _;
        writeln!(log, "I0101 00:00:00.000000 1 round_trippers.go:1] \"Request\" headers=\"Authorization: Bearer {bearer}\"")
            .and_then(|()| writeln!(log, "I0101 00:00:00.000001 1 bootstrap.go:1] kubeadm join --token {bootstrap}"))
            .map_err(|e| e.to_string())?;
        drop(log);

        let timeout = format!(
            "description: a timeout after a FailedScheduling event; then finally steps
steps:
  - apply:
      manifest:
        - {{apiVersion: v1, kind: ConfigMap, metadata: {{name: settings}}, data: {{mode: a, token: '{minted}'}}}}
        - {{apiVersion: v1, kind: Pod, metadata: {{name: unschedulable}}, spec: {{containers: [{{name: c, image: registry.k8s.io/pause:3.10}}]}}}}
        - apiVersion: v1
          kind: Event
          metadata: {{name: leaky}}
          involvedObject: {{kind: ConfigMap, name: settings, namespace: '${{namespace}}'}}
          reason: Leak
          type: Warning
          message: 'token {minted}'
  - wait: {{kind: Event, field-selector: reason=FailedScheduling, expect: [{{path: '$.items[0].involvedObject.name', equals: unschedulable}}]}}
  - wait: {{kind: ConfigMap, name: settings, timeout: 2s, expect: [{{path: $.data.mode, equals: b}}]}}
  - get: {{kind: ConfigMap, name: settings, capture: {{late: $.data.mode}}}}
finally:
  - get: {{kind: ConfigMap, name: settings, expect: [{{path: $.data.mode, equals: a}}]}}
  - get: {{kind: ConfigMap, name: 'other-${{late}}'}}
  - absent: {{kind: ConfigMap, name: settings}}
"
        );
        let mismatch = "description: a failing step, then finally steps that create and read a ConfigMap
steps:
  - get: {kind: ServiceAccount, name: default, expect: [{path: $.metadata.name, equals: someone-else}]}
finally:
  - apply: {manifest: {apiVersion: v1, kind: ConfigMap, metadata: {name: after}, data: {ran: 'yes'}}}
  - get: {kind: ConfigMap, name: after, expect: [{path: $.data.ran, equals: 'yes'}]}
";
        let finally_fails = "description: the steps pass, a finally step fails
steps:
  - service-account: fine
finally:
  - get: {kind: ServiceAccount, name: fine, expect: [{path: $.metadata.name, equals: not-fine}]}
";
        let line_of = |text: &str, marker: &str| text.lines().position(|l| l.contains(marker)).map(|i| i as u64 + 1);
        let opts = ExecOptions { default_timeout: Duration::from_secs(30), ..Default::default() };
        let mut reports = Vec::new();
        for (name, text) in [("timeout", timeout.as_str()), ("mismatch", mismatch), ("finally-fails", finally_fails)] {
            let path = f.write(&format!("{name}.yaml"), text)?;
            let scenario = Scenario::parse(&path, text).map_err(|d| format!("{d:?}"))?;
            let problems = kubeproof::scenario::lint::lint(&scenario);
            assert!(problems.is_empty(), "{name}: lint lets finally use what any step defines: {problems:?}");
            let started = Instant::now();
            let report = exec::execute(&f.cluster, &scenario, &opts).await;
            eprintln!("measured: {name} ran in {:.1?}", started.elapsed());
            reports.push((text.to_string(), report));
        }

        // A timeout: the first failure stays the scenario's; finally ran after it.
        let (text, r) = &reports[0];
        assert_eq!(r.verdict, Verdict::Failed);
        let first = r.failure.as_ref().ok_or("a failure")?;
        assert_eq!((first.phase, first.step), (Phase::Step, Some(2)), "{first:#?}");
        assert!(matches!(first.error, StepError::Timeout { .. }), "{:?}", first.error);
        let finally: Vec<_> = r.steps.iter().filter(|s| s.phase == Phase::Finally).collect();
        assert_eq!(finally.len(), 1, "the first finally step passed: {:#?}", r.steps);
        assert_eq!((finally[0].index, Some(finally[0].line)), (0, line_of(text, "equals: a}]}")));
        let later: Vec<_> = r.later_failures.iter().map(|f| (f.phase, f.step, f.position.line)).collect();
        assert_eq!(
            later,
            vec![(Phase::Finally, Some(1), line_of(text, "other-")), (Phase::Finally, Some(2), line_of(text, "absent:"))],
            "{:#?}",
            r.later_failures
        );
        assert!(
            matches!(&r.later_failures[0].error, StepError::Undefined { message } if message.contains("late")),
            "a variable the failed steps never captured is reported: {:?}",
            r.later_failures[0].error
        );
        // The first failure's diagnostics: the scheduler's event, the object, every component's log.
        let d = first.diagnostics.as_ref().ok_or("diagnostics")?;
        let events = d.events.as_ref().ok_or_else(|| format!("events were read: {:?}", d.problems))?;
        assert!(events.iter().any(|e| e.reason == "FailedScheduling" && e.object == "Pod/unschedulable"), "{events:#?}");
        let settings = d.objects.first().ok_or("the step's object")?;
        assert!(settings.object.starts_with("ConfigMap settings in kp-"), "{settings:?}");
        assert_eq!(settings.document.as_ref().and_then(|doc| doc.pointer("/data/mode").cloned()), Some(serde_json::json!("a")));
        let components: Vec<&str> = d.logs.iter().map(|l| l.component.as_str()).collect();
        assert_eq!(components, local::COMPONENTS, "{d:#?}");
        assert!(d.logs.iter().all(|l| !l.lines.is_empty()), "every component logged: {d:#?}");
        let apiserver = d.logs.iter().find(|l| l.component == "kube-apiserver").ok_or("kube-apiserver's log")?;
        assert!(apiserver.lines.iter().any(|l| l.contains("Authorization: Bearer <token sha256:")), "{apiserver:#?}");
        assert!(apiserver.lines.iter().any(|l| l.contains(&format!("--token {}.<token sha256:", &suffix[..6]))), "{apiserver:#?}");
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        // A later failure: its own object, the logs not repeated.
        let absent = r.later_failures[1].diagnostics.as_ref().ok_or("diagnostics of a finally failure")?;
        assert!(absent.objects.first().is_some_and(|o| o.object.starts_with("ConfigMap settings")), "{absent:#?}");
        assert!(absent.logs.is_empty(), "logs come with the first failure only");

        // A failing step: finally ran, created and read a ConfigMap.
        let (_, r) = &reports[1];
        assert_eq!(r.failure.as_ref().map(|f| (f.phase, f.step)), Some((Phase::Step, Some(0))));
        let ran: Vec<(Phase, usize, &str)> = r.steps.iter().map(|s| (s.phase, s.index, s.keyword.as_str())).collect();
        assert_eq!(ran, vec![(Phase::Finally, 0, "apply"), (Phase::Finally, 1, "get")], "{:#?}", r.steps);
        assert!(r.later_failures.is_empty());
        let d = r.failure.as_ref().and_then(|f| f.diagnostics.as_ref()).ok_or("diagnostics")?;
        assert!(d.objects.first().is_some_and(|o| o.object.starts_with("ServiceAccount default in kp-") && o.document.is_some()), "{d:#?}");

        // The steps passed, a finally step failed: that is the scenario's failure.
        let (text, r) = &reports[2];
        assert_eq!(r.verdict, Verdict::Failed);
        let f2 = r.failure.as_ref().ok_or("a failure")?;
        assert_eq!((f2.phase, f2.step, f2.position.line), (Phase::Finally, Some(0), line_of(text, "not-fine")));
        assert!(text::details(r).contains("finally step 1 `get` at"), "{}", text::details(r));
        assert!(f2.diagnostics.as_ref().is_some_and(|d| d.logs.len() == 4), "the first failure has the logs");

        // No token in any form, wherever the reports go.
        for (_, r) in &reports {
            let shown = [
                text::details(r),
                serde_json::to_string(r).map_err(|e| e.to_string())?,
                kubeproof::report::junit::document(std::slice::from_ref(r), None),
            ];
            for secret in [minted.as_str(), bearer.as_str(), &bootstrap[7..]] {
                for form in forms(secret) {
                    for out in &shown {
                        assert!(!out.contains(&form), "a token appears in {}'s report as `{}…`", r.scenario, &form[..12.min(form.len())]);
                    }
                }
            }
            assert!(shown.iter().all(|out| !kubeproof::redact::contains_jwt(out)));
        }
        assert!(text::details(&reports[0].1).contains("Warning Leak ConfigMap/settings: token <token sha256:"));
        let left = f.labelled_leftovers().await;
        assert!(left.is_empty(), "left {left:?}");
        Ok(())
    })
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// SIGTERM, SIGHUP and Ctrl-C (SIGINT) to a running kubeproof: it deletes the namespace, the
/// ClusterRole and the ClusterRoleBinding its scenario created, and exits 128 + the signal.
fn signals_clean_up(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let f = Fixture::start(installation, "signals").await?;
        f.write("slow.yaml", SLOW)?;
        for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129), (libc::SIGINT, 130)] {
            let before = f.labelled_cluster_roles().await;
            let mut child = f.kubeproof(&[]).spawn().map_err(|e| e.to_string())?;
            f.wait_for_objects(&mut child, before).await?;
            signal(&child, sig);
            let (out, took) = finish(child, Duration::from_secs(20))?;
            let text = all_output(&out);
            assert_eq!(out.status.code(), Some(code), "signal {sig}:\n{text}");
            assert!(text.contains("everything the scenarios created was deleted"), "signal {sig}:\n{text}");
            assert!(took < Duration::from_secs(15), "signal {sig}: cleanup took {took:?}");
            let left = f.labelled_leftovers().await;
            assert!(left.is_empty(), "signal {sig} left {left:?}");
            eprintln!("measured: signal {sig} → exit {code} in {took:.1?}, objects left: {}", left.len());
        }
        Ok(())
    })
}

/// SIGTERM while a scenario's own cluster is being upgraded (1.23.17 → 1.24.0, both installed by
/// `make install`), caught when the new kube-apiserver has started and the controllers are still
/// the old ones: exit 143, and no process kubeproof started and no cluster directory is left.
fn sigterm_during_upgrade() -> Result<libtest_mimic::Completion, Failed> {
    let (from, to) = (kubeproof::version::KubeVersion::new(1, 23, 17), kubeproof::version::KubeVersion::new(1, 24, 0));
    if !local::install::is_installed(from) || !local::install::is_installed(to) {
        return Ok(libtest_mimic::Completion::ignored_with("needs 1.23.17 and 1.24.0 installed (`make install` installs both)"));
    }
    let new_apiserver = local::install(to, &Default::default())?.binary("kube-apiserver");
    let dir = std::env::temp_dir().join(format!("kubeproof-faults-upgrade-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let scenario = "description: an upgrade cut short\nversions: '<1.24'\nsteps:\n  - service-account: before\n  - upgrade: {to: 1.24.0}\n  - absent: {kind: ConfigMap, name: never, for: 60s}\n";
    std::fs::write(dir.join("up.yaml"), scenario).map_err(|e| e.to_string())?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubeproof"))
        .args(["run", &dir.display().to_string(), "--local", "1.23.17"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(180);
    let upgrading = loop {
        if let Some(pid) = child_running(child.id(), &new_apiserver, "") {
            break pid;
        }
        if Instant::now() > deadline || child.try_wait().map_err(|e| e.to_string())?.is_some() {
            let _ = child.kill();
            let (out, _) = finish(child, Duration::from_secs(20))?;
            return Err(format!("no 1.24.0 kube-apiserver was seen starting:\n{}", all_output(&out)).into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let started = children_of(child.id());
    // Its own cluster, by the owner in the state (other runs may start and stop clusters meanwhile).
    let own: Vec<PathBuf> = clusters_owned_by(child.id()).into_iter().map(|(dir, _)| dir).collect();
    signal(&child, libc::SIGTERM);
    let (out, took) = finish(child, Duration::from_secs(30))?;
    let text = all_output(&out);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(143), "{text}");
    assert!(started.contains(&upgrading), "the new kube-apiserver was kubeproof's child");
    let alive: Vec<i32> = started.into_iter().filter(|pid| Path::new(&format!("/proc/{pid}")).exists()).collect();
    assert!(alive.is_empty(), "processes kubeproof started outlive it: {alive:?}\n{text}");
    assert!(!own.is_empty(), "the upgrading cluster's directory names kubeproof as its owner");
    let left: Vec<&PathBuf> = own.iter().filter(|d| d.exists() || d.with_extension("lock").exists()).collect();
    assert!(left.is_empty(), "the scenario's own cluster directory is removed: {left:?}\n{text}");
    eprintln!("measured: SIGTERM during an upgrade → exit 143 in {took:.1?}, nothing left");
    Ok(libtest_mimic::Completion::Completed)
}

/// The pids whose parent is `parent`.
fn children_of(parent: u32) -> Vec<i32> {
    let pids = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    pids.filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok()).filter(|pid| parent_of(*pid) == Some(parent)).collect()
}

/// A process's parent, from /proc/PID/stat (the field after the command, which may hold spaces).
fn parent_of(pid: i32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()))
}

/// A hung API server (kube-apiserver stopped with SIGSTOP) cannot hold kubeproof: after
/// SIGTERM its cleanup gives up within its budget and names what it left; a second signal
/// skips the cleanup at once.
fn hung_api_server(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let f = Fixture::start(installation, "hung").await?;
        f.write("slow.yaml", SLOW)?;
        for second in [false, true] {
            let before = f.labelled_cluster_roles().await;
            let mut child = f.kubeproof(&[]).spawn().map_err(|e| e.to_string())?;
            f.wait_for_objects(&mut child, before).await?;
            let apiserver = f.apiserver_pid().ok_or("no kube-apiserver process")?;
            // SAFETY: plain kill(2) to our own cluster's API server.
            unsafe { libc::kill(apiserver, libc::SIGSTOP) };
            signal(&child, libc::SIGTERM);
            if second {
                std::thread::sleep(Duration::from_millis(300));
                signal(&child, libc::SIGTERM);
            }
            let result = finish(child, Duration::from_secs(30));
            unsafe { libc::kill(apiserver, libc::SIGCONT) };
            let (out, took) = result?;
            let text = all_output(&out);
            assert_eq!(out.status.code(), Some(143), "{text}");
            assert!(text.contains("delete these by hand"), "what was left is named:\n{text}");
            assert!(text.contains("ClusterRoleBinding/kp-fault-"), "names, so the user can delete them:\n{text}");
            let bound = if second { Duration::from_secs(3) } else { Duration::from_secs(15) };
            assert!(took < bound, "second signal {second}: exit took {took:?}");
            eprintln!("measured: hung API server, second signal {second} → exit in {took:.1?}, leftovers named");
        }
        Ok(())
    })
}

/// etcd dies mid-run on a `--local` cluster: kubeproof stops starting scenarios, says once
/// that etcd died (with its log), and exits 3 within seconds.
fn etcd_killed(installation: local::Installation) -> Result<(), Failed> {
    let dir = std::env::temp_dir().join(format!("kubeproof-faults-etcd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for i in 0..6 {
        std::fs::write(dir.join(format!("slow-{i}.yaml")), SLOW).map_err(|e| e.to_string())?;
    }
    // Kill etcd once the scenarios are going: the run has started (its first line) and a moment passed.
    let (mut child, started_rx, reader) = run_watching(
        &["run", &dir.display().to_string(), "--jobs", "2", "--local", &installation.version.to_string()],
        "running 6 scenario(s)",
    )?;
    if started_rx.recv_timeout(Duration::from_secs(120)).is_err() {
        let _ = child.kill();
        return Err("the run did not start within 120s".into());
    }
    std::thread::sleep(Duration::from_secs(3));
    // Looked up right before the kill: pids wrap fast on a busy machine (pid_max is often 32768).
    let Some(etcd) = child_running(child.id(), &installation.etcd, "") else {
        let _ = child.kill();
        return Err("no etcd runs under kubeproof".into());
    };
    unsafe { libc::kill(etcd, libc::SIGKILL) };
    let (out, took) = finish(child, Duration::from_secs(40))?;
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), reader.join().unwrap_or_default());
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert_eq!(text.matches("the cluster died").count(), 1, "one clear error:\n{text}");
    assert!(text.contains("etcd exited"), "the error names etcd:\n{text}");
    assert!(took < Duration::from_secs(10), "exit took {took:?} after etcd died:\n{text}");
    eprintln!("measured: etcd killed → exit 3 in {took:.1?}");
    Ok(())
}

/// kubeproof with `args`, its standard error read as it comes: the receiver hears once a line
/// holds `needle`; the thread returns all of it.
fn run_watching(
    args: &[&str],
    needle: &'static str,
) -> Result<(Child, std::sync::mpsc::Receiver<()>, std::thread::JoinHandle<String>), Failed> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubeproof"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(needle) {
                let _ = seen_tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    Ok((child, seen_rx, reader))
}

/// A scenario's second cluster dies mid-run: exit 3 within seconds, the error naming that
/// cluster, and no process of either cluster left.
fn second_cluster_killed(installation: local::Installation) -> Result<(), Failed> {
    let dir = std::env::temp_dir().join(format!("kubeproof-faults-second-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // `--v=3` tells b's kube-apiserver from main's.
    let scenario = "description: waits on its second cluster\nclusters:\n  b: {requires: {apiserver-args: [--v=3]}}\nsteps:\n  - service-account: {name: waiter, cluster: b}\n  - absent: {kind: ConfigMap, name: never, for: 60s, cluster: b}\n";
    std::fs::write(dir.join("two.yaml"), scenario).map_err(|e| e.to_string())?;
    // Killed once the scenario waits on b: its still-running line for the `absent` step.
    let (mut child, waiting_rx, reader) =
        run_watching(&["run", &dir.display().to_string(), "--local", &installation.version.to_string()], "step 2 `absent`")?;
    if waiting_rx.recv_timeout(Duration::from_secs(180)).is_err() {
        let _ = child.kill();
        let (out, _) = finish(child, Duration::from_secs(20))?;
        return Err(format!("the scenario never waited on b:\n{}{}", all_output(&out), reader.join().unwrap_or_default()).into());
    }
    let Some(b) = child_running(child.id(), &installation.binary("kube-apiserver"), "--v=3") else {
        let _ = child.kill();
        return Err("no kube-apiserver of cluster b runs under kubeproof".into());
    };
    let started = children_of(child.id());
    unsafe { libc::kill(b, libc::SIGKILL) };
    let (out, took) = finish(child, Duration::from_secs(40))?;
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!("{}{}", all_output(&out), reader.join().unwrap_or_default());
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("(b)") && text.contains("kube-apiserver exited"), "the error names cluster b and what died:\n{text}");
    let alive: Vec<i32> = started.into_iter().filter(|pid| Path::new(&format!("/proc/{pid}")).exists()).collect();
    assert!(alive.is_empty(), "processes kubeproof started outlive it: {alive:?}\n{text}");
    eprintln!("measured: a scenario's second cluster killed → exit 3 in {took:.1?}");
    Ok(())
}

/// A process whose parent is `parent`, whose executable is `binary`, and whose command line
/// holds `arg` (trials run in parallel: several clusters are children of this process).
fn child_running(parent: u32, binary: &Path, arg: &str) -> Option<i32> {
    children_of(parent).into_iter().find(|pid| {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let has_arg = cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes()) || arg.is_empty();
        has_arg && std::fs::read_link(format!("/proc/{pid}/exe")).ok().as_deref() == Some(binary)
    })
}

/// The API server behind a context dies mid-run: one error, exit 3, within seconds, and the
/// objects it could not delete are named.
fn context_api_server_killed(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let f = Fixture::start(installation.clone(), "context").await?;
        for i in 0..4 {
            f.write(&format!("slow-{i}.yaml"), SLOW)?;
        }
        let mut child = f.kubeproof(&["--jobs", "2"]).spawn().map_err(|e| e.to_string())?;
        f.wait_for_objects(&mut child, 0).await?;
        let apiserver = f.apiserver_pid().ok_or("no kube-apiserver process")?;
        unsafe { libc::kill(apiserver, libc::SIGKILL) };
        let (out, took) = finish(child, Duration::from_secs(40))?;
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(3), "{text}");
        assert_eq!(text.matches("the cluster died").count(), 1, "one clear error:\n{text}");
        assert!(text.contains("stopped answering"), "{text}");
        assert!(text.contains("left Namespace/kp-"), "what is left is named:\n{text}");
        assert!(took < Duration::from_secs(15), "exit took {took:?}:\n{text}");
        eprintln!("measured: context's kube-apiserver killed → exit 3 in {took:.1?}");
        Ok(())
    })
}

/// Exit codes as docs/cli.md gives them, on paths that used to disagree.
fn exit_codes(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let f = Fixture::start(installation, "codes").await?;
        f.write("quick.yaml", "description: passes\nsteps:\n  - service-account: quick\n")?;
        let run = |extra: &[&str]| f.kubeproof(extra).output().map_err(|e| Failed::from(e.to_string()));

        let out = run(&[])?;
        assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));

        let out = run(&["--json", "/nonexistent-dir/report.json"])?;
        assert_eq!(out.status.code(), Some(2), "a report that cannot be written:\n{}", all_output(&out));
        assert!(all_output(&out).contains("does not exist"), "{}", all_output(&out));

        // Writable when checked, not when written: a link to a directory that does not exist.
        let dangling = f.dir.join("dangling.json");
        std::os::unix::fs::symlink("/nonexistent-dir/report.json", &dangling).map_err(|e| e.to_string())?;
        let out = run(&["--json", &dangling.display().to_string()])?;
        assert_eq!(out.status.code(), Some(4), "a report that could not be written after the run:\n{}", all_output(&out));
        assert!(all_output(&out).contains("1 passed"), "the run's results are still shown:\n{}", all_output(&out));

        let out = run(&["--filter", "no-such-scenario"])?;
        assert_eq!(out.status.code(), Some(2), "a filter that selects nothing:\n{}", all_output(&out));

        let out = Command::new(env!("CARGO_BIN_EXE_kubeproof"))
            .args(["run", &f.dir.join("scenarios").display().to_string(), "--local", "1.x"])
            .output()
            .map_err(|e| e.to_string())?;
        assert_eq!(out.status.code(), Some(2), "a malformed --local version:\n{}", all_output(&out));
        // A downgrade: bad input before anything runs, located at the step, saying why.
        let down = f.dir.join("down");
        std::fs::create_dir_all(&down).map_err(|e| e.to_string())?;
        std::fs::write(down.join("down.yaml"), "description: d\nsteps:\n  - service-account: x\n  - upgrade: {to: 1.22.0}\n")
            .map_err(|e| e.to_string())?;
        let out = Command::new(env!("CARGO_BIN_EXE_kubeproof"))
            .args(["run", &down.display().to_string(), "--local", &f.local.version().to_string()])
            .output()
            .map_err(|e| e.to_string())?;
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(2), "an upgrade to an older release:\n{text}");
        assert!(text.contains("down.yaml:4:5: cannot upgrade from") && text.contains("supports no downgrade"), "{text}");
        assert!(text.contains("nothing was run"), "{text}");
        let out = Command::new(env!("CARGO_BIN_EXE_kubeproof"))
            .args(["matrix", "--versions", "1.37.2", "--releases-at-once", "0"])
            .output()
            .map_err(|e| e.to_string())?;
        assert_eq!(out.status.code(), Some(2), "no release at once:\n{}", all_output(&out));
        assert!(all_output(&out).contains("--releases-at-once") && all_output(&out).contains("1..="), "{}", all_output(&out));

        // A kubeconfig whose CA is not the cluster's: the certificate check fails, and says so.
        let other_ca = local::pki::Pki::generate()?;
        let text = std::fs::read_to_string(&f.local.kubeconfig).map_err(|e| e.to_string())?;
        let ours = text.lines().find_map(|l| l.trim().strip_prefix("certificate-authority-data: ")).ok_or("no CA in the kubeconfig")?;
        let wrong = text.replace(ours, &STANDARD.encode(&other_ca.ca_cert));
        let wrong_path = f.dir.join("wrong-ca.kubeconfig");
        std::fs::write(&wrong_path, wrong).map_err(|e| e.to_string())?;
        let out = Command::new(env!("CARGO_BIN_EXE_kubeproof"))
            .args(["run", &f.dir.join("scenarios").display().to_string(), "--context", &f.context(), "--kubeconfig"])
            .arg(&wrong_path)
            .output()
            .map_err(|e| e.to_string())?;
        let said = all_output(&out);
        assert_eq!(out.status.code(), Some(3), "{said}");
        assert!(said.contains("TLS verification failed"), "the certificate problem is named:\n{said}");
        Ok(())
    })
}

/// Separate runs (one CI job each) write `--json` reports; `matrix --from` assembles their table
/// without a cluster, and refuses a report of a run that stopped early.
fn matrix_from_reports(installation: local::Installation) -> Result<(), Failed> {
    rt().block_on(async {
        let f = Fixture::start(installation, "merge").await?;
        f.write("one.yaml", "description: first\nobserve: one\nsteps:\n  - service-account: one\n")?;
        f.write("two.yaml", "description: second\nobserve: two\nsteps:\n  - service-account: two\n")?;
        let mut reports = Vec::new();
        for name in ["one", "two"] {
            let path = f.dir.join(format!("{name}.json"));
            let out = f.kubeproof(&["--filter", name, "--json", &path.display().to_string()]).output().map_err(|e| e.to_string())?;
            assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
            reports.push(path.display().to_string());
        }
        let markdown = f.dir.join("matrix.md");
        let out = Command::new(env!("CARGO_BIN_EXE_kubeproof"))
            .args(["matrix", "--from", &reports.join(","), "--scenarios", &f.dir.join("scenarios").display().to_string()])
            .args(["--markdown", &markdown.display().to_string()])
            .output()
            .map_err(|e| e.to_string())?;
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(0), "{text}");
        let table = std::fs::read_to_string(&markdown).map_err(|e| e.to_string())?;
        for row in ["| `one` | ✓ one |", "| `two` | ✓ two |"] {
            assert!(table.contains(row), "{row} missing from\n{table}");
        }
        assert!(table.contains(&format!("| `{}` |", f.cluster.git_version)), "one column, the release the runs used:\n{table}");

        let stopped = f.dir.join("stopped.json");
        std::fs::write(
            &stopped,
            r#"{"format": "kubeproof-report", "version": 1, "reports": [], "stopped": {"cluster-died": "v1.37.2: etcd exited"}}"#,
        )
        .map_err(|e| e.to_string())?;
        let out = Command::new(env!("CARGO_BIN_EXE_kubeproof"))
            .args(["matrix", "--from", &stopped.display().to_string(), "--scenarios", &f.dir.join("scenarios").display().to_string()])
            .output()
            .map_err(|e| e.to_string())?;
        assert_eq!(out.status.code(), Some(3), "a run that stopped on a dead cluster: {}", all_output(&out));
        assert!(all_output(&out).contains("stopped early"), "{}", all_output(&out));
        Ok(())
    })
}

/// A scenario that needs a node and blocks once its pod runs.
const NODE_BLOCKS: &str = r#"description: Blocks with a pod running on the node (tests/faults.rs).
requires: {nodes: 1}
steps:
  - apply:
      manifest:
        apiVersion: v1
        kind: Pod
        metadata: {name: sleeper}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - {name: c, image: "kubeproof.local/tools:latest", imagePullPolicy: Never, command: [sleep, "3600"]}
  - wait: {kind: Pod, name: sleeper, timeout: 60s, expect: [{path: $.status.phase, equals: Running}]}
  - wait: {kind: Pod, name: sleeper, timeout: 10m, expect: [{path: $.status.phase, equals: Succeeded}]}
"#;

/// `run --local` with a node is killed outright (SIGKILL) while a pod runs: the node's daemons
/// die by their parent-death signal, and the janitor started with the node removes the rest —
/// shims and containers, mounts, the network namespace and its veth, the cgroups, the directory.
fn sigkill_with_node(installation: local::Installation) -> Result<(), Failed> {
    let dir = std::env::temp_dir().join(format!("kubeproof-faults-node-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("blocks.yaml"), NODE_BLOCKS).map_err(|e| e.to_string())?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubeproof"))
        .args(["run", "--local", &installation.version.to_string()])
        .arg(dir.join("blocks.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    // The cluster with the node this run owns, once its pod's `sleep 3600` runs in its cgroup.
    let deadline = Instant::now() + Duration::from_secs(180);
    let (name, cluster_dir, netns) = loop {
        if let Some(found) = running_pod_of(child.id()) {
            break found;
        }
        if Instant::now() > deadline || child.try_wait().map_err(|e| e.to_string())?.is_some() {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&dir);
            return Err("the run's pod did not start on its node within 180s".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    nothing_left_within(&name, &cluster_dir, &netns, Duration::from_secs(30))?;
    eprintln!("measured: SIGKILL of run --local with a running pod → nothing of its node left");
    Ok(())
}

/// `(cluster name, directory, network namespace)` of the cluster with a node that `owner`
/// started, once a container of its runs `sleep 3600`.
fn running_pod_of(owner: u32) -> Option<(String, PathBuf, String)> {
    for (dir, state) in clusters_owned_by(owner) {
        let Some(node) = state.node else { continue };
        let cgroup = format!("/kubeproof/{}/kubepods", state.name);
        let runs = std::fs::read_dir("/proc").ok()?.flatten().any(|p| {
            let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            cmdline == b"sleep\x003600\x00" && std::fs::read_to_string(p.path().join("cgroup")).unwrap_or_default().contains(&cgroup)
        });
        if runs {
            return Some((state.name, dir, node.netns()));
        }
    }
    None
}

/// The directories and states of the local clusters that process `owner` started.
fn clusters_owned_by(owner: u32) -> Vec<(PathBuf, local::ClusterState)> {
    let entries = std::fs::read_dir(local::cache_root().join("clusters")).into_iter().flatten().flatten();
    entries
        .filter_map(|e| {
            let state = serde_json::from_slice::<local::ClusterState>(&std::fs::read(e.path().join("state.json")).ok()?).ok()?;
            (state.owner == owner).then(|| (e.path(), state))
        })
        .collect()
}

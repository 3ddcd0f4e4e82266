//! The executor's error paths, without a cluster: an in-process HTTPS stub on 127.0.0.1 (a test
//! double, never a cluster: it answers only the few requests these scenarios make) serves 401,
//! 403, 404, 409, 422, 500, Status bodies, malformed JSON, a slow answer and a dropped
//! connection, and each test asserts what the executor reports: the `StepError` kind and fields,
//! the failure's phase and position, and that tokens are redacted. The stub's certificate is
//! signed by a CA made here, and the executor's clients trust that CA only, as on a real cluster.
//! What the executor shows about Kubernetes behaviour is checked against real binaries only (in
//! tests/scenarios.rs, tests/faults.rs and tests/control_plane.rs).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kubeproof::cluster::Cluster;
use kubeproof::exec::{self, ExecOptions, StepError};
use kubeproof::report::{Phase, Position, ScenarioReport, Verdict};
use kubeproof::scenario::Scenario;
use kubeproof::scenario::assertion::Mismatch;
use serde_json::{Value, json};

/// A request as the stub read it.
#[derive(Clone, Debug)]
struct Request {
    method: String,
    /// With the query.
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or_default()
    }
}

/// What the stub does with a request.
#[derive(Clone, Debug)]
enum Reply {
    /// A status and a body, sent as `application/json` whatever it holds.
    Json(u16, String),
    /// The same, after a pause.
    Slow(Duration, u16, String),
    /// Closes the connection without answering.
    Drop,
}

/// A Kubernetes `Status` body, as the API server sends with its errors.
fn status(code: u16, reason: &str, message: &str) -> Reply {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code});
    Reply::Json(code, body.to_string())
}

type Handler = Arc<dyn Fn(&Request) -> Option<Reply> + Send + Sync>;

/// An HTTPS server on 127.0.0.1 that answers what the executor asks around every scenario
/// (`/version`, the namespace, its `default` ServiceAccount, discovery of ConfigMaps) and hands
/// every other request — and any of those, first — to the test's handler.
struct Stub {
    port: u16,
    ca_der: Vec<u8>,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl Stub {
    fn start(handler: impl Fn(&Request) -> Option<Reply> + Send + Sync + 'static) -> Stub {
        kubeproof::cluster::ensure_crypto_provider();
        let (ca_der, cert_der, key_der) = certificates();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![rustls::pki_types::CertificateDer::from(cert_der)],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.into()),
            )
            .expect("the stub's TLS configuration");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let port = listener.local_addr().expect("the stub's address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Handler = Arc::new(handler);
        {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (config, handler, requests) = (config.clone(), handler.clone(), requests.clone());
                    std::thread::spawn(move || serve(conn, config, &handler, &requests));
                }
            });
        }
        Stub { port, ca_der, requests, stop }
    }

    /// A connection to the stub, trusting its CA.
    async fn cluster(&self) -> Cluster {
        let url = format!("https://127.0.0.1:{}", self.port).parse().expect("the stub's URL");
        let mut config = kube::Config::new(url);
        config.root_cert = Some(vec![self.ca_der.clone()]);
        Cluster::for_tests("stub", config).await.expect("a connection to the stub")
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A CA, and a serving certificate for 127.0.0.1 and localhost signed by it: (CA, cert, key) as DER.
fn certificates() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "kubeproof executor-test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("the CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("a serving key");
    let mut serving = CertificateParams::new(vec!["localhost".to_string()]).expect("serving parameters");
    serving.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
    let cert = serving.signed_by(&key, &issuer).expect("the serving certificate");
    (ca_cert.der().to_vec(), cert.der().to_vec(), key.serialize_der())
}

/// Answers one connection: one request, then `Connection: close`.
fn serve(conn: TcpStream, config: Arc<rustls::ServerConfig>, handler: &Handler, requests: &Mutex<Vec<Request>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(tls) = rustls::ServerConnection::new(config) else { return };
    let mut stream = BufReader::new(rustls::StreamOwned::new(tls, conn));
    let Some(request) = read_request(&mut stream) else { return };
    if let Ok(mut all) = requests.lock() {
        all.push(request.clone());
    }
    let reply = handler(&request).unwrap_or_else(|| base(&request));
    let (code, body) = match reply {
        Reply::Json(code, body) => (code, body),
        Reply::Slow(pause, code, body) => {
            std::thread::sleep(pause);
            (code, body)
        }
        Reply::Drop => {
            let _ = stream.get_ref().sock.shutdown(std::net::Shutdown::Both);
            return;
        }
    };
    let head =
        format!("HTTP/1.1 {code} Stub\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let stream = stream.get_mut();
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    stream.conn.send_close_notify();
    let _ = stream.flush();
}

fn read_request(stream: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    stream.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let (method, path) = (words.next()?.to_string(), words.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let length =
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse::<usize>().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).ok()?;
    Some(Request { method, path, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

/// What every scenario needs answered; anything else is a 404 Status.
fn base(r: &Request) -> Reply {
    let path = r.path_only();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let ok = |v: Value| Reply::Json(200, v.to_string());
    match (r.method.as_str(), segments.as_slice()) {
        ("GET", ["version"]) => ok(json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0", "gitCommit": "stub",
            "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc",
            "platform": "linux/amd64"})),
        ("POST", ["api", "v1", "namespaces"]) => {
            let mut ns: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
            ns["apiVersion"] = json!("v1");
            ns["kind"] = json!("Namespace");
            ns["metadata"]["uid"] = json!("0b7e6f0e-0000-4000-8000-000000000001");
            Reply::Json(201, ns.to_string())
        }
        ("GET", ["api", "v1", "namespaces", ns, "serviceaccounts"]) => ok(json!({"apiVersion": "v1",
            "kind": "ServiceAccountList", "metadata": {"resourceVersion": "7"},
            "items": [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}}]})),
        ("DELETE", ["api", "v1", "namespaces", ns]) => ok(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns}, "status": {"phase": "Terminating"}})),
        ("GET", ["api"]) => ok(json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})),
        ("GET", ["apis"]) => ok(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})),
        ("GET", ["api", "v1"]) => ok(json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            {"name": "configmaps", "singularName": "configmap", "namespaced": true, "kind": "ConfigMap",
             "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}]})),
        _ => status(404, "NotFound", &format!("the stub does not serve {} {path}", r.method)),
    }
}

/// A scenario from YAML text; its steps start on line 3.
fn scenario(steps: &str) -> Scenario {
    let text = format!("description: an executor error path, against a stub\nsteps:\n{steps}");
    Scenario::parse(Path::new("stub.yaml"), &text).unwrap_or_else(|found| panic!("the test's scenario does not load: {found:?}"))
}

async fn run(stub: &Stub, steps: &str) -> ScenarioReport {
    let cluster = stub.cluster().await;
    let opts = ExecOptions { default_timeout: Duration::from_secs(10), ..Default::default() };
    exec::execute(&cluster, &scenario(steps), &opts).await
}

/// The failure of a scenario that must have failed in a step: (step index, position, error).
fn step_failure(report: &ScenarioReport) -> (usize, Position, StepError) {
    assert_eq!(report.verdict, Verdict::Failed, "{report:#?}");
    let failure = report.failure.clone().expect("a failed scenario has a failure");
    assert_eq!(failure.phase, Phase::Step, "{failure:#?}");
    (failure.step.expect("a step's failure names the step"), failure.position, failure.error)
}

fn at(line: u64, column: u64) -> Position {
    Position { file: "stub.yaml".into(), line: Some(line), column: Some(column) }
}

fn mismatch(path: &str, expected: &str, observed: &str) -> Mismatch {
    Mismatch::new(path, expected, observed)
}

/// The namespace the executor created, from its report.
fn namespace(report: &ScenarioReport) -> String {
    report.namespace.clone().expect("the report names the scenario's namespace")
}

/// A scenario requiring component flags, on a cluster whose flags cannot be seen (as a context's):
/// not applicable, with the flags by component, and nothing sent but `/version`.
#[tokio::test]
async fn required_flags_of_either_component_make_a_context_not_applicable() {
    let stub = Stub::start(|_| None);
    let cluster = stub.cluster().await;
    let opts = ExecOptions::default();
    for (requires, needs) in [
        (
            "controller-manager-args: [--service-account-private-key-file=]",
            "needs kube-controller-manager --service-account-private-key-file=;",
        ),
        ("apiserver-args: [--a=1]\n  controller-manager-args: [--b=2]", "needs kube-apiserver --a=1; kube-controller-manager --b=2;"),
    ] {
        let text = format!("description: flags\nrequires:\n  {requires}\nsteps:\n  - service-account: sa\n");
        let scenario = Scenario::parse(Path::new("stub.yaml"), &text).expect("the scenario loads");
        let report = exec::execute(&cluster, &scenario, &opts).await;
        assert_eq!(report.verdict, Verdict::NotApplicable, "{report:#?}");
        let reason = report.reason.unwrap_or_default();
        assert!(
            reason.starts_with(needs) && reason.ends_with("kubeproof cannot see the flags of context stub (run it with --local)"),
            "{reason}"
        );
    }
    assert!(
        stub.requests().iter().all(|r| r.path == "/version"),
        "nothing but /version was asked: {:?}",
        stub.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

/// A scenario on several clusters, run with its own cluster only: not applicable, and for the
/// first reason there is — a release it is not for says so, rather than the clusters it lacks.
#[tokio::test]
async fn a_scenario_on_several_clusters_says_first_whether_the_release_is_its() {
    let stub = Stub::start(|_| None);
    let cluster = stub.cluster().await;
    for (versions, why) in [
        (">=1.34", "applies to >=1.34; the cluster runs 1.33.0"),
        (">=1.29", "runs on clusters b beside its own: map each to a context (--context b=CONTEXT), or run it with --local"),
    ] {
        let text = format!("description: d\nversions: \"{versions}\"\nclusters:\n  b: {{}}\nsteps:\n  - service-account: sa\n");
        let scenario = Scenario::parse(Path::new("stub.yaml"), &text).expect("the scenario loads");
        let report = exec::execute(&cluster, &scenario, &ExecOptions::default()).await;
        assert_eq!(report.verdict, Verdict::NotApplicable, "{report:#?}");
        assert_eq!(report.reason.as_deref(), Some(why));
    }
}

/// A scenario requiring a node, on a context: it runs when that many nodes are Ready, and is
/// not applicable otherwise, saying how many there are (or why they could not be listed).
#[tokio::test]
async fn required_nodes_are_counted_among_a_contexts_ready_nodes() {
    let node = |name: &str, ready: Option<&str>| {
        let conditions: Vec<Value> = ready.iter().map(|s| json!({"type": "Ready", "status": s})).collect();
        json!({"metadata": {"name": name}, "status": {"conditions": conditions}})
    };
    let nodes = Arc::new(Mutex::new(json!([node("a", Some("False")), node("b", None)])));
    let listed = nodes.clone();
    let stub = Stub::start(move |r| {
        (r.path_only() == "/api/v1/nodes").then(|| {
            let items = listed.lock().unwrap().clone();
            match items {
                Value::Null => status(403, "Forbidden", r#"nodes is forbidden: User "u" cannot list resource "nodes""#),
                items => Reply::Json(200, json!({"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": items}).to_string()),
            }
        })
    });
    let cluster = stub.cluster().await;
    let opts = ExecOptions::default();
    let scenario = |requires: &str| {
        let text = format!("description: a node\nrequires: {requires}\nsteps:\n  - service-account: sa\n");
        Scenario::parse(Path::new("stub.yaml"), &text).expect("the scenario loads")
    };
    let report = exec::execute(&cluster, &scenario("{nodes: 1}"), &opts).await;
    assert_eq!(report.verdict, Verdict::NotApplicable, "{report:#?}");
    assert_eq!(report.reason.as_deref(), Some("needs 1 Ready node; stub has 0 of 2 nodes Ready"));

    *nodes.lock().unwrap() = Value::Null;
    let report = exec::execute(&cluster, &scenario("{nodes: 1}"), &opts).await;
    assert_eq!(report.verdict, Verdict::NotApplicable, "{report:#?}");
    let reason = report.reason.unwrap_or_default();
    assert!(reason.starts_with("needs 1 Ready node; cannot list the nodes of stub: nodes is forbidden"), "{reason}");

    // Flags cannot be seen on a context whatever its nodes: those are said, the nodes not listed.
    let before = stub.requests().len();
    let report = exec::execute(&cluster, &scenario("{nodes: 1, apiserver-args: [--a=1]}"), &opts).await;
    assert_eq!(
        report.reason.as_deref(),
        Some("needs kube-apiserver --a=1; kubeproof cannot see the flags of context stub (run it with --local)")
    );
    assert_eq!(stub.requests().len(), before, "nothing sent");

    *nodes.lock().unwrap() = json!([node("a", Some("False")), node("b", Some("True"))]);
    let report = exec::execute(&cluster, &scenario("{nodes: 1}"), &opts).await;
    assert_ne!(report.verdict, Verdict::NotApplicable, "one Ready node is enough: {report:#?}");
    assert!(stub.requests().iter().any(|r| r.method == "POST" && r.path_only() == "/api/v1/namespaces"), "the scenario ran");
}

/// An `exec` the API server refuses before the command starts (no such pod) fails the step with
/// the server's own message and status; nothing is retried without `eventually`.
#[tokio::test]
async fn an_exec_into_a_missing_pod_fails_with_the_servers_message() {
    let stub = Stub::start(|r| r.path_only().ends_with("/pods/p/exec").then(|| status(404, "NotFound", r#"pods "p" not found"#)));
    let report = run(&stub, "  - exec: {pod: p, command: [cat, /etc/hostname]}\n").await;
    let (step, position, error) = step_failure(&report);
    assert_eq!((step, position), (0, at(3, 5)));
    assert_eq!(
        error,
        StepError::Api { code: 404, reason: "NotFound".into(), message: r#"cannot exec in pod p: pods "p" not found"#.into() }
    );
    let sent: Vec<Request> = stub.requests().into_iter().filter(|r| r.path_only().ends_with("/exec")).collect();
    assert_eq!(sent.len(), 1, "one attempt");
    assert!(sent[0].path.contains("command=cat&command=%2Fetc%2Fhostname") && sent[0].path.contains("stdout=true"), "{}", sent[0].path);
    assert_eq!(sent[0].header("upgrade"), Some("websocket"));
}

/// `logs` of a container that is not there fails with the server's message.
#[tokio::test]
async fn logs_of_a_missing_container_fail_with_the_servers_message() {
    let message = r#"container c is not valid for pod p"#;
    let stub = Stub::start(move |r| r.path_only().ends_with("/pods/p/log").then(|| status(400, "BadRequest", message)));
    let report = run(&stub, "  - logs: {pod: p, container: c, tail-lines: 5}\n").await;
    let (_, _, error) = step_failure(&report);
    assert_eq!(
        error,
        StepError::Api { code: 400, reason: "BadRequest".into(), message: format!("cannot read the log of pod p container c: {message}") }
    );
    let sent = stub.requests().into_iter().find(|r| r.path_only().ends_with("/log")).expect("the log was asked for");
    for part in ["container=c", "tailLines=5", "limitBytes=1048577"] {
        assert!(sent.path.contains(part), "{part} in {}", sent.path);
    }
}

#[tokio::test]
async fn a_401_without_an_expected_status_fails_the_step_with_the_servers_message() {
    let stub = Stub::start(|r| (r.path_only() == "/api/v1/secrets").then(|| status(401, "Unauthorized", "Unauthorized")));
    let report = run(&stub, "  - call: {as: anonymous, path: /api/v1/secrets}\n").await;
    let (step, position, error) = step_failure(&report);
    assert_eq!((step, position), (0, at(3, 5)));
    assert_eq!(
        error,
        StepError::Mismatch {
            mismatches: vec![mismatch("$.status", "a 2xx status", "401")],
            summary: "GET /api/v1/secrets as anonymous → 401: Unauthorized".into(),
        }
    );
    let sent = stub.requests().into_iter().find(|r| r.path == "/api/v1/secrets").expect("the call reached the stub");
    assert_eq!(sent.header("authorization"), None, "anonymous sends no credentials");
}

#[tokio::test]
async fn a_403_against_an_expected_200_names_the_second_step_and_both_statuses() {
    let stub = Stub::start(|r| {
        (r.path_only() == "/api/v1/nodes")
            .then(|| status(403, "Forbidden", r#"nodes is forbidden: User "system:anonymous" cannot list resource "nodes""#))
    });
    let steps = "  - call: {as: anonymous, path: /version}\n  - call:\n      as: anonymous\n      path: /api/v1/nodes\n      status: 200\n";
    let report = run(&stub, steps).await;
    let (step, position, error) = step_failure(&report);
    assert_eq!((step, position), (1, at(4, 5)));
    assert_eq!(report.steps.len(), 1, "the first step passed and is recorded: {:#?}", report.steps);
    assert_eq!(report.steps[0].summary, "GET /version as anonymous → 200");
    assert_eq!(
        error,
        StepError::Mismatch {
            mismatches: vec![mismatch("$.status", "200", "403")],
            summary: r#"GET /api/v1/nodes as anonymous → 403: nodes is forbidden: User "system:anonymous" cannot list resource "nodes""#
                .into(),
        }
    );
}

#[tokio::test]
async fn a_404_status_body_is_data_the_assertions_read() {
    let stub = Stub::start(|r| {
        r.path_only().ends_with("/configmaps/missing").then(|| status(404, "NotFound", r#"configmaps "missing" not found"#))
    });
    let steps = "  - call:\n      as: admin\n      path: /api/v1/namespaces/${namespace}/configmaps/missing\n      status: 404\n      expect:\n        - {path: $.body.reason, equals: NotFound}\n        - {path: $.body.code, equals: 404}\n";
    let report = run(&stub, steps).await;
    assert_eq!(report.verdict, Verdict::Passed, "{report:#?}");
    let ns = namespace(&report);
    assert_eq!(
        report.steps[0].summary,
        format!(r#"GET /api/v1/namespaces/{ns}/configmaps/missing as admin → 404: configmaps "missing" not found"#)
    );
    // The namespace the executor created is the one it deleted.
    let requests = stub.requests();
    assert!(requests.iter().any(|r| r.method == "POST" && r.body.contains(&ns)), "{requests:#?}");
    assert!(requests.iter().any(|r| r.method == "DELETE" && r.path_only() == format!("/api/v1/namespaces/{ns}")), "{requests:#?}");
}

const APPLY_CONFIGMAP: &str = "  - apply:\n      manifest: {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {a: b}}\n";

/// A refusal of a request the step needed (not one it asserts on) is reported with the server's
/// code, reason and message. Today these arrive as `Other` with the three in its text; the
/// `Api` kind exists but the apply path does not produce it yet (see the report of issue 8).
fn assert_refused(error: &StepError, code: u16, reason: &str, message: &str) {
    let text = match error {
        StepError::Api { code: c, reason: r, message: m } => {
            assert_eq!((*c, r.as_str()), (code, reason));
            m.clone()
        }
        StepError::Other { message } => message.clone(),
        other => panic!("a refused request is reported as {other:?}"),
    };
    assert!(text.starts_with("applying ConfigMap settings: "), "{text}");
    assert!(text.contains(message), "`{text}` lacks the server's message `{message}`");
    if let StepError::Other { .. } = error {
        assert!(text.ends_with(&format!("({code} {reason})")), "{text}");
    }
}

#[tokio::test]
async fn a_409_conflict_on_apply_is_reported_with_code_reason_and_message() {
    let message = r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.a"#;
    let stub = Stub::start(move |r| (r.method == "PATCH").then(|| status(409, "Conflict", message)));
    let report = run(&stub, APPLY_CONFIGMAP).await;
    let (step, position, error) = step_failure(&report);
    assert_eq!((step, position), (0, at(3, 5)));
    assert_refused(&error, 409, "Conflict", message);
    let patch = stub.requests().into_iter().find(|r| r.method == "PATCH").expect("the apply reached the stub");
    assert_eq!(patch.path_only(), format!("/api/v1/namespaces/{}/configmaps/settings", namespace(&report)));
    assert!(patch.path.contains("fieldManager=kubeproof") && patch.path.contains("force=true"), "{}", patch.path);
    assert_eq!(patch.header("content-type"), Some("application/apply-patch+yaml"));
}

#[tokio::test]
async fn a_422_invalid_on_apply_is_reported_with_code_reason_and_message() {
    let message =
        r#"ConfigMap "settings" is invalid: data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters"#;
    let stub = Stub::start(move |r| (r.method == "PATCH").then(|| status(422, "Invalid", message)));
    let report = run(&stub, APPLY_CONFIGMAP).await;
    let (_, _, error) = step_failure(&report);
    assert_refused(&error, 422, "Invalid", message);
}

#[tokio::test]
async fn a_500_as_admin_is_a_mismatch_that_keeps_the_message() {
    let stub = Stub::start(|r| (r.path_only() == "/api/v1/nodes").then(|| status(500, "InternalError", "etcdserver: request timed out")));
    let report = run(&stub, "  - call: {as: admin, path: /api/v1/nodes}\n").await;
    let (_, _, error) = step_failure(&report);
    assert_eq!(
        error,
        StepError::Mismatch {
            mismatches: vec![mismatch("$.status", "a 2xx status", "500")],
            summary: "GET /api/v1/nodes as admin → 500: etcdserver: request timed out".into(),
        }
    );
}

#[tokio::test]
async fn malformed_json_is_kept_as_text_and_assertions_on_it_fail() {
    let stub = Stub::start(|r| (r.path_only() == "/healthz").then(|| Reply::Json(200, r#"{"major": "1","#.into())));
    let steps = "  - call:\n      as: anonymous\n      path: /healthz\n      expect:\n        - {path: $.body.major, equals: \"1\"}\n";
    let report = run(&stub, steps).await;
    let (step, position, error) = step_failure(&report);
    // The failure points at the assertion that failed, not only at its step.
    assert_eq!((step, position), (0, at(7, 11)));
    let StepError::Mismatch { mismatches, summary } = &error else { panic!("malformed JSON gave {error:?}") };
    assert_eq!(summary, "GET /healthz as anonymous → 200");
    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    assert_eq!(mismatches[0].path, "$.body.major");
    assert_eq!(mismatches[0].position, Some(at(7, 11)));
    assert!(mismatches[0].observed.contains("nothing"), "the path selects nothing in text: {:?}", mismatches[0]);
}

#[tokio::test]
async fn malformed_json_in_a_list_the_executor_reads_is_an_error_not_a_panic() {
    let stub =
        Stub::start(|r| (r.method == "GET" && r.path_only().ends_with("/configmaps")).then(|| Reply::Json(200, "{\"items\": [".into())));
    let report = run(&stub, "  - get: {kind: ConfigMap, name: settings}\n").await;
    let (_, position, error) = step_failure(&report);
    assert_eq!(position, at(3, 5));
    let StepError::Other { message } = &error else { panic!("an unreadable list gave {error:?}") };
    assert!(message.starts_with("list failed: "), "{message}");
}

#[tokio::test]
async fn a_slow_answer_times_out_with_what_the_step_waited_for() {
    let stub = Stub::start(|r| (r.path_only() == "/slow").then(|| Reply::Slow(Duration::from_secs(4), 200, "{}".into())));
    let started = Instant::now();
    let report = run(&stub, "  - call: {as: anonymous, path: /slow, timeout: 1s}\n").await;
    let (step, position, error) = step_failure(&report);
    assert_eq!((step, position), (0, at(3, 5)));
    assert_eq!(error, StepError::Timeout { after_ms: 1000, waiting_for: "calling GET /slow".into(), last_seen: None });
    assert!(started.elapsed() < Duration::from_secs(4), "the step did not wait for the answer: {:?}", started.elapsed());
}

#[tokio::test]
async fn an_eventual_call_that_never_holds_times_out_with_the_last_answer() {
    let stub = Stub::start(|r| (r.path_only() == "/readyz").then(|| status(503, "ServiceUnavailable", "etcd not ready")));
    let steps = "  - call: {as: anonymous, path: /readyz, status: 200, eventually: true, timeout: 2s}\n";
    let report = run(&stub, steps).await;
    let (_, _, error) = step_failure(&report);
    let StepError::Timeout { after_ms, waiting_for, last_seen } = &error else { panic!("gave {error:?}") };
    assert!((1000..2000).contains(after_ms), "inside the step's 2 s: {after_ms}");
    assert!(waiting_for.starts_with("GET /readyz to be as expected ("), "{waiting_for}");
    let last_seen = last_seen.as_deref().unwrap_or_default();
    let last = "$.status: expected 200, observed 503; last: GET /readyz as anonymous → 503: etcd not ready (attempt ";
    assert!(last_seen.starts_with(last), "{error:?}");
    let attempts = waiting_for.trim_start_matches("GET /readyz to be as expected (").trim_end_matches(" attempts)");
    assert_eq!(last_seen, format!("{last}{attempts})"), "the last answer is the last attempt's");
    let asked = stub.requests().iter().filter(|r| r.path == "/readyz").count();
    assert_eq!(attempts.parse::<usize>().ok(), Some(asked), "as many attempts as requests: {error:?}");
    assert!(asked >= 3, "retried every 250 ms for 1.5 s: {asked} requests");
}

/// The PATCH that got 415 as a saved token: `call` sends one `Content-Type` — the patch's,
/// the default merge patch's, or the one in `headers` — the same way as anonymous (the token
/// client) and as admin (kube's client); user headers arrive substituted and replace `Accept`;
/// the response's headers are in the result document.
#[tokio::test]
async fn one_content_type_per_request_whoever_sends_it() {
    let stub = Stub::start(|r| r.path_only().starts_with("/echo/").then(|| Reply::Json(200, "{}".into())));
    for identity in ["anonymous", "admin"] {
        let steps = format!(
            r#"  - call: {{as: {identity}, method: PATCH, path: /echo/merge, body: {{data: {{a: "1"}}}}}}
  - call: {{as: {identity}, method: PATCH, patch: json, path: /echo/json, body: [{{op: remove, path: /data/a}}]}}
  - call: {{as: {identity}, method: PATCH, patch: apply, path: /echo/apply, body-text: "data: {{a: '1'}}"}}
  - call:
      as: {identity}
      method: POST
      path: /echo/post
      body-text: not json
      headers: {{Content-Type: text/plain, Accept: application/yaml, X-Trace: "${{namespace}}"}}
      expect:
        - {{path: '$.headers["content-type"]', equals: [application/json]}}
        - {{path: $.headers.connection, equals: [close]}}
"#
        );
        let report = run(&stub, &steps).await;
        assert_eq!(report.verdict, Verdict::Passed, "as {identity}: {report:#?}");
    }
    let sent = stub.requests();
    for (path, content_type, body) in [
        ("/echo/merge", "application/merge-patch+json", r#"{"data":{"a":"1"}}"#),
        ("/echo/json", "application/json-patch+json", r#"[{"op":"remove","path":"/data/a"}]"#),
        ("/echo/apply", "application/apply-patch+yaml", "data: {a: '1'}"),
        ("/echo/post", "text/plain", "not json"),
    ] {
        let requests: Vec<&Request> = sent.iter().filter(|r| r.path == path).collect();
        assert_eq!(requests.len(), 2, "{path}: once as anonymous, once as admin");
        for r in requests {
            let types: Vec<&str> =
                r.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.as_str()).collect();
            assert_eq!(types, [content_type], "{} {path}: exactly one Content-Type", r.method);
            assert_eq!(r.body, body, "{path}: the body as sent");
        }
    }
    for r in sent.iter().filter(|r| r.path == "/echo/post") {
        assert_eq!(r.header("accept"), Some("application/yaml"), "the user's Accept replaces kubeproof's");
        assert!(r.header("x-trace").is_some_and(|v| v.starts_with("kp-")), "substituted: {:?}", r.header("x-trace"));
    }
}

#[tokio::test]
async fn a_dropped_connection_is_an_error_naming_the_request() {
    let stub = Stub::start(|r| (r.path_only() == "/drop").then_some(Reply::Drop));
    for identity in ["anonymous", "admin"] {
        let report = run(&stub, &format!("  - call: {{as: {identity}, path: /drop}}\n")).await;
        let (_, position, error) = step_failure(&report);
        assert_eq!(position, at(3, 5));
        let StepError::Other { message } = &error else { panic!("a dropped connection as {identity} gave {error:?}") };
        // Both identities send through the same request path and name the request alike.
        assert!(message.starts_with("GET /drop: "), "as {identity}: {message}");
    }
}

#[tokio::test]
async fn a_namespace_that_cannot_be_created_fails_the_setup_at_the_file() {
    let stub = Stub::start(|r| {
        (r.method == "POST" && r.path_only() == "/api/v1/namespaces")
            .then(|| status(403, "Forbidden", "namespaces is forbidden: User \"stub\" cannot create resource"))
    });
    let report = run(&stub, "  - call: {as: anonymous, path: /version}\n").await;
    assert_eq!(report.verdict, Verdict::Failed);
    let failure = report.failure.expect("a failure");
    assert_eq!((failure.phase, failure.step, failure.keyword.as_str()), (Phase::Setup, None, "setup"));
    assert_eq!(failure.position, Position::file(Path::new("stub.yaml")));
    let StepError::Other { message } = &failure.error else { panic!("gave {:?}", failure.error) };
    assert!(message.starts_with("cannot create namespace kp-"), "{message}");
    assert!(message.contains("namespaces is forbidden"), "{message}");
    assert!(report.steps.is_empty(), "no step runs without a namespace");
}

#[tokio::test]
async fn a_cleanup_that_fails_fails_a_passing_scenario_and_names_what_was_left() {
    let stub = Stub::start(|r| (r.method == "DELETE").then(|| status(500, "InternalError", "etcd is gone")));
    let report = run(&stub, "  - call: {as: anonymous, path: /version}\n").await;
    assert_eq!(report.verdict, Verdict::Failed);
    let failure = report.failure.clone().expect("a failure");
    assert_eq!((failure.phase, failure.step, failure.keyword.as_str()), (Phase::Cleanup, None, "cleanup"));
    assert_eq!(failure.position, Position::file(Path::new("stub.yaml")));
    let ns = namespace(&report);
    assert_eq!(report.left.len(), 1, "{:?}", report.left);
    assert!(report.left[0].starts_with(&format!("left Namespace/{ns}: ")), "{:?}", report.left);
    assert!(report.left[0].contains("etcd is gone"), "{:?}", report.left);
    let StepError::Other { message } = &failure.error else { panic!("gave {:?}", failure.error) };
    assert_eq!(message, &format!("cleanup failed: {}", report.left[0]));
}

#[tokio::test]
async fn a_token_the_server_echoes_is_redacted_in_the_failure() {
    // Not a JWT: only the value the executor saved can redact it.
    const TOKEN: &str = "opaque-stub-token-4f1c9a7e2b5d8e3f6a0c";
    let stub = Stub::start(|r| {
        if r.path_only().ends_with("/serviceaccounts/reader/token") {
            let body = json!({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "spec": {"expirationSeconds": 3600}, "status": {"token": TOKEN, "expirationTimestamp": "2030-01-01T00:00:00Z"}});
            return Some(Reply::Json(201, body.to_string()));
        }
        (r.path_only() == "/api/v1/secrets").then(|| {
            let echoed = r.header("authorization").unwrap_or_default();
            status(401, "Unauthorized", &format!("rejected {echoed}"))
        })
    });
    let steps = "  - token: {service-account: reader, save: t}\n  - call: {as: t, path: /api/v1/secrets}\n";
    let report = run(&stub, steps).await;
    let sent = stub.requests().into_iter().find(|r| r.path == "/api/v1/secrets").expect("the call reached the stub");
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()), "the saved token was sent");
    let (step, position, error) = step_failure(&report);
    assert_eq!((step, position), (1, at(4, 5)));
    let fingerprint = kubeproof::redact::fingerprint(TOKEN);
    assert_eq!(
        error,
        StepError::Mismatch {
            mismatches: vec![mismatch("$.status", "a 2xx status", "401")],
            summary: format!("GET /api/v1/secrets as t → 401: rejected Bearer <token {fingerprint}>"),
        }
    );
    assert!(report.steps[0].summary.ends_with(&format!("token {fingerprint}")), "{}", report.steps[0].summary);
    let everything = serde_json::to_string(&report).expect("the report serializes");
    assert!(!everything.contains(TOKEN), "the token leaks into the report: {everything}");
}

/// A cluster that does not answer cannot make a failure slow: the events that do not come within
/// the diagnostics' budget are said to be missing, and the scenario ends soon after its step
/// failed. What did answer is there (a 404 for the object, a ServiceAccount the step named).
#[tokio::test]
async fn diagnostics_are_bounded_by_their_budget() {
    let stub = Stub::start(|r| match r.path_only() {
        p if p.ends_with("/events") => Some(Reply::Slow(Duration::from_secs(20), 200, "{}".into())),
        "/missing" => Some(status(404, "NotFound", "nothing here")),
        _ => None,
    });
    let started = Instant::now();
    let report = run(&stub, "  - call: {as: anonymous, path: /missing}\n").await;
    let took = started.elapsed();
    let (step, position, _) = step_failure(&report);
    assert_eq!((step, position), (0, at(3, 5)));
    let d = report.failure.and_then(|f| f.diagnostics).expect("a step's failure has diagnostics");
    assert_eq!(d.events, None, "{d:#?}");
    assert!(d.problems.iter().any(|p| p.starts_with("events of kp-") && p.ends_with("no answer within 5s")), "{d:#?}");
    assert!(d.logs.is_empty(), "a connection that is not a local cluster has no component logs");
    assert!(took < Duration::from_secs(8), "the budget is 5 s; the run took {took:?}");
}

/// `finally` steps run after a failing step, each one even after one of them failed; they are
/// recorded and located as `finally` steps, and a failure among them is added after the first.
#[tokio::test]
async fn finally_steps_run_after_a_failure_and_add_their_own() {
    let stub = Stub::start(|r| (r.path_only() == "/missing").then(|| status(404, "NotFound", "nothing here")));
    let steps = "  - call: {as: anonymous, path: /missing}\n  - call: {as: anonymous, path: /never}\nfinally:\n  - call: {as: anonymous, path: /missing}\n  - call: {as: anonymous, path: /version}\n";
    let report = run(&stub, steps).await;
    let (step, position, _) = step_failure(&report);
    assert_eq!((step, position), (0, at(3, 5)), "the first failure stays the scenario's");
    assert!(!stub.requests().iter().any(|r| r.path == "/never"), "the steps stop at their first failure");
    let later: Vec<(Phase, Option<usize>, Position)> =
        report.later_failures.iter().map(|f| (f.phase, f.step, f.position.clone())).collect();
    assert_eq!(later, vec![(Phase::Finally, Some(0), at(6, 5))]);
    assert!(report.later_failures[0].diagnostics.is_some(), "a finally step's failure has diagnostics too");
    let ran: Vec<(Phase, usize, u64)> = report.steps.iter().map(|s| (s.phase, s.index, s.line)).collect();
    assert_eq!(ran, vec![(Phase::Finally, 1, 7)], "the second finally step ran after the first failed");
}

/// The ConfigMap `settings` as the stub lists it: `None` for an empty list.
fn config_map_list(ns: &str, data: Option<Value>) -> Reply {
    let items: Vec<Value> = data
        .map(|d| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ns}, "data": d}))
        .into_iter()
        .collect();
    Reply::Json(200, json!({"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {"resourceVersion": "9"}, "items": items}).to_string())
}

/// `get` with `eventually`: a missing object is an attempt that failed, an object whose
/// assertions do not hold yet another; the step reads again until both hold, and says which
/// attempt passed.
#[tokio::test]
async fn an_eventual_get_reads_again_until_the_object_exists_and_holds() {
    use std::sync::atomic::AtomicUsize;
    let lists = Arc::new(AtomicUsize::new(0));
    let counted = lists.clone();
    let stub = Stub::start(move |r| {
        let segments: Vec<&str> = r.path_only().trim_matches('/').split('/').collect();
        let ["api", "v1", "namespaces", ns, "configmaps"] = segments.as_slice() else { return None };
        Some(match counted.fetch_add(1, Ordering::SeqCst) {
            0 | 1 => config_map_list(ns, None),
            2 => config_map_list(ns, Some(json!({"ready": "no"}))),
            _ => config_map_list(ns, Some(json!({"ready": "yes"}))),
        })
    });
    let steps =
        "  - get: {kind: ConfigMap, name: settings, eventually: true, timeout: 5s, expect: [{path: $.data.ready, equals: 'yes'}]}\n";
    let report = run(&stub, steps).await;
    assert_eq!(report.verdict, Verdict::Passed, "{report:#?}");
    assert_eq!(lists.load(Ordering::SeqCst), 4, "two reads found nothing, one found it not ready");
    assert_eq!(report.steps[0].summary, "ConfigMap settings found (attempt 4)");
}

/// `get` with `eventually` on an object that never comes: the step's timeout, with the number of
/// attempts (one list each) and how the last one failed.
#[tokio::test]
async fn an_eventual_get_of_what_never_comes_times_out_with_the_attempts() {
    let stub = Stub::start(|r| {
        let segments: Vec<&str> = r.path_only().trim_matches('/').split('/').collect();
        let ["api", "v1", "namespaces", ns, "configmaps"] = segments.as_slice() else { return None };
        Some(config_map_list(ns, None))
    });
    let report = run(&stub, "  - get: {kind: ConfigMap, name: settings, eventually: true, timeout: 2s}\n").await;
    let (_, position, error) = step_failure(&report);
    assert_eq!(position, at(3, 5));
    let StepError::Timeout { after_ms, waiting_for, last_seen } = &error else { panic!("gave {error:?}") };
    assert!((1000..2000).contains(after_ms), "inside the step's 2 s: {after_ms}");
    let attempts = waiting_for.trim_start_matches("ConfigMap settings to be as expected (").trim_end_matches(" attempts)");
    let lists = stub.requests().iter().filter(|r| r.method == "GET" && r.path_only().ends_with("/configmaps")).count();
    assert_eq!(attempts.parse::<usize>().ok(), Some(lists), "one list per attempt: {error:?}");
    assert!(lists >= 3, "read again every 250 ms for 1.5 s: {lists} lists");
    assert_eq!(last_seen.as_deref(), Some("ConfigMap settings not found"));
}

/// `kubectl` with `eventually`: run again until `exit` holds (a stand-in kubectl that fails
/// twice), with the attempts in the result document and the summary.
#[tokio::test]
async fn an_eventual_kubectl_runs_again_until_its_exit_holds() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("kubeproof-executor-kubectl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let script = dir.join("kubectl");
    let count = dir.join("count");
    let text = format!(
        "#!/bin/sh\necho x >> '{}'\n[ \"$(wc -l < '{}')\" -ge 3 ] && {{ echo ready; exit 0; }}\necho 'not yet' >&2\nexit 1\n",
        count.display(),
        count.display()
    );
    std::fs::write(&script, text).expect("the stand-in kubectl");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).expect("executable");
    let stub = Stub::start(|_| None);
    let mut cluster = stub.cluster().await;
    cluster.kubectl = script;
    let opts = ExecOptions { default_timeout: Duration::from_secs(10), ..Default::default() };
    let steps = "  - kubectl: {args: [get, x], eventually: true, timeout: 5s, expect: [{path: $.stdout, equals: \"ready\\n\"}, {path: $.attempts, equals: 3}]}\n";
    let report = exec::execute(&cluster, &scenario(steps), &opts).await;
    let runs = std::fs::read_to_string(&count).unwrap_or_default().lines().count();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(report.verdict, Verdict::Passed, "{report:#?}");
    assert_eq!(runs, 3);
    assert_eq!(report.steps[0].summary, "kubectl get x → exit 0 (attempt 3)");
}

/// A Status of 422 that echoes what was sent, as the API server does for invalid values.
fn echoing_422(sent: &str) -> Reply {
    let message =
        format!(r#"ConfigMap "settings" is invalid: metadata.labels: Invalid value: "{sent}": must be no more than 63 characters"#);
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
        "reason": "Invalid", "code": 422, "details": {"name": "settings", "kind": "ConfigMap",
        "causes": [{"reason": "FieldValueInvalid", "message": format!("Invalid value: \"{sent}\""), "field": "metadata.labels"}]}});
    Reply::Json(422, body.to_string())
}

#[tokio::test]
async fn an_expected_refusal_of_an_apply_passes_and_its_cleanup_finds_nothing_to_delete() {
    // Applied into another namespace, so the cleanup deletes it by name: the object was recorded
    // before it was sent, never existed, and its 404 at cleanup is not a problem.
    let stub = Stub::start(|r| {
        (r.method == "PATCH").then(|| {
            status(422, "Invalid", r#"ConfigMap "settings" is invalid: data: Forbidden: field is immutable when `immutable` is set"#)
        })
    });
    let steps = "  - apply:\n      status: 422\n      manifest: {apiVersion: v1, kind: ConfigMap, metadata: {name: settings, namespace: elsewhere}, data: {a: b}}\n      expect:\n        - {path: $.body.reason, equals: Invalid}\n        - {path: $.body.code, equals: 422}\n";
    let report = run(&stub, steps).await;
    assert_eq!(report.verdict, Verdict::Passed, "{report:#?}");
    assert!(report.left.is_empty(), "nothing is left: {:?}", report.left);
    assert_eq!(
        report.steps[0].summary,
        r#"apply ConfigMap/settings → 422: ConfigMap "settings" is invalid: data: Forbidden: field is immutable when `immutable` is set"#
    );
    let requests = stub.requests();
    let path = "/api/v1/namespaces/elsewhere/configmaps/settings";
    let sent: Vec<&str> = requests.iter().filter(|r| r.path_only() == path).map(|r| r.method.as_str()).collect();
    assert_eq!(sent, ["PATCH", "DELETE"], "applied, then deleted at cleanup although it was refused: {requests:#?}");
}

#[tokio::test]
async fn an_apply_refused_with_another_status_than_expected_names_both() {
    let stub = Stub::start(|r| (r.method == "PATCH").then(|| status(409, "Conflict", "Apply failed with 1 conflict")));
    let report =
        run(&stub, "  - apply:\n      status: 422\n      manifest: {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}}\n").await;
    let (step, position, error) = step_failure(&report);
    assert_eq!((step, position), (0, at(3, 5)));
    assert_eq!(
        error,
        StepError::Mismatch {
            mismatches: vec![mismatch("$.status", "422", "409")],
            summary: "apply ConfigMap/settings → 409: Apply failed with 1 conflict".into(),
        }
    );
}

#[tokio::test]
async fn a_delete_or_get_of_what_is_not_there_is_a_404_to_expect() {
    // The stub answers 404 to anything it does not serve: the ConfigMap does not exist.
    let steps = "  - delete: {kind: ConfigMap, name: gone, status: 404, expect: [{path: $.body.reason, equals: NotFound}]}\n  - get: {kind: ConfigMap, name: gone, status: 404, expect: [{path: $.body.code, equals: 404}]}\n  - delete: {kind: ConfigMap, name: gone}\n";
    let stub = Stub::start(|_| None);
    let report = run(&stub, steps).await;
    let (step, position, error) = step_failure(&report);
    assert_eq!(report.steps.len(), 2, "the expected 404s passed: {:#?}", report.steps);
    assert!(
        report.steps[0].summary.starts_with("delete ConfigMap/gone → 404: the stub does not serve DELETE "),
        "{}",
        report.steps[0].summary
    );
    assert!(report.steps[1].summary.starts_with("get ConfigMap gone → 404: "), "{}", report.steps[1].summary);
    // Without `status`, the same 404 fails the step with the server's code, reason and message.
    assert_eq!((step, position), (2, at(5, 5)));
    let StepError::Api { code, reason, message } = &error else { panic!("a refused delete gave {error:?}") };
    assert_eq!((*code, reason.as_str()), (404, "NotFound"));
    assert!(message.starts_with("deleting ConfigMap gone: the stub does not serve DELETE"), "{message}");
}

#[tokio::test]
async fn a_refusal_that_echoes_a_token_is_redacted_with_and_without_status() {
    // A JWT-shaped value sent as a label: the server's message repeats it.
    let jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6InN0dWIifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6eDp5In0.c2lnbmF0dXJlLW9mLXRoZS1zdHVi";
    let stub = Stub::start(move |r| {
        (r.method == "PATCH")
            .then(|| echoing_422(r.body.split("\"leak\":\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or_default()))
    });
    let manifest = format!("{{apiVersion: v1, kind: ConfigMap, metadata: {{name: settings, labels: {{leak: '{jwt}'}}}}}}");
    // Expected, but an assertion fails: the document and summary are in the failure.
    let with_status = format!(
        "  - apply:\n      status: 422\n      manifest: {manifest}\n      expect:\n        - {{path: '$.body.details.causes[0].message', equals: x}}\n"
    );
    // Not expected: the refusal is the failure.
    let without = format!("  - apply:\n      manifest: {manifest}\n");
    for steps in [with_status, without] {
        let report = run(&stub, &steps).await;
        let (_, _, error) = step_failure(&report);
        let everything = serde_json::to_string(&report).expect("the report serializes");
        assert!(everything.contains("must be no more than 63 characters"), "the server's message is kept: {everything}");
        assert!(!everything.contains(&jwt[..40]), "the echoed token leaks into the report: {error:?}");
        assert!(!everything.contains(&jwt[jwt.len() - 30..]), "the echoed token's signature leaks: {error:?}");
        assert!(everything.contains("<token sha256:"), "the token is shown as its fingerprint: {error:?}");
    }
    assert!(stub.requests().iter().any(|r| r.method == "PATCH" && r.body.contains(jwt)), "the label was sent as written");
}

/// A header given as a list is sent once per value, in order; the API server reads each as one
/// group (here: 200 only with both, apart), and a comma-joined value is one group it refuses.
#[tokio::test]
async fn a_header_list_is_sent_once_per_value() {
    let stub = Stub::start(|r| {
        (r.path_only() == "/api/v1/namespaces/default/pods").then(|| {
            let groups: Vec<&str> =
                r.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("impersonate-group")).map(|(_, v)| v.as_str()).collect();
            if groups == ["team-a", "readers"] {
                Reply::Json(200, "{\"kind\":\"PodList\",\"items\":[]}".into())
            } else {
                status(403, "Forbidden", "no")
            }
        })
    });
    let listed = "  - call: {as: admin, path: /api/v1/namespaces/default/pods, headers: {Impersonate-User: alice, Impersonate-Group: [team-a, readers]}}\n";
    let report = run(&stub, listed).await;
    assert_eq!(report.verdict, Verdict::Passed, "{report:#?}");
    let joined = "  - call: {as: admin, path: /api/v1/namespaces/default/pods, headers: {Impersonate-User: alice, Impersonate-Group: 'team-a, readers'}}\n";
    let (_, _, error) = step_failure(&run(&stub, joined).await);
    let StepError::Mismatch { mismatches, .. } = &error else { panic!("gave {error:?}") };
    assert_eq!((mismatches[0].path.as_str(), mismatches[0].observed.as_str()), ("$.status", "403"));
}

/// `absent` with `eventually: true` waits until the object is gone: one that never goes fails
/// with the step's timeout; one that is gone passes.
#[tokio::test]
async fn absent_eventually_waits_for_deletion_and_times_out_when_it_never_comes() {
    let stub = Stub::start(|r| {
        let segments: Vec<&str> = r.path_only().trim_matches('/').split('/').collect();
        let ["api", "v1", "namespaces", ns, "configmaps"] = segments.as_slice() else { return None };
        let stays = (*ns).to_string();
        Some(config_map_list(&stays, Some(json!({"a": "1"}))))
    });
    let report = run(&stub, "  - absent: {kind: ConfigMap, name: settings, eventually: true, timeout: 2s}\n").await;
    let (_, position, error) = step_failure(&report);
    assert_eq!(position, at(3, 5));
    assert!(matches!(error, StepError::Timeout { .. }), "an object that stays is waited for, then a timeout: {error:?}");
    let gone = Stub::start(|r| r.path_only().ends_with("/configmaps").then(|| config_map_list("x", None)));
    let report = run(&gone, "  - absent: {kind: ConfigMap, name: settings, eventually: true, timeout: 2s}\n").await;
    assert_eq!(report.verdict, Verdict::Passed, "{report:#?}");
}

/// `token` with `bound-object.uid` sends that uid as written, with no lookup; the API server's
/// 409 on a mismatch is what `status` checks, and fails a step that expected 201.
#[tokio::test]
async fn a_bound_object_uid_is_sent_as_written_and_the_refusal_checked() {
    let stub = Stub::start(|r| {
        (r.method == "POST" && r.path_only().ends_with("/serviceaccounts/sa/token"))
            .then(|| status(409, "Conflict", "the UID in the bound object reference (wrong) does not match the UID in record"))
    });
    let step = |expect: u16| {
        format!("  - token: {{service-account: sa, bound-object: {{kind: Secret, name: s, uid: wrong}}, status: {expect}}}\n")
    };
    assert_eq!(run(&stub, &step(409)).await.verdict, Verdict::Passed);
    let (_, _, error) = step_failure(&run(&stub, &step(201)).await);
    let StepError::Mismatch { mismatches, .. } = &error else { panic!("gave {error:?}") };
    assert_eq!((mismatches[0].expected.as_str(), mismatches[0].observed.as_str()), ("201", "409"));
    let posted: Vec<Request> = stub.requests().into_iter().filter(|r| r.method == "POST" && r.path.contains("/token")).collect();
    assert!(posted.iter().all(|r| r.body.contains("\"uid\":\"wrong\"")), "{posted:?}");
    assert!(!stub.requests().iter().any(|r| r.method == "GET" && r.path.contains("/secrets/s")), "no lookup of the bound object");
}

//! Golden tests of every reporter: fixed reports in (elapsed times fixed too), exact text out,
//! compared with the files under tests/golden/. After a deliberate change of a reporter's
//! output, rewrite them with `KUBEPROOF_BLESS=1 cargo test --test reporters` and review the diff.
//!
//! The JUnit document is also checked against the rules of the JUnit XML schema Jenkins'
//! xUnit plugin validates with (junit-10.xsd) and GitLab reads (see `junit_schema`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use kubeproof::interrupt::Signal;
use kubeproof::report::document::Document;
use kubeproof::report::{
    ComponentLog, Diagnostics, EventLine, Failure, ObjectState, Phase, Position, RunOutcome, ScenarioReport, StepError, StepRecord,
    Stopped, Verdict, github, junit, text,
};
use kubeproof::scenario::assertion::Mismatch;

/// Compares `actual` with tests/golden/`name`, or rewrites the file under `KUBEPROOF_BLESS=1`.
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var("KUBEPROOF_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {} ({e}); create it with KUBEPROOF_BLESS=1", path.display()));
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual);
        panic!(
            "{} differs from the reporter's output (- golden, + actual); if the change is meant, rerun with KUBEPROOF_BLESS=1:\n{}",
            path.display(),
            diff.unified_diff().context_radius(2)
        );
    }
}

fn at(file: &str, line: u64, column: u64) -> Position {
    Position { file: file.into(), line: Some(line), column: Some(column) }
}

fn step(index: usize, line: u64, keyword: &str, summary: &str, millis: u64) -> StepRecord {
    StepRecord {
        phase: Phase::Step,
        index,
        line,
        file: None,
        keyword: keyword.into(),
        summary: summary.into(),
        skipped: false,
        elapsed: Duration::from_millis(millis),
    }
}

fn finally(index: usize, line: u64, keyword: &str, summary: &str, millis: u64) -> StepRecord {
    StepRecord { phase: Phase::Finally, ..step(index, line, keyword, summary, millis) }
}

fn skipped(index: usize, line: u64, keyword: &str, range: &str) -> StepRecord {
    StepRecord {
        phase: Phase::Step,
        index,
        line,
        file: None,
        keyword: keyword.into(),
        summary: format!("skipped: only on {range}"),
        skipped: true,
        elapsed: Duration::ZERO,
    }
}

fn base(name: &str, cluster: &str, verdict: Verdict, millis: u64) -> ScenarioReport {
    ScenarioReport {
        scenario: name.into(),
        file: PathBuf::from(format!("scenarios/{name}.yaml")),
        cluster: cluster.into(),
        server_version: format!("v{}", cluster.split(' ').next().unwrap_or(cluster)),
        kubectl: String::new(),
        verdict,
        reason: None,
        failure: None,
        later_failures: Vec::new(),
        earlier_attempts: Vec::new(),
        steps: Vec::new(),
        observed: None,
        namespace: Some(format!("kp-{name}-abcdefgh")),
        left: Vec::new(),
        elapsed: Duration::from_millis(millis),
        path: Vec::new(),
        other_clusters: Vec::new(),
    }
}

fn failed(
    name: &str,
    cluster: &str,
    millis: u64,
    step_index: Option<usize>,
    position: Position,
    keyword: &str,
    error: StepError,
) -> ScenarioReport {
    let phase = if step_index.is_some() {
        Phase::Step
    } else if keyword == "cleanup" {
        Phase::Cleanup
    } else {
        Phase::Setup
    };
    ScenarioReport {
        failure: Some(Failure {
            phase,
            step: step_index,
            position,
            keyword: keyword.into(),
            error,
            diagnostics: None,
            included_from: Vec::new(),
        }),
        ..base(name, cluster, Verdict::Failed, millis)
    }
}

/// What a failure's diagnostics hold: events (one repeated, one with a newline and XML's
/// specials), an object, one that is gone, one whose variables were never captured, a log,
/// and what could not be collected.
fn diagnostics() -> Diagnostics {
    let event = |time: &str, type_: &str, reason: &str, object: &str, message: &str, count: Option<i32>| EventLine {
        time: Some(time.into()),
        type_: type_.into(),
        reason: reason.into(),
        object: object.into(),
        message: message.into(),
        count,
    };
    Diagnostics {
        events: Some(vec![
            event("2026-01-02T03:04:05Z", "Normal", "Scheduled", "Pod/web-0", "Successfully assigned ns/web-0 to node-1", None),
            event(
                "2026-01-02T03:04:09Z",
                "Warning",
                "BackOff",
                "Pod/web-0",
                "Back-off restarting <failed> container & \"web\"\nagain",
                Some(4),
            ),
        ]),
        earlier_events: 3,
        objects: vec![
            ObjectState {
                object: "Secret legacy in kp-rbac-forbidden-until-bound-abcdefgh".into(),
                document: Some(serde_json::json!({
                    "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                    "metadata": {"name": "legacy", "annotations": {"kubernetes.io/service-account.name": "reader"}},
                    "data": {"ca.crt": "(not shown)", "token": "(not shown)"}
                })),
                note: None,
            },
            ObjectState { object: "ClusterRole kp-reader".into(), document: None, note: Some("not found".into()) },
            ObjectState { object: "an object of the step".into(), document: None, note: Some("`${uid}` is not defined".into()) },
        ],
        logs: vec![ComponentLog {
            component: "kube-apiserver".into(),
            lines: vec![
                "I0102 03:04:05.000000 1 handler.go:1] GET /api 401 Authorization: Bearer <token sha256:1a2b3c4d5e6f>".into(),
                "E0102 03:04:06.000000 1 authentication.go:73] \"Unable to authenticate the request\" err=\"invalid bearer token\"".into(),
            ],
        }],
        problems: vec!["the step's objects: no answer within 5s".into()],
    }
}

/// One report of every shape: passed with an observation and a skipped step, each kind of
/// `StepError`, setup and cleanup failures, not applicable, and a second cluster; `finally`
/// steps that passed, one that failed after a step had (with diagnostics on both failures),
/// one that failed alone. Text that needs escaping in XML, workflow commands and JSON (`<&>"'`,
/// `%`, `,`, `:`, newlines) is in it.
fn reports() -> Vec<ScenarioReport> {
    let c = "1.33.1";
    let mut passed = base("token-lifetime", c, Verdict::Passed, 2345);
    passed.observed = Some("3607s".into());
    passed.steps = vec![
        step(0, 9, "service-account", "ServiceAccount reader created", 41),
        step(1, 10, "token", "TokenRequest for reader → 201, 3607s, token sha256:1a2b3c4d5e6f", 18),
        skipped(2, 14, "kubectl", "<1.24"),
        step(3, 17, "jwt", "lifetime 3607s, audience https://kubernetes.default.svc", 2),
    ];

    let mut mismatch = failed(
        "rbac-forbidden-until-bound",
        c,
        1210,
        Some(1),
        at("scenarios/rbac-forbidden-until-bound.yaml", 12, 5),
        "call",
        StepError::Mismatch {
            mismatches: vec![
                Mismatch::new("$.status", "403", "200"),
                Mismatch::new(
                    "$.body.message",
                    "\"pods is forbidden: User \\\"system:serviceaccount:ns:reader\\\" cannot list resource\"",
                    "\"pods is allowed: User \\\"system:serviceaccount:ns:reader\\\" can list resource <all>\"",
                )
                .at(Some(at("scenarios/rbac-forbidden-until-bound.yaml", 16, 11))),
            ],
            summary: "GET /api/v1/namespaces/ns/pods as reader → 200".into(),
        },
    );
    mismatch.steps = vec![
        step(0, 9, "service-account", "ServiceAccount reader created", 30),
        finally(0, 22, "delete", "ClusterRole kp-reader deleted", 12),
    ];
    if let Some(f) = &mut mismatch.failure {
        f.diagnostics = Some(diagnostics());
    }
    mismatch.later_failures = vec![Failure {
        phase: Phase::Finally,
        step: Some(1),
        position: at("scenarios/rbac-forbidden-until-bound.yaml", 24, 5),
        keyword: "kubectl".into(),
        error: StepError::Undefined { message: "`${uid}` is not defined (defined: namespace, scenario)".into() },
        diagnostics: Some(Diagnostics {
            problems: vec!["events of kp-rbac-forbidden-until-bound-abcdefgh: no answer within 5s".into()],
            ..Diagnostics::default()
        }),
        included_from: Vec::new(),
    }];

    let mut timeout = failed(
        "legacy-secret-not-regenerated",
        c,
        30012,
        Some(2),
        at("scenarios/legacy-secret-not-regenerated.yaml", 21, 5),
        "wait",
        StepError::Timeout {
            after_ms: 29800,
            waiting_for: "waiting for Secret legacy to satisfy $.data.token".into(),
            last_seen: Some("$.data.token: expected a value, observed nothing".into()),
        },
    );
    // `--retries 1`: it failed the same way twice.
    timeout.earlier_attempts = timeout.failure.clone().into_iter().collect();
    let undefined = failed(
        "bound-token-invalidated",
        c,
        120,
        Some(3),
        at("scenarios/bound-token-invalidated.yaml", 30, 7),
        "call",
        StepError::Undefined { message: "`${pod_uid}` is not defined (defined: namespace, scenario)".into() },
    );
    let capture = failed(
        "issuer-discovery",
        c,
        340,
        Some(0),
        at("scenarios/issuer-discovery.yaml", 8, 5),
        "call",
        StepError::Capture { name: "issuer".into(), message: "`$.body.issuer` selects nothing in {\"jwks_uri\": \"…\"}".into() },
    );
    let api = failed(
        "aggregated-clusterroles-view-binding",
        c,
        95,
        Some(1),
        at("scenarios/aggregated-clusterroles-view-binding.yaml", 15, 5),
        "apply",
        StepError::Api {
            code: 422,
            reason: "Invalid".into(),
            message: "applying ConfigMap settings: data[a b]: Invalid value: \"a b\": 100% wrong, really".into(),
        },
    );
    let setup = failed(
        "kubectl-create-token",
        c,
        15,
        None,
        Position::file(Path::new("scenarios/kubectl-create-token.yaml")),
        "setup",
        StepError::other("cannot create namespace kp-kubectl-create-token-abcdefgh: namespaces is forbidden"),
    );
    let mut cleanup = failed(
        "secret-token-deleted",
        c,
        4000,
        None,
        Position::file(Path::new("scenarios/secret-token-deleted.yaml")),
        "cleanup",
        StepError::other("cleanup failed: left ClusterRole/kp-reader: no answer within 3s"),
    );
    cleanup.steps = vec![step(0, 9, "service-account", "ServiceAccount reader created", 25)];
    cleanup.left = vec!["left ClusterRole/kp-reader: no answer within 3s".into()];

    let mut finally_fails = failed(
        "kubectl-auth-whoami",
        c,
        800,
        Some(0),
        at("scenarios/kubectl-auth-whoami.yaml", 14, 5),
        "absent",
        StepError::Mismatch {
            mismatches: vec![Mismatch::new("ClusterRoleBinding kp-whoami", "absent", "exists (uid 1234)")],
            summary: "ClusterRoleBinding kp-whoami exists".into(),
        },
    );
    finally_fails.steps = vec![step(0, 8, "kubectl", "kubectl auth whoami → exit 0", 300)];
    if let Some(f) = &mut finally_fails.failure {
        f.phase = Phase::Finally;
        f.diagnostics = Some(Diagnostics {
            events: Some(Vec::new()),
            objects: vec![ObjectState {
                object: "ClusterRoleBinding kp-whoami".into(),
                document: Some(serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                    "metadata": {"name": "kp-whoami"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}})),
                note: None,
            }],
            ..Diagnostics::default()
        });
    }

    let mut not_applicable = base("auto-secret-regenerated", c, Verdict::NotApplicable, 0);
    not_applicable.reason = Some("applies to <1.24; the cluster runs 1.33.1".into());
    not_applicable.namespace = None;

    let flags = "1.33.1 --service-account-extend-token-expiration=false";
    let mut other_cluster = base("extend-token-expiration-disabled", flags, Verdict::Passed, 1999);
    other_cluster.observed = Some("600s".into());
    other_cluster.steps = vec![step(0, 11, "token", "TokenRequest for reader → 201, 600s, token sha256:0f0e0d0c0b0a", 20)];

    // `--retries 2`: a 403 the first time (RBAC not seen yet), then 200.
    let mut flaky = base("rbac-patch-as-token", c, Verdict::Passed, 1500);
    flaky.steps = vec![step(0, 9, "call", "PATCH /api/v1/namespaces/ns/configmaps/c as t → 200", 30)];
    flaky.earlier_attempts = failed(
        "rbac-patch-as-token",
        c,
        700,
        Some(0),
        at("scenarios/rbac-patch-as-token.yaml", 9, 5),
        "call",
        StepError::Mismatch { mismatches: vec![Mismatch::new("$.status", "200", "403")], summary: "PATCH … as t → 403".into() },
    )
    .failure
    .into_iter()
    .collect();

    vec![passed, mismatch, timeout, undefined, capture, api, setup, cleanup, finally_fails, not_applicable, other_cluster, flaky]
}

fn interrupted() -> Stopped {
    Stopped::Interrupted { signal: Signal::Interrupt, left: vec!["Namespace/kp-token-lifetime-abcdefgh".into()] }
}

fn died() -> Stopped {
    Stopped::ClusterDied("1.33.1: etcd exited with status 1\n  last log: \"panic: <corrupt>\"".into())
}

#[test]
fn text_lines() {
    let lines: Vec<String> = reports().iter().map(text::line).collect();
    golden("text-lines.txt", &(lines.join("\n") + "\n"));
}

#[test]
fn text_details() {
    let details: Vec<String> = reports().iter().map(text::details).collect();
    golden("text-details.txt", &details.join("\n"));
}

#[test]
fn text_summary_and_stops() {
    let mut out = text::summary(&reports()) + "\n";
    out.push_str(&text::summary(&[]));
    out.push_str("\n\n");
    out.push_str(&text::stopped(&interrupted()));
    out.push('\n');
    out.push_str(&text::stopped(&Stopped::Interrupted { signal: Signal::Terminate, left: Vec::new() }));
    out.push('\n');
    out.push_str(&text::stopped(&died()));
    golden("text-summary.txt", &out);
}

#[test]
fn junit_document() {
    let xml = junit::document(&reports(), None);
    golden("junit.xml", &xml);
}

#[test]
fn junit_document_of_a_run_cut_short() {
    let xml = junit::document(&reports()[..2], Some(&died()));
    golden("junit-stopped.xml", &xml);
}

#[test]
fn github_annotations_and_summary() {
    golden("github-annotations.txt", &github::annotations(&reports()));
    golden("github-summary.md", &github::summary(&reports()));
}

#[test]
fn json_document() {
    let outcome = RunOutcome { reports: reports(), stopped: Some(interrupted()) };
    let json = serde_json::to_string_pretty(&Document::of(&outcome)).expect("the document serializes");
    golden("report.json", &(json + "\n"));
}

/// What `run --json` writes reads back as the same document (and `matrix --from` can use it).
#[test]
fn json_document_reads_back() {
    let path = std::env::temp_dir().join(format!("kubeproof-reporters-{}.json", std::process::id()));
    let outcome = RunOutcome { reports: reports(), stopped: Some(died()) };
    let json = serde_json::to_string_pretty(&Document::of(&outcome)).expect("the document serializes");
    std::fs::write(&path, &json).expect("a temporary file");
    let back = Document::read(&path);
    let _ = std::fs::remove_file(&path);
    let back = back.expect("the document reads back");
    assert_eq!(serde_json::to_string_pretty(&back).expect("serializes again"), json);
}

/// The JUnit documents follow the schema's rules — the golden files pin the text, this pins the
/// format CI servers need.
#[test]
fn junit_follows_the_schema() {
    for (what, xml) in [
        ("a whole run", junit::document(&reports(), None)),
        ("a run cut short", junit::document(&reports()[..2], Some(&died()))),
        ("an interrupted run", junit::document(&reports(), Some(&interrupted()))),
        ("no reports", junit::document(&[], None)),
    ] {
        let problems = junit_schema::violations(&xml);
        assert!(problems.is_empty(), "{what}: the JUnit document breaks the schema:\n{}\n{xml}", problems.join("\n"));
    }
}

/// The validator itself finds what it is meant to find (so that an empty list above means
/// something).
#[test]
fn the_junit_rules_catch_what_ci_servers_refuse() {
    let cases = [
        (
            "<testsuites><testsuite tests=\"1\" failures=\"0\" errors=\"0\"/></testsuites>",
            "`testsuite` lacks the required attribute `name`",
        ),
        (
            "<testsuites><testsuite name=\"a\" tests=\"1\" failures=\"0\" errors=\"0\"><testcase name=\"x\" file=\"f\"/></testsuite></testsuites>",
            "`testcase` has an attribute `file`",
        ),
        (
            "<testsuites><testsuite name=\"a\" tests=\"1\" failures=\"0\" errors=\"0\" time=\"1.5s\"><testcase name=\"x\"/></testsuite></testsuites>",
            "`time=\"1.5s\"`",
        ),
        (
            "<testsuites><testsuite name=\"a\" tests=\"2\" failures=\"0\" errors=\"0\"><testcase name=\"x\"/></testsuite></testsuites>",
            "says tests=\"2\" but holds 1",
        ),
        (
            "<testsuites><testsuite name=\"a\" tests=\"1\" failures=\"0\" errors=\"0\"><testcase name=\"x\"><failure/></testcase></testsuite></testsuites>",
            "says failures=\"0\" but holds 1",
        ),
        ("<testsuites><testcase name=\"x\"/></testsuites>", "`testcase` inside `testsuites`"),
        (
            "<testsuites><testsuite name=\"a\" tests=\"1\" failures=\"0\" errors=\"0\"><testcase name=\"x\"><failure><system-out/></failure></testcase></testsuite></testsuites>",
            "`system-out` inside `failure`",
        ),
        ("<testsuites><testsuite name=\"a\" tests=\"x\" failures=\"0\" errors=\"0\"/></testsuites>", "`tests=\"x\"`, which is not a count"),
        ("<testsuites><testsuite name=\"a\"", "not well-formed"),
        (
            "<testsuites name=\"k\" tests=\"3\"><testsuite name=\"a\" tests=\"1\" failures=\"0\" errors=\"0\"><testcase name=\"x\"/></testsuite></testsuites>",
            "says tests=\"3\" but its suites hold 1",
        ),
        (
            "<testsuites><testsuite name=\"a\" tests=\"1\" failures=\"0\" errors=\"0\"><testcase name=\"x\"><system-out>\u{1}</system-out></testcase></testsuite></testsuites>",
            "a character XML 1.0 cannot carry",
        ),
        (
            "<testsuites><testsuite name=\"a\" tests=\"1\" failures=\"0\" errors=\"0\"><testcase name=\"x\">loose text</testcase></testsuite></testsuites>",
            "text inside `testcase`",
        ),
    ];
    for (xml, expected) in cases {
        let problems = junit_schema::violations(xml);
        assert!(problems.iter().any(|p| p.contains(expected)), "{xml}: expected a problem with `{expected}`, got {problems:?}");
    }
}

/// The rules of the JUnit XML format as Jenkins' xUnit plugin validates it (its junit-10.xsd)
/// and GitLab reads it, written down here from that schema's documented structure (no copy of
/// it is committed):
/// - `testsuites` holds only `testsuite`s; its attributes are `name`, `time`, `tests`,
///   `failures`, `errors`.
/// - `testsuite` needs `name`, `tests`, `failures`, `errors`; may have `group`, `time`,
///   `skipped`, `timestamp`, `hostname`, `id`, `package`, `file`, `log`, `url`; holds
///   `testsuite`, `properties`, `testcase`, `system-out`, `system-err`.
/// - `testcase` needs `name`; may have `time`, `classname`, `group` (no `file`: the schema
///   rejects attributes it does not declare); holds `skipped`, `error`, `failure`, the rerun and
///   flaky elements, `system-out`, `system-err`, and no text.
/// - `failure`, `error`, `skipped` hold text only, with optional `type` and `message`;
///   `system-out` and `system-err` hold text only; `properties` holds `property`s, which need
///   `name` and `value`.
/// - Times are decimal seconds. The schema also allows thousands separators; GitLab reads a
///   float, so only `digits[.digits]` passes here.
///
/// Stricter than the schema, for what CI servers show: counts are non-negative integers and
/// agree with what the element holds (a suite's `tests`, `failures`, `errors`, `skipped`; the
/// root's totals), and the document is well-formed XML 1.0.
mod junit_schema {
    use quick_xml::Reader;
    use quick_xml::events::{BytesStart, Event};

    struct Rule {
        element: &'static str,
        required: &'static [&'static str],
        optional: &'static [&'static str],
        children: &'static [&'static str],
        text: bool,
    }

    const RERUN: &[&str] = &["stackTrace", "system-out", "system-err"];

    const RULES: &[Rule] = &[
        Rule {
            element: "testsuites",
            required: &[],
            optional: &["name", "time", "tests", "failures", "errors"],
            children: &["testsuite"],
            text: false,
        },
        Rule {
            element: "testsuite",
            required: &["name", "tests", "failures", "errors"],
            optional: &["group", "time", "skipped", "timestamp", "hostname", "id", "package", "file", "log", "url"],
            children: &["testsuite", "properties", "testcase", "system-out", "system-err"],
            text: false,
        },
        Rule {
            element: "testcase",
            required: &["name"],
            optional: &["time", "classname", "group"],
            children: &[
                "skipped",
                "error",
                "failure",
                "rerunFailure",
                "rerunError",
                "flakyFailure",
                "flakyError",
                "system-out",
                "system-err",
            ],
            text: false,
        },
        Rule { element: "failure", required: &[], optional: &["type", "message"], children: &[], text: true },
        Rule { element: "error", required: &[], optional: &["type", "message"], children: &[], text: true },
        Rule { element: "skipped", required: &[], optional: &["type", "message"], children: &[], text: true },
        Rule { element: "rerunFailure", required: &["type"], optional: &["message"], children: RERUN, text: true },
        Rule { element: "rerunError", required: &["type"], optional: &["message"], children: RERUN, text: true },
        Rule { element: "flakyFailure", required: &["type"], optional: &["message"], children: RERUN, text: true },
        Rule { element: "flakyError", required: &["type"], optional: &["message"], children: RERUN, text: true },
        Rule { element: "stackTrace", required: &[], optional: &[], children: &[], text: true },
        Rule { element: "system-out", required: &[], optional: &[], children: &[], text: true },
        Rule { element: "system-err", required: &[], optional: &[], children: &[], text: true },
        Rule { element: "properties", required: &[], optional: &[], children: &["property"], text: false },
        Rule { element: "property", required: &["name", "value"], optional: &[], children: &[], text: false },
    ];

    const COUNTS: &[&str] = &["tests", "failures", "errors", "skipped"];

    /// An open element: its name, attributes, and what it holds so far.
    struct Open {
        name: String,
        attributes: Vec<(String, String)>,
        /// Per `COUNTS`: for a suite, its testcases and their outcomes; for the root, the sums
        /// its suites declare.
        held: [u64; 4],
    }

    impl Open {
        fn attribute(&self, name: &str) -> Option<&str> {
            self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
        }
    }

    fn xml_char(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
    }

    fn time(value: &str) -> bool {
        let (whole, fraction) = value.split_once('.').unwrap_or((value, "0"));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        digits(whole) && digits(fraction)
    }

    fn open(e: &BytesStart, problems: &mut Vec<String>) -> Open {
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let mut attributes = Vec::new();
        for a in e.attributes() {
            match a {
                Ok(a) => {
                    let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                    match a.unescape_value() {
                        Ok(v) => attributes.push((key, v.into_owned())),
                        Err(err) => problems.push(format!("not well-formed: `{name}` attribute `{key}`: {err}")),
                    }
                }
                Err(err) => problems.push(format!("not well-formed: `{name}`: {err}")),
            }
        }
        Open { name, attributes, held: [0; 4] }
    }

    /// Checks an element's own attributes and its place in its parent.
    fn check_start(el: &Open, parent: Option<&Open>, problems: &mut Vec<String>) {
        let Some(rule) = RULES.iter().find(|r| r.element == el.name) else {
            problems.push(format!("`{}` is not a JUnit element", el.name));
            return;
        };
        match parent {
            None if !matches!(el.name.as_str(), "testsuites" | "testsuite") => {
                problems.push(format!("the root is `{}`, not `testsuites` or `testsuite`", el.name))
            }
            None => {}
            Some(p) => {
                let allowed = RULES.iter().find(|r| r.element == p.name).is_some_and(|r| r.children.contains(&el.name.as_str()));
                if !allowed {
                    problems.push(format!("`{}` inside `{}`", el.name, p.name));
                }
            }
        }
        for required in rule.required {
            if el.attribute(required).is_none() {
                problems.push(format!("`{}` lacks the required attribute `{required}`", el.name));
            }
        }
        for (name, value) in &el.attributes {
            if !rule.required.contains(&name.as_str()) && !rule.optional.contains(&name.as_str()) {
                problems.push(format!("`{}` has an attribute `{name}` the schema does not declare", el.name));
            }
            if value.chars().any(|c| !xml_char(c)) {
                problems.push(format!("`{}` attribute `{name}` holds a character XML 1.0 cannot carry", el.name));
            }
            if name == "time" && !time(value) {
                problems.push(format!("`{}` has `time=\"{value}\"`, not decimal seconds", el.name));
            }
            let counted = matches!(el.name.as_str(), "testsuite" | "testsuites") && COUNTS.contains(&name.as_str());
            if counted && value.parse::<u64>().is_err() {
                problems.push(format!("`{}` has `{name}=\"{value}\"`, which is not a count", el.name));
            }
        }
    }

    /// At an element's end: a suite's counts agree with its testcases, the root's with its suites.
    fn check_end(el: &Open, problems: &mut Vec<String>) {
        let what = match el.name.as_str() {
            "testsuite" => "testcases",
            "testsuites" => "suites",
            _ => return,
        };
        for (i, count) in COUNTS.iter().enumerate() {
            let Some(said) = el.attribute(count).and_then(|v| v.parse::<u64>().ok()) else { continue };
            if said != el.held[i] {
                let holds = if what == "suites" { "its suites hold" } else { "holds" };
                problems.push(format!(
                    "`{}` {} says {count}=\"{said}\" but {holds} {}",
                    el.name,
                    el.attribute("name").unwrap_or_default(),
                    el.held[i]
                ));
            }
        }
    }

    /// Everything in `xml` that the rules above refuse; empty when it follows them.
    pub fn violations(xml: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let mut reader = Reader::from_str(xml);
        let mut stack: Vec<Open> = Vec::new();
        let mut root_seen = false;
        loop {
            let event = match reader.read_event() {
                Ok(e) => e,
                Err(e) => {
                    problems.push(format!("not well-formed at byte {}: {e}", reader.buffer_position()));
                    return problems;
                }
            };
            match event {
                Event::Start(e) | Event::Empty(e) if stack.is_empty() && root_seen => {
                    problems.push(format!("a second root element `{}`", String::from_utf8_lossy(e.name().as_ref())));
                }
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let el = open(e, &mut problems);
                    check_start(&el, stack.last(), &mut problems);
                    root_seen = true;
                    if let Event::Start(_) = event {
                        stack.push(el);
                    } else {
                        finish(el, &mut stack, &mut problems);
                    }
                }
                Event::End(_) => match stack.pop() {
                    Some(el) => finish(el, &mut stack, &mut problems),
                    None => problems.push("not well-formed: an end tag without a start".into()),
                },
                Event::Text(t) => {
                    let text = String::from_utf8_lossy(t.as_ref()).into_owned();
                    text_in(&text, stack.last(), &mut problems);
                }
                Event::CData(t) => {
                    let text = String::from_utf8_lossy(t.as_ref()).into_owned();
                    text_in(&text, stack.last(), &mut problems);
                }
                Event::GeneralRef(r) => {
                    let name = String::from_utf8_lossy(r.as_ref()).into_owned();
                    let known = matches!(name.as_str(), "amp" | "lt" | "gt" | "quot" | "apos");
                    match r.resolve_char_ref() {
                        Ok(Some(c)) if !xml_char(c) => problems.push(format!("`&{name};` is a character XML 1.0 cannot carry")),
                        Ok(Some(_)) => {}
                        Ok(None) if known => {}
                        Ok(None) => problems.push(format!("not well-formed: the entity `&{name};` is not defined")),
                        Err(e) => problems.push(format!("not well-formed: `&{name};`: {e}")),
                    }
                    text_in("&", stack.last(), &mut problems);
                }
                Event::Eof => break,
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            }
        }
        if !stack.is_empty() {
            let open: Vec<&str> = stack.iter().map(|e| e.name.as_str()).collect();
            problems.push(format!("not well-formed: `{}` never closed", open.join("`, `")));
        }
        if !root_seen {
            problems.push("not well-formed: no root element".into());
        }
        problems
    }

    fn text_in(text: &str, parent: Option<&Open>, problems: &mut Vec<String>) {
        if text.chars().any(|c| !xml_char(c)) {
            problems.push("text holds a character XML 1.0 cannot carry".into());
        }
        if text.trim().is_empty() {
            return;
        }
        match parent {
            Some(p) if RULES.iter().any(|r| r.element == p.name && r.text) => {}
            Some(p) => problems.push(format!("text inside `{}`, which holds elements only", p.name)),
            None => problems.push("text outside the root element".into()),
        }
    }

    /// Closes `el`: checks its counts and adds it to its parent's.
    fn finish(el: Open, stack: &mut [Open], problems: &mut Vec<String>) {
        check_end(&el, problems);
        let Some(parent) = stack.last_mut() else { return };
        match (parent.name.as_str(), el.name.as_str()) {
            ("testsuite", "testcase") => {
                parent.held[0] += 1;
                // A testcase counts once per outcome (failure, error, skipped), however many
                // elements say it.
                for i in 1..COUNTS.len() {
                    if el.held[i] > 0 {
                        parent.held[i] += 1;
                    }
                }
            }
            ("testcase", "failure") => parent.held[1] += 1,
            ("testcase", "error") => parent.held[2] += 1,
            ("testcase", "skipped") => parent.held[3] += 1,
            ("testsuites", "testsuite") | ("testsuite", "testsuite") => {
                for (i, count) in COUNTS.iter().enumerate() {
                    parent.held[i] += el.attribute(count).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                }
            }
            _ => {}
        }
    }
}

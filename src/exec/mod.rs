//! The executor: runs a scenario's steps against a cluster into a [`ScenarioReport`].

pub(crate) mod apply;
pub(crate) mod call;
pub(crate) mod compare;
mod deadline;
mod diagnostics;
mod error;
pub mod event;
pub(crate) mod get;
pub(crate) mod include;
pub(crate) mod jwt;
mod kubeconfig;
pub(crate) mod kubectl;
pub mod ledger;
pub(crate) mod logs;
pub(crate) mod object;
pub mod observe;
pub(crate) mod pod_exec;
pub(crate) mod request;
pub mod resources;
pub(crate) mod restart;
pub mod result;
mod retry;
pub(crate) mod secret_token;
pub(crate) mod signing_key;
pub(crate) mod token;
pub mod upgrade;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use serde_saphyr::Spanned;

use crate::cluster::Cluster;
use crate::redact;
use crate::scenario::assertion::{Assertion, Mismatch};
use crate::scenario::step::Captures;
use crate::scenario::{Scenario, Step, template};
use deadline::Deadline;
pub use error::StepError;
use event::{Event, Events};
use ledger::Ledger;
use result::{Failure, Phase, Position, RunOutcome, ScenarioReport, StepRecord, Stopped, Verdict};

/// How scenarios are run.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// Leave the namespace and objects in place, for debugging.
    pub keep: bool,
    /// For steps without their own `timeout`.
    pub default_timeout: Duration,
    /// Where the run's events go (a reporter), as they happen.
    pub events: Events,
    /// How many times a failed scenario runs again (`--retries`); one that then passes is flaky.
    pub retries: u32,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions { keep: false, default_timeout: Duration::from_secs(30), events: Events::default(), retries: 0 }
    }
}

/// How often a long step says what it is waiting for.
const STILL_RUNNING_EVERY: Duration = Duration::from_secs(10);

/// What a step produced: the document its assertions read, a one-line summary, and the
/// assertions its shortcut fields (`status`, `exit`, `same`) stand for.
pub(crate) struct StepOutput {
    pub doc: Value,
    pub summary: String,
    pub implied: Vec<Assertion>,
}

impl StepOutput {
    pub fn new(doc: Value, summary: impl Into<String>) -> Self {
        let mut doc = doc;
        redact::redact_json(&mut doc);
        StepOutput { doc, summary: redact::redact(&summary.into()), implied: Vec::new() }
    }

    pub fn implying(mut self, a: Assertion) -> Self {
        self.implied.push(a);
        self
    }
}

/// The state of one scenario run.
pub(crate) struct Run<'a> {
    /// The cluster the running step runs on (`main` between steps).
    pub cluster: &'a Cluster,
    pub scenario: &'a Scenario,
    /// The run's namespace: the same name on every cluster of the scenario.
    pub namespace: String,
    pub run_id: String,
    pub vars: template::Vars,
    /// Saved tokens by name, from any cluster, for use on any. Never printed.
    pub tokens: BTreeMap<String, String>,
    /// The ledger of the running step's cluster.
    pub ledger: Arc<Ledger>,
    /// Every cluster of the scenario, `main` first, each with its own ledger.
    pub members: Vec<RunCluster<'a>>,
    /// When the running step must be done (before the first step: the run's default from the
    /// namespace's creation).
    pub deadline: Deadline,
    /// The file the running step is written in: a step file for an included step.
    pub step_file: std::path::PathBuf,
    /// The release the cluster runs now: its own until an `upgrade`. Steps' and assertions'
    /// `versions` are judged against it, and `${release}` says it.
    pub release: crate::version::KubeVersion,
    /// The releases the run has been on, once an `upgrade` ran (the report's `path`).
    pub path: Vec<String>,
    /// The paths of the `upgrade` steps still to run, each release installed (see `upgrade::plan`).
    pub upgrade_paths: std::collections::VecDeque<Vec<crate::cluster::local::Installation>>,
}

/// One cluster of a run: its name in the scenario, the connection, and what the run created on it.
pub(crate) struct RunCluster<'a> {
    pub name: String,
    pub cluster: &'a Cluster,
    pub ledger: Arc<Ledger>,
}

/// The clusters one scenario runs on, by name, `main` first (see [`crate::federation::MAIN`]).
pub type Clusters = [(String, Arc<Cluster>)];

impl<'a> Run<'a> {
    /// Steps from now on run on cluster `name` (`None`: main).
    fn enter(&mut self, name: Option<&str>) -> Result<(), StepError> {
        let name = name.unwrap_or(crate::federation::MAIN);
        let member = self.members.iter().find(|m| m.name == name).ok_or_else(|| StepError::Undefined {
            message: format!("no cluster `{name}` in this run (its clusters: {})", self.member_names()),
        })?;
        (self.cluster, self.ledger) = (member.cluster, member.ledger.clone());
        Ok(())
    }

    fn member_names(&self) -> String {
        self.members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl Run<'_> {
    /// A location inside the running step.
    pub fn pos_of(&self, loc: &serde_saphyr::Location) -> crate::scenario::SourcePos {
        crate::scenario::SourcePos { file: self.step_file.clone(), line: loc.line(), column: loc.column() }
    }

    /// Renders `${…}` in a string.
    pub fn render(&self, text: &str) -> Result<String, StepError> {
        Ok(template::render(text, &self.vars)?)
    }

    /// A step's `namespace`, rendered; the scenario's own when the step names none.
    pub fn namespace_or_own(&self, namespace: Option<&str>) -> Result<String, StepError> {
        namespace.map_or_else(|| Ok(self.namespace.clone()), |ns| self.render(ns))
    }

    pub fn render_json(&self, value: &Value) -> Result<Value, StepError> {
        Ok(template::render_json(value, &self.vars)?)
    }

    pub fn token(&self, name: &str) -> Result<&str, StepError> {
        self.tokens.get(name).map(String::as_str).ok_or_else(|| StepError::Undefined { message: format!("no token is saved as `{name}`") })
    }

    /// The run goes on on another release (after an `upgrade`).
    pub fn set_release(&mut self, release: crate::version::KubeVersion) {
        if self.path.is_empty() {
            self.path.push(self.release.to_string());
        }
        self.path.push(release.to_string());
        self.release = release;
        self.vars.insert("release".to_string(), Value::String(release.to_string()));
    }

    /// The local cluster kubeproof started for this scenario, which `keyword` steps change.
    pub fn local_cluster(&self, keyword: &str) -> Result<Arc<crate::cluster::local::LocalCluster>, StepError> {
        match &self.cluster.origin {
            crate::cluster::Origin::Local(local) => Ok(local.clone()),
            _ => Err(StepError::invalid(format!(
                "`{keyword}` changes the cluster: it runs only on a local cluster kubeproof starts for the scenario (--local), not on {}",
                self.cluster.label
            ))),
        }
    }

    pub fn save_token(&mut self, name: &str, token: String) {
        redact::remember(&token);
        self.tokens.insert(name.to_string(), token);
    }
}

/// Runs one scenario on one cluster. Never panics on user input; every failure is in the report.
///
/// The stages: applicability, the run's namespace (`open_run`), the steps (`run_steps`, each
/// `run_one_step`), the `finally` steps (whatever happened to the steps), what the run
/// observed, and the cleanup (`clean_up`). Every failure carries diagnostics.
pub async fn execute(cluster: &Cluster, scenario: &Scenario, opts: &ExecOptions) -> ScenarioReport {
    execute_named(vec![(crate::federation::MAIN, cluster)], scenario, opts).await
}

/// [`execute`] on the clusters of a scenario that runs on several (`main` first, as the pool
/// gave them): each step on the one it names.
pub async fn execute_on(clusters: &Clusters, scenario: &Scenario, opts: &ExecOptions) -> ScenarioReport {
    execute_named(clusters.iter().map(|(name, cluster)| (name.as_str(), cluster.as_ref())).collect(), scenario, opts).await
}

async fn execute_named(members: Vec<(&str, &Cluster)>, scenario: &Scenario, opts: &ExecOptions) -> ScenarioReport {
    let started = Instant::now();
    let cluster = members[0].1;
    let mut report = blank_report(cluster, scenario);
    let missing: Vec<&str> = scenario.spec.clusters.keys().map(String::as_str).filter(|n| !members.iter().any(|(m, _)| m == n)).collect();
    // The release first: a scenario not for it gets no clusters beside its own either.
    let reason = match (not_applicable(cluster, scenario).await, missing.as_slice()) {
        (Some(reason), _) => Some(reason),
        (None, []) => None,
        (None, names) => Some(format!(
            "runs on clusters {} beside its own: map each to a context (--context {}=CONTEXT), or run it with --local",
            names.join(", "),
            names[0]
        )),
    };
    if let Some(reason) = reason {
        report.verdict = Verdict::NotApplicable;
        report.reason = Some(reason);
        opts.events.emit(Event::ScenarioFinished { report: report.clone() });
        return report;
    }
    report.other_clusters = members[1..]
        .iter()
        .map(|(name, c)| result::OtherCluster { name: name.to_string(), cluster: c.label.clone(), server_version: c.git_version.clone() })
        .collect();
    opts.events.emit(Event::ScenarioStarted { scenario: scenario.name.clone(), cluster: cluster.label.clone() });
    let mut run = open_run(members, scenario, opts);
    report.namespace = Some(run.namespace.clone());
    let planned = plan_upgrades(&mut run).await;
    // The setup's own time starts here: planning may have built a release on the upgrade path.
    run.deadline = Deadline::after(opts.default_timeout);
    match planned.and(Ok(())) {
        Err(failure) => add_failure(&mut report, failure),
        Ok(()) => match create_namespaces(&mut run).await {
            Err(e) => {
                let error = StepError::other(format!("cannot create namespace {}: {e}", run.namespace));
                fail_outside_steps(&run, &mut report, Phase::Setup, error).await;
            }
            Ok(()) => {
                run_steps(&mut run, &mut report, (Phase::Step, &scenario.spec.steps), opts).await;
                run_steps(&mut run, &mut report, (Phase::Finally, &scenario.spec.finally), opts).await;
            }
        },
    }
    if report.verdict == Verdict::Passed {
        // The run's namespace is `NS` there: a value the matrix compares across runs and releases.
        let observed = scenario.spec.observe.iter().find_map(|o| run.render(o).ok());
        report.observed = observed.map(|s| redact::redact(&s.replace(&run.namespace, "NS")));
    }
    clean_up(&run, &mut report, opts).await;
    report.path = run.path.clone();
    report.elapsed = started.elapsed();
    opts.events.emit(Event::ScenarioFinished { report: report.clone() });
    report
}

/// The `upgrade` steps' paths, every release on them installed before the first step: a path that
/// cannot be taken (a downgrade, a release that cannot be installed) fails the scenario at that
/// step before anything ran.
async fn plan_upgrades(run: &mut Run<'_>) -> Result<(), Failure> {
    let Some(first) = run.scenario.spec.steps.iter().chain(&run.scenario.spec.finally).position(|s| matches!(s.value, Step::Upgrade(_)))
    else {
        return Ok(());
    };
    let (scenario, from) = (run.scenario.clone(), run.release);
    let nodes = matches!(&run.cluster.origin, crate::cluster::Origin::Local(l) if l.node.is_some());
    let planned = tokio::task::spawn_blocking(move || upgrade::plan(&scenario, from, nodes)).await;
    let failed = |position: Position, message: String| Failure {
        phase: Phase::Setup,
        step: Some(first),
        position,
        keyword: "upgrade".into(),
        error: StepError::invalid(message),
        diagnostics: None,
        included_from: Vec::new(),
    };
    match planned {
        Ok(Ok(paths)) => {
            run.upgrade_paths = paths.into();
            Ok(())
        }
        Ok(Err(e)) => Err(failed(e.at.clone().into(), e.to_string())),
        Err(e) => Err(failed(Position::file(&run.scenario.path), e.to_string())),
    }
}

/// A passing report with nothing in it yet.
pub(crate) fn blank_report(cluster: &Cluster, scenario: &Scenario) -> ScenarioReport {
    ScenarioReport {
        scenario: scenario.name.clone(),
        file: scenario.path.clone(),
        cluster: cluster.label.clone(),
        server_version: cluster.git_version.clone(),
        kubectl: cluster.kubectl.display().to_string(),
        verdict: Verdict::Passed,
        reason: None,
        failure: None,
        later_failures: Vec::new(),
        earlier_attempts: Vec::new(),
        steps: Vec::new(),
        observed: None,
        namespace: None,
        left: Vec::new(),
        elapsed: Duration::ZERO,
        path: Vec::new(),
        other_clusters: Vec::new(),
    }
}

/// A failure of the setup or the cleanup: the whole scenario's, at its file.
async fn fail_outside_steps(run: &Run<'_>, report: &mut ScenarioReport, phase: Phase, error: StepError) {
    let keyword = match phase {
        Phase::Cleanup => "cleanup",
        _ => "setup",
    };
    let diagnostics = Some(diagnostics::collect(run, None, report.failure.is_none()).await);
    let position = Position::file(&report.file);
    let failure =
        Failure { phase, step: None, position, keyword: keyword.into(), error: error.redacted(), diagnostics, included_from: Vec::new() };
    add_failure(report, failure);
}

/// The first failure decides the verdict; later ones (of `finally` steps) are added to it.
fn add_failure(report: &mut ScenarioReport, failure: Failure) {
    report.verdict = Verdict::Failed;
    match report.failure {
        None => report.failure = Some(failure),
        Some(_) => report.later_failures.push(failure),
    }
}

/// The run's state: a fresh namespace name, its ledger, the built-in variables.
fn open_run<'a>(members: Vec<(&str, &'a Cluster)>, scenario: &'a Scenario, opts: &ExecOptions) -> Run<'a> {
    let run_id = crate::random::suffix(8);
    let namespace = namespace_name(&scenario.name, &run_id);
    let members: Vec<RunCluster<'a>> = members
        .into_iter()
        .map(|(name, cluster)| RunCluster {
            name: name.to_string(),
            cluster,
            ledger: Ledger::open(cluster.client.clone(), &cluster.label, namespace.clone()),
        })
        .collect();
    let (cluster, ledger) = (members[0].cluster, members[0].ledger.clone());
    let mut vars = template::Vars::from([
        ("namespace".to_string(), Value::String(namespace.clone())),
        ("scenario".to_string(), Value::String(scenario.name.clone())),
        // The cluster's release (`1.37.2`), e.g. for the node's image `kubeproof.local/tools:v${release}`.
        ("release".to_string(), Value::String(cluster.version.to_string())),
    ]);
    // A case's values are variables from the start, with their JSON types.
    vars.extend(scenario.case.iter().flat_map(|c| c.vars.clone()));
    Run {
        cluster,
        scenario,
        namespace,
        run_id,
        vars,
        tokens: BTreeMap::new(),
        ledger,
        members,
        deadline: Deadline::after(opts.default_timeout),
        step_file: scenario.path.clone(),
        release: cluster.version,
        path: Vec::new(),
        upgrade_paths: Default::default(),
    }
}

/// The run's namespace on each of its clusters, one after another; then main is the current one.
async fn create_namespaces(run: &mut Run<'_>) -> Result<(), String> {
    for index in 0..run.members.len() {
        let name = run.members[index].name.clone();
        run.enter(Some(&name)).map_err(|e| e.to_string())?;
        apply::create_namespace(run).await.map_err(|e| if run.members.len() > 1 { format!("on cluster {name}: {e}") } else { e })?;
    }
    run.enter(None).map_err(|e| e.to_string())
}

/// The steps of a phase in order, each recorded as it finishes, a failure with the cluster's
/// diagnostics. The first failure ends the `steps`; every `finally` step runs, whatever failed
/// before it (a failure of one is added to the report's failures).
async fn run_steps(run: &mut Run<'_>, report: &mut ScenarioReport, (phase, steps): (Phase, &[Spanned<Step>]), opts: &ExecOptions) {
    let (scenario, cluster) = (run.scenario, run.cluster);
    for (index, step) in steps.iter().enumerate() {
        match run_one_step(run, phase, index, step, opts).await {
            Ok(record) => {
                opts.events.emit(Event::StepFinished {
                    scenario: scenario.name.clone(),
                    cluster: cluster.label.clone(),
                    step: record.clone(),
                });
                report.steps.push(record);
            }
            Err(mut failure) => {
                failure.diagnostics = Some(diagnostics::collect(run, Some(&step.value), report.failure.is_none()).await);
                add_failure(report, failure);
                if phase == Phase::Step {
                    break;
                }
            }
        }
    }
}

/// One step: skipped on other releases, else run within its time limit (saying what it waits
/// for on long waits), then its assertions and captures.
async fn run_one_step(
    run: &mut Run<'_>,
    phase: Phase,
    index: usize,
    step: &Spanned<Step>,
    opts: &ExecOptions,
) -> Result<StepRecord, Failure> {
    let (scenario, cluster) = (run.scenario, run.cluster);
    let pos = scenario.pos_in(step, &step.referenced);
    run.step_file = pos.file.clone();
    let included_from: Vec<Position> = scenario.included_from(step).iter().cloned().map(Position::from).collect();
    let step = &step.value;
    let started = Instant::now();
    let record = |summary: String, skipped: bool| StepRecord {
        phase,
        index,
        line: pos.line,
        file: (!included_from.is_empty()).then(|| pos.file.clone()),
        keyword: step.keyword().into(),
        summary,
        skipped,
        elapsed: if skipped { Duration::ZERO } else { started.elapsed() },
    };
    if let Some(range) = step.versions().filter(|r| !r.contains(&run.release)) {
        return Ok(record(format!("skipped: only on {range}"), true));
    }
    let on = step.cluster().filter(|name| *name != crate::federation::MAIN);
    // The step's summary says which cluster it ran on, when not the run's own.
    let record =
        |summary: String, skipped: bool| record(on.map_or_else(|| summary.clone(), |name| format!("on {name}: {summary}")), skipped);
    let fail = |error: StepError, pos: &crate::scenario::SourcePos, included_from: Vec<Position>| Failure {
        phase,
        step: Some(index),
        position: failure_position(&pos.file, step, &error).unwrap_or_else(|| pos.clone().into()),
        keyword: step.keyword().into(),
        error: error.redacted(),
        diagnostics: None,
        included_from,
    };
    if let Err(error) = run.enter(step.cluster()) {
        return Err(fail(error, &pos, included_from));
    }
    run.deadline = Deadline::of(step, opts.default_timeout);
    let deadline = run.deadline;
    let waiting_for = describe(step, run);
    let still_running = |elapsed: Duration| {
        opts.events.emit(Event::StillRunning {
            scenario: scenario.name.clone(),
            cluster: cluster.label.clone(),
            phase,
            step: index,
            keyword: step.keyword().into(),
            waiting_for: waiting_for.clone(),
            elapsed_ms: elapsed.as_millis() as u64,
        })
    };
    let work = tokio::time::timeout_at(deadline.at(), run_step(run, step));
    let outcome = match with_heartbeat(work, STILL_RUNNING_EVERY, still_running).await {
        Ok(r) => r,
        Err(_) => Err(deadline.timed_out(waiting_for, None)),
    };
    match outcome.and_then(|out| check(run, step, out)) {
        Ok(summary) => Ok(record(summary, false)),
        Err(error) => Err(fail(error, &pos, included_from)),
    }
}

/// The run's objects deleted within the budget, on every cluster of the run at once (or kept,
/// with `--keep`); what could not be deleted fails a passing scenario.
async fn clean_up(run: &Run<'_>, report: &mut ScenarioReport, opts: &ExecOptions) {
    let several = run.members.len() > 1;
    // Objects named with their cluster when the run has several.
    let on = |name: &str, what: String| if several { format!("{what} on {name}") } else { what };
    if opts.keep {
        let objects = run.members.iter().flat_map(|m| m.ledger.describe().into_iter().map(|o| on(&m.name, o))).collect();
        opts.events.emit(Event::Kept { scenario: run.scenario.name.clone(), namespace: run.namespace.clone(), objects });
        run.members.iter().for_each(|m| m.ledger.forget());
        return;
    }
    let each = run.members.iter().map(|m| async move {
        let (per_delete, budget) = ledger::AFTER_RUN;
        let problems = match tokio::time::timeout(budget, m.ledger.clean_up(per_delete)).await {
            Ok(problems) => problems,
            Err(_) => {
                m.ledger.forget();
                m.ledger.remaining().into_iter().map(|what| format!("left {what}")).collect()
            }
        };
        problems.into_iter().map(|p| on(&m.name, p)).collect::<Vec<_>>()
    });
    let problems: Vec<String> = futures::future::join_all(each).await.into_iter().flatten().collect();
    if !problems.is_empty() && report.verdict == Verdict::Passed {
        let error = StepError::other(format!("cleanup failed: {}", problems.join("; ")));
        fail_outside_steps(run, report, Phase::Cleanup, error).await;
    }
    report.left = problems;
}

/// Runs `work`, calling `beat` with the time so far every `every` until it is done.
async fn with_heartbeat<F: std::future::Future>(work: F, every: Duration, beat: impl Fn(Duration)) -> F::Output {
    let started = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval_at(started + every, every);
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = ticker.tick() => beat(started.elapsed()),
        }
    }
}

/// Why a scenario cannot run on this cluster, if it cannot.
///
/// The flags and nodes a scenario requires are the profile of a local cluster, which says what
/// it runs with. A kubeconfig context's flags cannot be seen; its nodes can: it needs that many
/// Ready nodes.
async fn not_applicable(cluster: &Cluster, scenario: &Scenario) -> Option<String> {
    if let Some(range) = &scenario.spec.versions
        && !range.contains(&cluster.version)
    {
        return Some(format!("applies to {range}; the cluster runs {}", cluster.version));
    }
    if let Some(step) = scenario.changes_cluster()
        && !matches!(cluster.origin, crate::cluster::Origin::Local(_) | crate::cluster::Origin::Stub)
    {
        let line = scenario.pos_in(step, &step.referenced).line;
        return Some(format!(
            "`{}` (line {line}) changes the cluster itself: it runs on a local cluster kubeproof starts for it (--local), not on {}",
            step.value.keyword(),
            cluster.label
        ));
    }
    let wanted = scenario.spec.requires.profile();
    let flags = crate::profile::Profile { nodes: 0, ..wanted.clone() };
    match cluster.runs_with(&wanted) {
        _ if wanted.is_empty() => None,
        Some(true) => None,
        Some(false) => Some(format!("needs {wanted}; this cluster runs without")),
        None if !flags.is_empty() => match cluster.control_plane_flags().await {
            Some(seen) => match flags_missing(&flags, seen) {
                Some(why) => Some(why),
                None => lacks_ready_nodes(cluster, wanted.nodes).await,
            },
            // Not static pods it may read (a managed control plane, no right to list kube-system).
            None => Some(format!("needs {flags}; kubeproof cannot see the flags of context {} (run it with --local)", cluster.label)),
        },
        None => lacks_ready_nodes(cluster, wanted.nodes).await,
    }
}

/// The first flag of `wanted` that a context's control plane (`seen`, its command lines) does not
/// run with: `needs --x=y, the cluster has --x=z` (or has no `--x`).
fn flags_missing(wanted: &crate::profile::Profile, seen: &crate::profile::Profile) -> Option<String> {
    for (component, flags) in wanted.components() {
        let running = seen.of(component);
        for flag in flags {
            if running.contains(flag) {
                continue;
            }
            let name = flag.split('=').next().unwrap_or(flag);
            let has = running.iter().filter(|f| f.split('=').next() == Some(name)).cloned().collect::<Vec<_>>();
            let binary = component.binary();
            return Some(match has.as_slice() {
                [] => format!("needs {binary} {flag}; the cluster's {binary} runs without {name}"),
                _ => format!("needs {binary} {flag}; the cluster's has {}", has.join(" ")),
            });
        }
    }
    None
}

/// How long listing a context's nodes may take before a scenario needing them is not applicable.
const NODES_LIST_LIMIT: Duration = Duration::from_secs(10);

/// Whether a cluster lacks `wanted` Ready nodes, said with how many it has.
async fn lacks_ready_nodes(cluster: &Cluster, wanted: u32) -> Option<String> {
    use k8s_openapi::api::core::v1::Node;
    let needs = match wanted {
        1 => "needs 1 Ready node".to_string(),
        n => format!("needs {n} Ready nodes"),
    };
    let nodes: kube::Api<Node> = kube::Api::all(cluster.client.clone());
    let list = match tokio::time::timeout(NODES_LIST_LIMIT, nodes.list(&Default::default())).await {
        Ok(Ok(list)) => list,
        Ok(Err(e)) => return Some(format!("{needs}; cannot list the nodes of {}: {}", cluster.label, object::api_error(&e))),
        Err(_) => {
            let limit = NODES_LIST_LIMIT.as_secs();
            return Some(format!("{needs}; the nodes of {} could not be listed within {limit}s", cluster.label));
        }
    };
    let ready = list.items.iter().filter(|n| is_ready(n)).count();
    (ready < wanted as usize).then(|| format!("{needs}; {} has {ready} of {} nodes Ready", cluster.label, list.items.len()))
}

/// A node whose `Ready` condition is `True`.
fn is_ready(node: &k8s_openapi::api::core::v1::Node) -> bool {
    let conditions = node.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.into_iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True")
}

async fn run_step(run: &mut Run<'_>, step: &Step) -> Result<StepOutput, StepError> {
    match step {
        Step::ServiceAccount(s) => apply::service_account(run, s).await,
        Step::Apply(s) => apply::apply(run, s).await,
        Step::Delete(s) => object::delete(run, s).await,
        Step::Absent(s) => object::absent(run, s).await,
        Step::Unchanged(s) => object::unchanged(run, s).await,
        Step::Token(s) => token::token(run, s).await,
        Step::SecretToken(s) => secret_token::secret_token(run, s).await,
        Step::Call(s) => call::call(run, s).await,
        Step::Jwt(s) => jwt::jwt(run, s).await,
        Step::CompareTokens(s) => compare::compare(run, s),
        Step::Get(s) => get::get(run, s, false).await,
        Step::Wait(s) => get::get(run, s, true).await,
        Step::Kubectl(s) => kubectl::kubectl(run, s).await,
        Step::Exec(s) => pod_exec::exec(run, s).await,
        Step::Logs(s) => logs::logs(run, s).await,
        Step::Include(s) => include::include(run, s),
        Step::Upgrade(s) => upgrade::upgrade(run, s).await,
        Step::Restart(s) => restart::restart(run, s).await,
        Step::SigningKey(s) => signing_key::signing_key(run, s).await,
    }
}

/// Checks the step's assertions (those for this release) and takes its captures.
fn check(run: &mut Run<'_>, step: &Step, out: StepOutput) -> Result<String, StepError> {
    let (assertions, captures) = step.checks();
    let mismatches = evaluate(run, located(run, &out.implied, assertions), &out.doc)?;
    if !mismatches.is_empty() {
        return Err(StepError::Mismatch { mismatches, summary: out.summary });
    }
    if let Some(captures) = captures {
        take_captures(run, captures, &out.doc)?;
    }
    Ok(out.summary)
}

/// A step's assertions with where each is written: first those its shortcut fields imply
/// (located by the step), then its own.
pub(crate) fn located<'a>(
    run: &'a Run<'_>,
    implied: &'a [Assertion],
    written: &'a [Spanned<Assertion>],
) -> impl Iterator<Item = (&'a Assertion, Option<Position>)> + 'a {
    let written = written.iter().map(|a| (&a.value, Some(run.pos_of(&a.referenced).into())));
    implied.iter().map(|a| (a, None)).chain(written)
}

/// The mismatches among `assertions` that apply to the cluster's release, each located at its
/// assertion.
pub(crate) fn evaluate<'a>(
    run: &Run<'_>,
    assertions: impl Iterator<Item = (&'a Assertion, Option<Position>)>,
    doc: &Value,
) -> Result<Vec<Mismatch>, StepError> {
    mismatches(assertions, doc, &run.release, &run.vars)
}

/// [`evaluate`] without a run: the release and the variables `${…}` in expected values read.
fn mismatches<'a>(
    assertions: impl Iterator<Item = (&'a Assertion, Option<Position>)>,
    doc: &Value,
    version: &crate::version::KubeVersion,
    vars: &template::Vars,
) -> Result<Vec<Mismatch>, StepError> {
    // An expected value is redacted as the document it is compared with was: a token written
    // in it (a case's value, a parameter) is compared, and shown, as its fingerprint — whole,
    // before a message cuts it short.
    let render = |v: Value| {
        let mut v = template::render_json(&v, vars)?;
        redact::redact_json(&mut v);
        Ok::<_, StepError>(v)
    };
    let mut out = Vec::new();
    for (a, position) in assertions {
        if a.versions.as_ref().is_some_and(|r| !r.contains(version)) {
            continue;
        }
        let mut a = a.clone();
        for value in a.expected_values_mut() {
            *value = value.take().map(render).transpose()?;
        }
        if a.path_is_template() {
            let rendered = template::render(a.path.as_str(), vars)?;
            a.with_rendered_path(&rendered)?;
        }
        if let Err(m) = a.check(doc) {
            out.push(m.at(position));
        }
    }
    Ok(out)
}

fn take_captures(run: &mut Run<'_>, captures: &Captures, doc: &Value) -> Result<(), StepError> {
    for (name, capture) in captures {
        let value = capture.value.take(doc).map_err(|e| StepError::Capture { name: name.clone(), message: e.to_string() })?;
        run.vars.insert(name.clone(), value);
    }
    Ok(())
}

/// Where a failed step went wrong, when that is finer than the step: the first assertion that
/// did not hold, or the capture that failed.
fn failure_position(file: &std::path::Path, step: &Step, error: &StepError) -> Option<Position> {
    match error {
        StepError::Mismatch { mismatches, .. } => mismatches.iter().find_map(|m| m.position.clone()),
        StepError::Capture { name, .. } => step.checks().1?.get(name).map(|c| {
            crate::scenario::SourcePos { file: file.to_path_buf(), line: c.referenced.line(), column: c.referenced.column() }.into()
        }),
        _ => None,
    }
}

/// What a step is doing, for a timeout message and still-running events; each kind says it in
/// its own file.
fn describe(step: &Step, run: &Run<'_>) -> String {
    let r = |s: &str| run.render(s).unwrap_or_else(|_| s.to_string());
    match step {
        Step::ServiceAccount(s) => apply::describe_service_account(s, r),
        Step::Apply(s) => apply::describe(s),
        Step::Delete(s) => object::describe(s, crate::scenario::step::object::Watch::Delete, r),
        Step::Absent(s) => object::describe(s, crate::scenario::step::object::Watch::Absent, r),
        Step::Unchanged(s) => object::describe(s, crate::scenario::step::object::Watch::Unchanged, r),
        Step::Token(s) => token::describe(s, r),
        Step::SecretToken(s) => secret_token::describe(s, r),
        Step::Call(s) => call::describe(s, r),
        Step::Jwt(s) => jwt::describe(s),
        Step::CompareTokens(s) => compare::describe(s),
        Step::Get(s) => get::describe(s, false, r),
        Step::Wait(s) => get::describe(s, true, r),
        Step::Kubectl(s) => kubectl::describe(s),
        Step::Exec(s) => pod_exec::describe(s, r),
        Step::Logs(s) => logs::describe(s, r),
        Step::Include(s) => include::describe(s),
        Step::Upgrade(s) => upgrade::describe(s),
        Step::Restart(s) => restart::describe(s),
        Step::SigningKey(s) => signing_key::describe(s),
    }
}

/// `kp-<scenario>-<id>`, at most 63 characters, a valid DNS label.
fn namespace_name(scenario: &str, run_id: &str) -> String {
    let slug: String = scenario.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let slug = slug.trim_matches('-');
    let max = 63 - 4 - run_id.len();
    let slug: String = slug.chars().take(max).collect();
    format!("kp-{}-{run_id}", slug.trim_end_matches('-'))
}

/// An object as a step's document: its JSON without `metadata.managedFields`, which only the
/// server's bookkeeping reads.
pub(crate) fn object_document(obj: &impl serde::Serialize) -> Result<Value, String> {
    let mut value = serde_json::to_value(obj).map_err(|e| e.to_string())?;
    request::strip_managed_fields(&mut value);
    Ok(value)
}

/// A response body as a document: its JSON, or its text as a string when it is not JSON.
pub(crate) fn body_document(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Builds an implied assertion (what `status`, `exit` or `same` stand for). Its path, one of a
/// few constants, is parsed once per process.
pub(crate) fn expect_equal(path: &'static str, value: Value) -> Assertion {
    use std::sync::{Mutex, OnceLock};

    use crate::scenario::parsed::Parsed;
    type Cache = Mutex<BTreeMap<&'static str, Parsed<serde_json_path::JsonPath>>>;
    static PARSED: OnceLock<Cache> = OnceLock::new();
    let cached =
        PARSED.get_or_init(Default::default).lock().map(|mut cache| cache.entry(path).or_insert_with(|| Parsed::new(path)).clone());
    let path = cached.unwrap_or_else(|_| Parsed::new(path));
    Assertion { path, equals: Some(value), ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_ASSERTIONS: &str = "description: d
steps:
  - get:
      kind: ConfigMap
      name: cm
      expect:
        - {path: $.data.a, equals: '1'}
        - path: $.data.b
          equals: ${want}
      capture:
        missing: $.data.c
";

    #[test]
    fn implied_assertions_check_what_their_shortcut_says() {
        let status = expect_equal("$.status", serde_json::json!(201));
        assert!(status.path.problem().is_none());
        assert!(status.check(&serde_json::json!({"status": 201})).is_ok());
        let miss = expect_equal("$.status", serde_json::json!(201)).check(&serde_json::json!({"status": 403})).unwrap_err();
        assert_eq!((miss.path.as_str(), miss.observed.as_str()), ("$.status", "403"));
    }

    #[test]
    fn documents_drop_managed_fields_and_keep_bodies_that_are_not_json() {
        let obj = serde_json::json!({"metadata": {"name": "a", "managedFields": [{"manager": "x"}]}, "data": {}});
        assert_eq!(object_document(&obj).unwrap(), serde_json::json!({"metadata": {"name": "a"}, "data": {}}));
        assert_eq!(body_document(br#"{"kind": "Status"}"#), serde_json::json!({"kind": "Status"}));
        assert_eq!(body_document(b"404 page not found"), serde_json::json!("404 page not found"));
    }

    #[test]
    fn a_mismatch_points_at_its_own_assertion() {
        let scenario = Scenario::parse(std::path::Path::new("s.yaml"), TWO_ASSERTIONS).unwrap();
        let step = &scenario.spec.steps[0].value;
        let written: Vec<(&Assertion, Option<Position>)> =
            step.checks().0.iter().map(|a| (&a.value, Some(scenario.pos_of(&a.referenced).into()))).collect();
        let doc = serde_json::json!({"data": {"a": "1", "b": "2"}});
        let version: crate::version::KubeVersion = "1.30.0".parse().unwrap();
        let vars = template::Vars::from([("want".to_string(), Value::from("3"))]);
        let found = mismatches(written.into_iter(), &doc, &version, &vars).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].expected.as_str(), found[0].observed.as_str()), ("\"3\"", "\"2\""));
        let at = found[0].position.clone().unwrap();
        assert_eq!((at.line, at.column), (Some(8), Some(11)), "the second assertion, not the step (line 3)");
        let error = StepError::Mismatch { mismatches: found, summary: String::new() };
        assert_eq!(failure_position(&scenario.path, step, &error).and_then(|p| p.line), Some(8));
        let capture = StepError::Capture { name: "missing".into(), message: String::new() };
        assert_eq!(failure_position(&scenario.path, step, &capture).and_then(|p| p.line), Some(11));
        assert_eq!(failure_position(&scenario.path, step, &StepError::other("x")), None, "the step's own position then");
    }

    #[test]
    fn namespaces_are_dns_labels() {
        let ns = namespace_name("Legacy Secret: not regenerated (1.24+) and a very long name that goes on", "abcdefgh");
        assert!(ns.len() <= 63, "{ns}");
        assert!(ns.starts_with("kp-legacy-secret"));
        assert!(ns.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        assert!(ns.ends_with("-abcdefgh"));
    }
}

/// One scenario on the pool's cluster for it.
async fn run_on_pool(pool: &crate::cluster::pool::Pool, s: &Scenario, opts: &ExecOptions) -> ScenarioReport {
    match pool.clusters_for(&s.requirement()).await {
        Ok(held) => execute_on(&held.clusters, s, opts).await,
        Err(crate::cluster::ClusterError::Unsuited(why)) => {
            let mut report = blank_report(pool.base(), s);
            report.verdict = Verdict::NotApplicable;
            report.reason = Some(why);
            opts.events.emit(Event::ScenarioFinished { report: report.clone() });
            report
        }
        // This machine cannot run the node the scenario needs: not applicable here, unless
        // nodes are required (CI), where it is a failure like any cluster that cannot start.
        Err(crate::cluster::ClusterError::NoNode(why)) if !crate::cluster::local::node::required() => {
            let mut report = blank_report(pool.base(), s);
            report.verdict = Verdict::NotApplicable;
            report.reason = Some(why.to_string());
            opts.events.emit(Event::ScenarioFinished { report: report.clone() });
            report
        }
        Err(e) => {
            let report = unusable(pool.base(), s, e.to_string());
            opts.events.emit(Event::ScenarioFinished { report: report.clone() });
            report
        }
    }
}

/// Runs scenarios on a pool, `jobs` at a time; reports come back in the scenarios' order.
///
/// The run stops early, keeping the reports of the scenarios that finished, when a cluster of
/// the pool dies (no further scenario starts; the error names what died) or a signal arrives
/// (what the running scenarios created is deleted within a budget; a second signal cuts that
/// short and the outcome names what was left).
pub async fn run_all(pool: &crate::cluster::pool::Pool, scenarios: &[Scenario], opts: &ExecOptions, jobs: usize) -> RunOutcome {
    use futures::StreamExt;
    let runs = scenarios.iter().map(|s| async move {
        let mut report = run_on_pool(pool, s, opts).await;
        let mut earlier = Vec::new();
        // A failed scenario runs again, as a whole, up to `retries` times; not when its cluster
        // could not be had (a retry cannot help) or a signal is stopping the run.
        while earlier.len() < opts.retries as usize
            && report.verdict == Verdict::Failed
            && report.failure.as_ref().is_some_and(|f| f.phase != Phase::Cluster)
            && crate::interrupt::received().is_none()
        {
            earlier.extend(report.failure.take());
            report = run_on_pool(pool, s, opts).await;
        }
        report.earlier_attempts = earlier;
        pool.finished(&s.requirement());
        report
    });
    // Boxed, not pinned on the stack: dropping it below must really drop the running scenarios.
    let mut runs = Box::pin(futures::stream::iter(runs).buffered(jobs.max(1)));
    let mut reports = Vec::new();
    // What scenarios stopped by a dead cluster could not delete.
    let mut left = Vec::new();
    let died = pool.died();
    let mut died = std::pin::pin!(died);
    let stopped = loop {
        tokio::select! {
            next = runs.next() => match next {
                // A failure may be the cluster's: while it is checked, no scenario advances.
                Some(report) if report.verdict == Verdict::Failed => match pool.confirm_alive().await {
                    Ok(()) => reports.push(report),
                    Err(dead) => {
                        left.extend(report.left);
                        break Some(Stopped::ClusterDied(dead.to_string()));
                    }
                },
                Some(report) => reports.push(report),
                None => break None,
            },
            dead = &mut died => break Some(Stopped::ClusterDied(dead.to_string())),
            signal = crate::interrupt::first() => break Some(Stopped::Interrupted { signal, left: Vec::new() }),
        }
    };
    // Dropping the stream stops the scenarios still running; their ledgers stay registered.
    drop(runs);
    let stopped = match stopped {
        Some(Stopped::Interrupted { signal, .. }) => Some(Stopped::Interrupted { signal, left: ledger::clean_up_after_signal().await }),
        Some(Stopped::ClusterDied(dead)) => {
            // Nothing can be deleted on a dead cluster: a local one takes its objects with it;
            // on a context, the outcome names what is left.
            let labels: Vec<String> = pool.clusters().iter().map(|c| c.label.clone()).collect();
            left.extend(ledger::left_behind_on(&labels));
            ledger::forget_on(&labels);
            if pool.is_local() {
                left.clear();
            }
            Some(Stopped::ClusterDied(if left.is_empty() { dead } else { format!("{dead}\n{}", left.join("\n")) }))
        }
        None => None,
    };
    RunOutcome { reports, stopped }
}

/// The report of a scenario whose cluster could not be had.
pub fn unusable(cluster: &Cluster, scenario: &Scenario, error: String) -> ScenarioReport {
    let failure = Failure {
        phase: Phase::Cluster,
        step: None,
        position: Position::file(&scenario.path),
        keyword: "cluster".into(),
        error: StepError::other(error).redacted(),
        diagnostics: None,
        included_from: Vec::new(),
    };
    ScenarioReport { verdict: Verdict::Failed, failure: Some(failure), ..blank_report(cluster, scenario) }
}

#[cfg(test)]
mod heartbeat_tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_long_step_says_it_is_still_running() {
        let beats = AtomicU32::new(0);
        let work = async {
            tokio::time::sleep(Duration::from_secs(35)).await;
            7
        };
        let out = with_heartbeat(work, STILL_RUNNING_EVERY, |_| {
            beats.fetch_add(1, Ordering::SeqCst);
        })
        .await;
        assert_eq!(out, 7);
        assert_eq!(beats.load(Ordering::SeqCst), 3, "at 10 s, 20 s and 30 s");
    }
}

#[cfg(test)]
mod context_flags_tests {
    use crate::profile::Profile;

    #[test]
    fn a_context_lacks_a_flag_it_runs_otherwise_or_not_at_all() {
        let seen =
            Profile { apiserver: vec!["--service-account-extend-token-expiration=true".into(), "--v=2".into()], ..Profile::default() };
        let wanted = |f: &str| Profile { apiserver: vec![f.into()], ..Profile::default() };
        assert_eq!(super::flags_missing(&wanted("--v=2"), &seen), None);
        assert_eq!(
            super::flags_missing(&wanted("--service-account-extend-token-expiration=false"), &seen).as_deref(),
            Some(
                "needs kube-apiserver --service-account-extend-token-expiration=false; the cluster's has --service-account-extend-token-expiration=true"
            )
        );
        let absent = super::flags_missing(&wanted("--service-account-lookup=false"), &seen).unwrap();
        assert!(absent.ends_with("runs without --service-account-lookup"), "{absent}");
    }
}

//! The result model: what a run of scenarios produced, as plain data. The engine fills it;
//! reporters (text, JSON, JUnit, GitHub, the matrix) read it and never run anything.

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::StepError;
use crate::exit_code::ExitCode;
pub use crate::scenario::Position;

/// How one scenario went on one cluster.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Passed,
    Failed,
    /// The scenario does not apply to this cluster (release range or required flags).
    NotApplicable,
}

/// One step as it ran.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StepRecord {
    /// `step` for the scenario's `steps`, `finally` for its `finally` steps; `index` counts
    /// from 0 in each list.
    #[serde(default = "Phase::steps")]
    pub phase: Phase,
    pub index: usize,
    pub line: u64,
    /// The file `line` is in, when it is not the scenario's: an included step's step file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    pub keyword: String,
    /// What happened, tokens shown only as sha256 prefixes.
    pub summary: String,
    /// Skipped because of the step's `versions`.
    pub skipped: bool,
    /// Milliseconds.
    #[serde(with = "millis")]
    #[schemars(with = "u64")]
    pub elapsed: Duration,
}

/// Where and why a scenario failed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Failure {
    /// Which part of the scenario's run failed.
    pub phase: Phase,
    /// The step's index (from 0) in `steps`, or in `finally` for a `finally` step's failure.
    pub step: Option<usize>,
    /// Where in the scenario file: the step, or the file itself.
    pub position: Position,
    /// The step's kind (`call`, `wait` …), or the phase's name.
    pub keyword: String,
    /// What went wrong, as data; reporters render it.
    pub error: StepError,
    /// What the cluster looked like right after the failure (redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Diagnostics>,
    /// For a step of a step file: the `include` steps that brought it in, innermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_from: Vec<Position>,
}

/// The parts of a scenario's run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Getting the cluster the scenario needs (a flag profile that could not start).
    Cluster,
    /// Creating the scenario's namespace.
    Setup,
    /// One of the scenario's steps.
    Step,
    /// One of the scenario's `finally` steps, which run after the steps whatever happened.
    Finally,
    /// Deleting what the scenario created.
    Cleanup,
}

impl Phase {
    /// The phase of a step record written before `phase` was recorded: a main step.
    fn steps() -> Phase {
        Phase::Step
    }
}

/// What kubeproof collected from the cluster when a failure happened, within a few seconds,
/// every string redacted. What could not be collected is said in `problems`; collecting never
/// fails a scenario.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Diagnostics {
    /// The last events of the scenario's namespace, oldest first; absent when they could not
    /// be read (see `problems`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventLine>>,
    /// How many earlier events of the namespace are not shown.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub earlier_events: usize,
    /// The objects the failing step named, as the server has them now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectState>,
    /// The last lines of each control-plane component's log (local clusters only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<ComponentLog>,
    /// What could not be collected, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One core/v1 Event.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct EventLine {
    /// When it last happened (RFC 3339), if the event says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    pub reason: String,
    /// The object it is about: `Pod/web-0`.
    pub object: String,
    pub message: String,
    /// How many times it happened, when more than once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
}

/// An object a failing step named.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ObjectState {
    /// `ConfigMap settings in kp-…`, `ClusterRole kp-reader`.
    pub object: String,
    /// The object as the server has it, without `managedFields`; a Secret's data values are
    /// left out (its keys stay). Absent when it does not exist or could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<serde_json::Value>,
    /// `not found`, or why it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The end of one component's log.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct ComponentLog {
    /// `etcd`, `kube-apiserver`, `kube-controller-manager`, `kube-scheduler`.
    pub component: String,
    pub lines: Vec<String>,
}

/// One scenario on one cluster.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScenarioReport {
    pub scenario: String,
    pub file: PathBuf,
    pub cluster: String,
    /// What the cluster's `/version` reports.
    pub server_version: String,
    /// The kubectl its `kubectl` steps ran: the server's release's own, unless the user named one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kubectl: String,
    pub verdict: Verdict,
    /// Why a scenario is not applicable.
    pub reason: Option<String>,
    /// The first failure: it decides the verdict.
    pub failure: Option<Failure>,
    /// Failures after the first: `finally` steps that failed too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub later_failures: Vec<Failure>,
    /// With `--retries`: the failure of each attempt before this one, first to last. A scenario
    /// that passed with any is flaky.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_attempts: Vec<Failure>,
    /// The steps that passed or were skipped, then the `finally` steps that did.
    pub steps: Vec<StepRecord>,
    /// The scenario's `observe` value, for the behaviour matrix.
    pub observed: Option<String>,
    pub namespace: Option<String>,
    /// What the cleanup could not delete, named for the user to delete by hand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<String>,
    /// Milliseconds.
    #[serde(with = "millis")]
    #[schemars(with = "u64")]
    pub elapsed: Duration,
    /// For a scenario that upgraded its cluster: the releases it ran on, first to last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
    /// For a scenario on several clusters: the others (`cluster` is `main`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_clusters: Vec<OtherCluster>,
}

/// One of a scenario's other clusters, as the report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OtherCluster {
    /// Its name in the scenario (`clusters:`).
    pub name: String,
    /// The cluster: a local release and the name, or a context.
    pub cluster: String,
    /// What its `/version` reports.
    pub server_version: String,
}

impl ScenarioReport {
    /// Where it ran, as reports say it: the cluster, or the upgrade path (`1.23.17 → 1.24.0`).
    pub fn ran_on(&self) -> String {
        match self.path.is_empty() {
            true => self.cluster.clone(),
            false => self.path.join(" → "),
        }
    }

    /// Passed, after failing at least once (`--retries`).
    pub fn is_flaky(&self) -> bool {
        self.verdict == Verdict::Passed && !self.earlier_attempts.is_empty()
    }
}

/// Durations as whole milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// How a run of many scenarios ended.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunOutcome {
    /// The reports of every scenario that finished, in the scenarios' order.
    pub reports: Vec<ScenarioReport>,
    /// Why the run stopped before every scenario finished.
    pub stopped: Option<Stopped>,
}

impl RunOutcome {
    /// How this run ends kubeproof: a signal, then a dead cluster (or one that could not be
    /// started for a scenario's flags), then a failed scenario.
    pub fn exit_code(&self) -> ExitCode {
        match &self.stopped {
            Some(Stopped::Interrupted { signal, .. }) => ExitCode::Signalled(*signal),
            Some(Stopped::ClusterDied(_)) => ExitCode::Cluster,
            None if self.reports.iter().any(|r| r.failure.as_ref().is_some_and(|f| f.phase == Phase::Cluster)) => ExitCode::Cluster,
            None if self.reports.iter().any(|r| r.verdict == Verdict::Failed) => ExitCode::Failed,
            None => ExitCode::Ok,
        }
    }
}

/// Why a run stopped early.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Stopped {
    /// A cluster died: what died, with the end of its log on local clusters.
    ClusterDied(String),
    /// A signal arrived; `left` names what could not be deleted in time.
    Interrupted { signal: crate::interrupt::Signal, left: Vec<String> },
}

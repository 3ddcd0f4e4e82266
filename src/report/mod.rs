//! The result model every reporter reads, and the reporters: text, JSON, JUnit, matrix.

pub mod document;
pub mod github;
pub mod junit;
pub mod matrix;
pub mod output;
pub mod terminal;
pub mod text;

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::exec::StepError;

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
    pub index: usize,
    pub line: u64,
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
    /// The step's index (from 0), for a step's failure.
    pub step: Option<usize>,
    /// Where in the scenario file: the step, or the file itself.
    pub position: Position,
    /// The step's kind (`call`, `wait` …), or the phase's name.
    pub keyword: String,
    /// What went wrong, as data; reporters render it.
    pub error: StepError,
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
    /// Deleting what the scenario created.
    Cleanup,
}

/// A place in a scenario file; without a line, the file as a whole.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct Position {
    pub file: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
}

impl Position {
    pub fn file(file: &std::path::Path) -> Position {
        Position { file: file.to_path_buf(), line: None, column: None }
    }
}

impl From<crate::scenario::SourcePos> for Position {
    fn from(p: crate::scenario::SourcePos) -> Position {
        Position { file: p.file, line: Some(p.line), column: Some(p.column) }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        Ok(())
    }
}

/// One scenario on one cluster.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScenarioReport {
    pub scenario: String,
    pub file: PathBuf,
    pub cluster: String,
    /// What the cluster's `/version` reports.
    pub server_version: String,
    pub verdict: Verdict,
    /// Why a scenario is not applicable.
    pub reason: Option<String>,
    pub failure: Option<Failure>,
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

/// Why a run stopped early.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Stopped {
    /// A cluster died: what died, with the end of its log on local clusters.
    ClusterDied(String),
    /// A signal arrived; `left` names what could not be deleted in time.
    Interrupted { signal: crate::interrupt::Signal, left: Vec<String> },
}

/// Counts for the closing line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub not_applicable: usize,
}

impl Tally {
    pub fn of(reports: &[ScenarioReport]) -> Tally {
        let mut t = Tally::default();
        for r in reports {
            match r.verdict {
                Verdict::Passed => t.passed += 1,
                Verdict::Failed => t.failed += 1,
                Verdict::NotApplicable => t.not_applicable += 1,
            }
        }
        t
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} passed, {} failed, {} skipped", self.passed, self.failed, self.not_applicable)
    }
}

//! What the engine tells its reporters as a run goes. The engine never prints: the terminal, CI
//! annotations and anything else that wants to follow a run subscribe to these events and
//! render them. Every field is part of that interface.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::result::{Phase, ScenarioReport, StepRecord};

/// One thing that happened during a run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A scenario started on a cluster.
    ScenarioStarted { scenario: String, cluster: String },
    /// A step of a running scenario finished: passed, or skipped for its `versions`. (A failed
    /// step's failure is in `ScenarioFinished`.)
    StepFinished { scenario: String, cluster: String, step: StepRecord },
    /// A step (of the `steps`, or of `finally`: its `phase`) has been running for a while:
    /// what it is waiting for, so a long wait is not a silent one.
    StillRunning { scenario: String, cluster: String, phase: Phase, step: usize, keyword: String, waiting_for: String, elapsed_ms: u64 },
    /// A scenario finished, with its whole report.
    ScenarioFinished { report: ScenarioReport },
    /// `--keep`: a scenario's namespace and objects were left in place.
    Kept { scenario: String, namespace: String, objects: Vec<String> },
}

/// Where a run's events go: one subscriber's callback, or nowhere.
#[derive(Clone, Default)]
pub struct Events(Option<Arc<dyn Fn(&Event) + Send + Sync>>);

impl Events {
    /// Events handed to `subscriber`, from whichever task emits them.
    pub fn to(subscriber: impl Fn(&Event) + Send + Sync + 'static) -> Events {
        Events(Some(Arc::new(subscriber)))
    }

    pub fn emit(&self, event: Event) {
        if let Some(subscriber) = &self.0 {
            subscriber(&event);
        }
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Events(subscribed)" } else { "Events(none)" })
    }
}

//! What the engine tells its reporters as a run goes. The engine never prints: the terminal, CI
//! annotations and anything else that wants to follow a run subscribe to these events and
//! render them. Every field is part of that interface.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::result::{Phase, ScenarioReport, StepRecord};

/// One thing that happened during a run.
// Built once each and handed on by reference: the size of a finished report costs nothing.
#[allow(clippy::large_enum_variant)]
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

/// One subscriber: called with every event, from whichever task emits it.
pub type Subscriber = Arc<dyn Fn(&Event) + Send + Sync>;

/// Where a run's events go: to every subscriber, in the order they subscribed, or nowhere.
#[derive(Clone, Default)]
pub struct Events(Vec<Subscriber>);

impl Events {
    /// Events handed to `subscriber`, from whichever task emits them.
    pub fn to(subscriber: impl Fn(&Event) + Send + Sync + 'static) -> Events {
        Events::default().and(subscriber)
    }

    /// These events handed to `subscriber` too.
    pub fn and(mut self, subscriber: impl Fn(&Event) + Send + Sync + 'static) -> Events {
        self.0.push(Arc::new(subscriber));
        self
    }

    /// Every subscriber of `other` too.
    pub fn with(mut self, other: Events) -> Events {
        self.0.extend(other.0);
        self
    }

    pub fn emit(&self, event: Event) {
        for subscriber in &self.0 {
            subscriber(&event);
        }
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Events({} subscriber(s))", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn every_subscriber_sees_every_event_in_order() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (a, b) = (seen.clone(), seen.clone());
        let events = Events::to(move |e| a.lock().unwrap().push(format!("a:{}", kind(e))))
            .with(Events::to(move |e| b.lock().unwrap().push(format!("b:{}", kind(e)))));
        events.emit(Event::ScenarioStarted { scenario: "s".into(), cluster: "c".into() });
        events.emit(Event::Kept { scenario: "s".into(), namespace: "n".into(), objects: Vec::new() });
        assert_eq!(*seen.lock().unwrap(), ["a:scenario-started", "b:scenario-started", "a:kept", "b:kept"]);
        Events::default().emit(Event::ScenarioStarted { scenario: "s".into(), cluster: "c".into() });
    }

    fn kind(e: &Event) -> String {
        serde_json::to_value(e).unwrap()["event"].as_str().unwrap().to_string()
    }
}

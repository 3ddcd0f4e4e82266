//! A step's deadline: worked out once, when the step starts, from its own `timeout` or the run's
//! default (`--timeout`), and carried in the run context. The step is cut short at it, and every
//! wait inside the step — an `eventually`, a watch — reads the same value and says first what it
//! last saw (a wait polled at the same instant as the step's limit answers before it).

use std::time::Duration;

use tokio::time::Instant;

use super::StepError;
use crate::scenario::Step;

/// An `upgrade`'s limit when it sets none: every component of every hop restarted and usable.
const UPGRADE: Duration = Duration::from_secs(300);
/// A `restart`'s or `signing-key`'s limit when it sets none.
const RESTART: Duration = Duration::from_secs(120);

/// When the running step must be done.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    started: Instant,
    limit: Duration,
}

impl Deadline {
    /// From now: `limit`.
    pub fn after(limit: Duration) -> Deadline {
        Deadline { started: Instant::now(), limit }
    }

    /// A step's deadline from now: its own `timeout` or `default`; for `absent` and `unchanged`
    /// the watch window comes on top (watching is their purpose, not a wait). Steps that change
    /// the cluster have longer defaults of their own: restarts and builds of components are not
    /// what `--timeout` is set for.
    pub fn of(step: &Step, default: Duration) -> Deadline {
        let mut limit = step.timeout().map(|t| t.0).unwrap_or(default);
        let window = match step {
            Step::Absent(o) | Step::Unchanged(o) => o.window,
            Step::Upgrade(s) => {
                limit = s.timeout.map_or(UPGRADE, |t| t.0);
                None
            }
            Step::Restart(_) | Step::SigningKey(_) => {
                limit = step.timeout().map_or(RESTART, |t| t.0);
                None
            }
            Step::ServiceAccount(_)
            | Step::Apply(_)
            | Step::Delete(_)
            | Step::Token(_)
            | Step::SecretToken(_)
            | Step::Call(_)
            | Step::Jwt(_)
            | Step::CompareTokens(_)
            | Step::Get(_)
            | Step::Wait(_)
            | Step::Kubectl(_)
            | Step::Exec(_)
            | Step::Logs(_)
            | Step::Include(_) => None,
        };
        Deadline::after(limit.saturating_add(window.map(|w| w.0).unwrap_or_default()))
    }

    pub fn at(&self) -> Instant {
        self.started + self.limit
    }

    /// Whether `pause` from now ends past the deadline.
    pub fn passed_after(&self, pause: Duration) -> bool {
        Instant::now() + pause >= self.at()
    }

    /// The step's timeout: how long it waited (at most its limit: the step is cut there), what
    /// it was waiting for, and what it last saw.
    pub fn timed_out(&self, waiting_for: String, last_seen: Option<String>) -> StepError {
        let waited = self.started.elapsed().min(self.limit);
        StepError::Timeout { after_ms: waited.as_millis() as u64, waiting_for, last_seen }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_wait_reports_at_the_deadline_and_names_what_it_waited_for() {
        let deadline = Deadline::after(Duration::from_secs(2));
        assert!(!deadline.passed_after(Duration::from_millis(250)));
        tokio::time::advance(Duration::from_millis(1800)).await;
        assert!(deadline.passed_after(Duration::from_millis(250)), "the next pause would end past it");
        let StepError::Timeout { after_ms, waiting_for, .. } = deadline.timed_out("x to be as expected".into(), None) else { panic!() };
        assert_eq!((after_ms, waiting_for.as_str()), (1800, "x to be as expected"));
    }

    #[test]
    fn a_watch_window_comes_on_top_of_the_time_limit() {
        let text = "description: d\nsteps:\n  - unchanged: {kind: Pod, name: p, for: 5s, timeout: 2s}\n  - get: {kind: Pod, name: p}\n";
        let scenario = crate::scenario::Scenario::parse(std::path::Path::new("s.yaml"), text).unwrap();
        let [unchanged, get] = [0, 1].map(|i| &scenario.spec.steps[i].value);
        assert_eq!(Deadline::of(unchanged, Duration::from_secs(30)).limit, Duration::from_secs(7));
        assert_eq!(Deadline::of(get, Duration::from_secs(30)).limit, Duration::from_secs(30));
    }
}

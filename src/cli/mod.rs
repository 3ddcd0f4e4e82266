//! The command line: thin adapters from arguments to the library.

pub mod cluster;
pub mod matrix;
pub mod run;

use kubeproof::cluster::ClusterError;
use kubeproof::interrupt::Signal;
use kubeproof::report::{Phase, RunOutcome, Stopped, Verdict};

/// Documented exit codes (docs/cli.md): every path out of kubeproof ends in one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything ran and passed.
    Ok,
    /// A scenario failed.
    Failed,
    /// Bad input: a scenario file or an argument is wrong. Nothing was run.
    BadInput,
    /// No usable cluster: unreachable, refused, could not be built or started, or died mid-run.
    Cluster,
    /// Stopped by Ctrl-C, SIGTERM or SIGHUP, after cleaning up: 128 + the signal's number.
    Signalled(Signal),
}

impl ExitCode {
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Ok => 0,
            ExitCode::Failed => 1,
            ExitCode::BadInput => 2,
            ExitCode::Cluster => 3,
            ExitCode::Signalled(signal) => signal.exit_code(),
        }
    }

    /// The graver of two codes: a signal, then no cluster, then bad input, then a failure.
    pub fn max_with(self, other: ExitCode) -> ExitCode {
        let rank = |c: ExitCode| match c {
            ExitCode::Ok => 0,
            ExitCode::Failed => 1,
            ExitCode::BadInput => 2,
            ExitCode::Cluster => 3,
            ExitCode::Signalled(_) => 4,
        };
        if rank(other) > rank(self) { other } else { self }
    }

    /// The exit code of a cluster that could not be had: bad input or no usable cluster.
    pub fn of_cluster(e: &ClusterError) -> ExitCode {
        if e.exit_code() == ExitCode::BadInput.code() { ExitCode::BadInput } else { ExitCode::Cluster }
    }

    /// A run's exit code, from how it ended — the one place that decides it.
    pub fn of(outcome: &RunOutcome) -> ExitCode {
        match &outcome.stopped {
            Some(Stopped::Interrupted { signal, .. }) => ExitCode::Signalled(*signal),
            Some(Stopped::ClusterDied(_)) => ExitCode::Cluster,
            // A cluster a scenario needed (a flag profile) could not be started.
            None if outcome.reports.iter().any(|r| r.failure.as_ref().is_some_and(|f| f.phase == Phase::Cluster)) => ExitCode::Cluster,
            None if outcome.reports.iter().any(|r| r.verdict == Verdict::Failed) => ExitCode::Failed,
            None => ExitCode::Ok,
        }
    }
}
